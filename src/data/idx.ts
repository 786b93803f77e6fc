import type { FileHandle } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { badData } from '../errors.js';
import { openRegularFile } from '../files.js';

/** An IDX array of unsigned bytes: `dims` (outermost first) and the row-major payload. */
export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

/**
 * The largest IDX payload mnist-dp reads (1 GiB): twice EMNIST's largest split (ByClass, 0.55 GB of
 * images), well under what the shared memory can hold. A header that declares more is refused before
 * anything is read or inflated, so a 100-byte file cannot make mnist-dp allocate gigabytes.
 */
export const MAX_IDX_BYTES = 2 ** 30;

/** IDX element types that exist but that MNIST never uses, so we do not support them. */
const OTHER_IDX_TYPES: Record<number, string> = {
  0x09: 'signed byte',
  0x0b: 'int16',
  0x0c: 'int32',
  0x0d: 'float32',
  0x0e: 'float64',
};

/** The longest IDX header we accept: the magic number and 4 dims. */
const MAX_HEADER_BYTES = 4 + 4 * 4;

const hex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');

/** What an IDX header says: the dims, the header's length and the payload bytes they need. */
interface IdxHeader {
  dims: number[];
  headerLength: number;
  payloadBytes: number;
}

/**
 * Reads the header at the start of `bytes`, or returns null when `bytes` is too short to hold all of it
 * (the caller decides whether more bytes may come). Refuses a bad magic number, an element type other
 * than unsigned bytes, a zero dimension, and a payload above `maxBytes`.
 */
function readIdxHeader(bytes: Uint8Array, file: string, maxBytes: number): IdxHeader | null {
  if (bytes.length < 4) return null;
  const type = bytes[2];
  const ndims = bytes[3];
  if (bytes[0] !== 0 || bytes[1] !== 0 || (type !== 0x08 && !(type in OTHER_IDX_TYPES)) || ndims < 1 || ndims > 4) {
    throw badData(
      file,
      `not an IDX file (bad magic ${hex(bytes.subarray(0, 4))}; expected 00 00 08 followed by 1..4 dims)`,
    );
  }
  if (type !== 0x08) {
    throw badData(
      file,
      `unsupported element type 0x${type.toString(16).padStart(2, '0')} (${OTHER_IDX_TYPES[type]}); only unsigned bytes (0x08) are supported`,
    );
  }
  const headerLength = 4 + 4 * ndims;
  if (bytes.length < headerLength) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, headerLength);
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) {
    const dim = view.getUint32(4 + 4 * i, false);
    if (dim < 1) throw badData(file, `dimension ${i} is 0; every IDX dimension must be at least 1`);
    dims.push(dim);
  }
  // At most 4 factors below 2^32 each: the float product is exact up to 2^53 and only compared beyond.
  const payloadBytes = dims.reduce((a, b) => a * b, 1);
  if (payloadBytes > maxBytes) {
    throw badData(
      file,
      `its header declares dims ${dims.join('x')} (${payloadBytes} bytes), more than the ${maxBytes} bytes mnist-dp reads; the file is damaged or not an image data set`,
    );
  }
  return { dims, headerLength, payloadBytes };
}

/** The error for a payload of `found` bytes where the header asks for `h.payloadBytes`. */
function wrongPayloadSize(file: string, h: IdxHeader, found: number): Error {
  if (found < h.payloadBytes) {
    return badData(
      file,
      `truncated: expected ${h.payloadBytes} bytes of data after the header (dims ${h.dims.join('x')}), found ${found}; re-download the file`,
    );
  }
  return badData(
    file,
    `has ${found - h.payloadBytes} trailing bytes after the data (dims ${h.dims.join('x')} need ${h.payloadBytes} bytes)`,
  );
}

/**
 * Parses an in-memory IDX file of unsigned bytes (type 0x08, 1 to 4 dims). `file` only names the source
 * in error messages. The returned `data` is a view over `bytes`, not a copy, so that the 47 MB training
 * images are never held twice. Throws a BAD_DATA `MnistDpError` on any malformed header or payload size.
 */
export function parseIdx(bytes: Uint8Array, file: string, maxBytes = MAX_IDX_BYTES): IdxArray {
  const h = readIdxHeader(bytes, file, maxBytes);
  if (h === null) {
    if (bytes.length < 4) throw badData(file, `truncated: ${bytes.length} bytes is shorter than the 4-byte IDX magic number`);
    throw badData(file, `truncated: the header of ${bytes[3]} dims needs ${4 + 4 * bytes[3]} bytes, found ${bytes.length}`);
  }
  const found = bytes.length - h.headerLength;
  if (found !== h.payloadBytes) throw wrongPayloadSize(file, h, found);
  return { dims: h.dims, data: bytes.subarray(h.headerLength) };
}

/** Reads exactly `length` bytes at `position`; fewer means the file shrank while being read. */
async function readExactly(fh: FileHandle, length: number, position: number, file: string): Promise<Buffer> {
  const out = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(out, done, length - done, position + done);
    if (bytesRead === 0) throw badData(file, `truncated: the file ended after ${position + done} bytes while it was being read`);
    done += bytesRead;
  }
  return out;
}

