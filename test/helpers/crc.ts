/**
 * A reflected CRC-32, one bit at a time, straight from its polynomial: the reference for checksums in tests.
 * 0xEDB88320 is CRC-32 (ISO-HDLC: PNG chunks, zlib); 0x82F63B78 is CRC-32C (Castagnoli: TensorBoard records).
 */
export function bitwiseCrc32(bytes: Uint8Array, polynomial: number): number {
  let crc = 0xffffffff;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ polynomial : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
