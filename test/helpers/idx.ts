/**
 * Builds the bytes of an IDX file: magic 00 00 `type` ndims, big-endian uint32 dims, then the payload
 * (unsigned bytes unless another element type is given, for the tests of what the reader refuses).
 */
export function idxBytes(dims: number[], payload: ArrayLike<number>, type = 0x08): Uint8Array {
  const bytes = new Uint8Array(4 + 4 * dims.length + payload.length);
  const view = new DataView(bytes.buffer);
  bytes.set([0, 0, type, dims.length]);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  bytes.set(payload, 4 + 4 * dims.length);
  return bytes;
}