/** A raw file: the header is read first and the file's size checked against it before the payload is read. */
async function readRawIdx(fh: FileHandle, size: number, file: string, maxBytes: number): Promise<IdxArray> {
  const head = await readExactly(fh, Math.min(size, MAX_HEADER_BYTES), 0, file);
  const h = readIdxHeader(head, file, maxBytes);
  if (h === null) return parseIdx(head, file, maxBytes); // throws the truncation error
  const found = size - h.headerLength;
  if (found !== h.payloadBytes) throw wrongPayloadSize(file, h, found);
  return { dims: h.dims, data: await readExactly(fh, h.payloadBytes, h.headerLength, file) };
}

/**
 * Some slack past the declared payload before inflating stops: one more chunk shows the trailing bytes
 * for the message, and the cap still bounds the memory by the header, not by the stream.
 */
const INFLATE_MARGIN = 64 * 1024;

/**
 * Deflate shrinks real images about 5 times (MNIST's training images: 9.9 MB to 47 MB) and can shrink
 * zeros about 1000 times. A gzip file whose header declares more than LARGE_PAYLOAD bytes and more than
 * MAX_INFLATE_RATIO times the compressed file is refused before its payload is allocated: it can only be
 * (nearly) empty images, and accepting it would let a 1 MB file take a gigabyte.
 */
const MAX_INFLATE_RATIO = 50;
const LARGE_PAYLOAD = 64 * 2 ** 20;

/**
 * A gzip file, inflated chunk by chunk into one buffer of the size its header declares: the output can
 * never outgrow the header (plus INFLATE_MARGIN), however much the stream would inflate to, so a small
 * file that inflates to gigabytes (a "gzip bomb") is refused after at most the declared size.
 */
async function readGzipIdx(fh: FileHandle, compressedSize: number, file: string, maxBytes: number): Promise<IdxArray> {
  const gunzip = createGunzip({ chunkSize: 64 * 1024 });
  const input = fh.createReadStream({ autoClose: false, highWaterMark: 64 * 1024 });
  input.on('error', (err) => gunzip.destroy(err));
  input.pipe(gunzip);
  let head = Buffer.alloc(0);
  let h: IdxHeader | null = null;
  let out: Buffer | null = null;
  let written = 0; // bytes of the payload inflated so far (may pass the declared size by the margin)
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      let payload = chunk;
      if (h === null) {
        // The header may span chunks: gather up to its longest possible length, then read it.
        const before = head.length;
        head = Buffer.concat([head, chunk.subarray(0, MAX_HEADER_BYTES)]);
        h = readIdxHeader(head, file, maxBytes);
        if (h === null) continue;
        payload = chunk.subarray(h.headerLength - before);
        if (h.payloadBytes > LARGE_PAYLOAD && h.payloadBytes > MAX_INFLATE_RATIO * compressedSize) {
          throw badData(file, `its header declares ${h.payloadBytes} bytes (dims ${h.dims.join('x')}), ${Math.round(h.payloadBytes / compressedSize)} times the ${compressedSize} bytes of the gzip file; real image data compresses far less: the file is damaged or not an image data set`);
        }
        out = Buffer.allocUnsafe(h.payloadBytes);
      }
      const room = h.payloadBytes - written;
      if (payload.length > room) {
        written += payload.length;
        if (written - h.payloadBytes > INFLATE_MARGIN) break;
        continue;
      }
      out!.set(payload, written);
      written += payload.length;
    }
  } catch (err) {
    if ((err as { code?: string }).code === 'BAD_DATA') throw err;
    throw badData(
      file,
      `corrupt gzip stream (${(err as Error).message}); re-download the file or replace it with the uncompressed one`,
    );
  } finally {
    input.destroy();
    gunzip.destroy();
  }
  if (h === null) return parseIdx(head, file, maxBytes); // throws the truncation error
  if (written > h.payloadBytes + INFLATE_MARGIN) {
    throw badData(file, `inflates to more than the ${h.payloadBytes} bytes its header declares (dims ${h.dims.join('x')}); stopped after ${written}: the file is damaged or not what it claims to be`);
  }
  if (written !== h.payloadBytes) throw wrongPayloadSize(file, h, written);
  return { dims: h.dims, data: out! };
}

/**
 * Reads and parses an IDX file, gunzipping it first when its content starts with the gzip magic (1f 8b),
 * whatever its extension, since downloads are often renamed or served pre-decompressed. Only regular
 * files are read; the memory it takes is bounded by the size the header declares, at most `maxBytes`.
 */
export async function readIdxFile(path: string, maxBytes = MAX_IDX_BYTES): Promise<IdxArray> {
  const { fh, size } = await openRegularFile(path, badData);
  try {
    const magic = await readExactly(fh, Math.min(size, 2), 0, path);
    if (magic.length === 2 && magic[0] === 0x1f && magic[1] === 0x8b) return await readGzipIdx(fh, size, path, maxBytes);
    return await readRawIdx(fh, size, path, maxBytes);
  } finally {
    await fh.close();
  }
}
