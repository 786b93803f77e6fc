import { crc32c } from '@aws-crypto/crc32c';

/**
 * TensorBoard event files, written to the format's specification (TensorFlow's record_writer.cc and
 * event.proto), so that `tensorboard --logdir DIR` shows a run's scalars. A file is a sequence of records:
 *
 *   u64 LE  length of data
 *   u32 LE  masked CRC32C of those 8 length bytes
 *   bytes   data: one `Event` protocol-buffer message
 *   u32 LE  masked CRC32C of data
 *
 * The first event carries `file_version = "brain.Event:2"`; each later one a wall time, a step and a
 * `Summary` of scalar values. The messages are encoded here by hand: four fields do not need protobufjs.
 */

/** TensorFlow's checksum mask: rotate right by 15 bits and add a constant (crc32c.h, `Mask`). */
export function maskedCrc32c(bytes: Uint8Array): number {
  const c = crc32c(bytes);
  return (((c >>> 15) | (c << 17)) + 0xa282ead8) >>> 0;
}

/** One record of an event file, framed as above. */
export function frameRecord(data: Uint8Array): Buffer {
  const out = Buffer.alloc(8 + 4 + data.length + 4);
  out.writeBigUInt64LE(BigInt(data.length), 0);
  out.writeUInt32LE(maskedCrc32c(out.subarray(0, 8)), 8);
  out.set(data, 12);
  out.writeUInt32LE(maskedCrc32c(data), 12 + data.length);
  return out;
}

// Protocol-buffer wire format: a key is (field number << 3) | wire type.
const VARINT = 0, FIXED64 = 1, LENGTH_DELIMITED = 2, FIXED32 = 5;
const key = (field: number, wireType: number) => (field << 3) | wireType;

function varint(n: number): number[] {
  const bytes: number[] = [];
  let v = BigInt(n);
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    bytes.push(b);
  } while (v > 0n);
  return bytes;
}

function lengthDelimited(field: number, payload: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([key(field, LENGTH_DELIMITED), ...varint(payload.length)]), payload]);
}

/** A scalar for TensorBoard's Scalars tab: `tag` such as `loss/train`, and its value (stored as float32). */
export interface Scalar {
  tag: string;
  value: number;
}

/**
 * An `Event` message: wall_time (field 1, double, seconds since 1970), step (2, int64), and either
 * file_version (3, string) or summary (5, a `Summary` whose repeated value (1) holds tag (1) and
 * simple_value (2, float)).
 */
export function encodeEvent(e: { wallTime: number; step: number; fileVersion?: string; scalars?: readonly Scalar[] }): Buffer {
  const wallTime = Buffer.alloc(9);
  wallTime[0] = key(1, FIXED64);
  wallTime.writeDoubleLE(e.wallTime, 1);
  const parts: Buffer[] = [wallTime, Buffer.from([key(2, VARINT), ...varint(e.step)])];
  if (e.fileVersion !== undefined) parts.push(lengthDelimited(3, Buffer.from(e.fileVersion, 'utf8')));
  if (e.scalars) {
    const values = e.scalars.map((s) => {
      const simpleValue = Buffer.alloc(5);
      simpleValue[0] = key(2, FIXED32);
      simpleValue.writeFloatLE(s.value, 1);
      return lengthDelimited(1, Buffer.concat([lengthDelimited(1, Buffer.from(s.tag, 'utf8')), simpleValue]));
    });
    parts.push(lengthDelimited(5, Buffer.concat(values)));
  }
  return Buffer.concat(parts);
}

/** The version string TensorBoard expects in the first event of a file. */
export const FILE_VERSION = 'brain.Event:2';
