import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { badData } from '../errors.js';

/** An IDX array of unsigned bytes: `dims` (outermost first) and the row-major payload. */
export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

/** IDX element types that exist but that MNIST never uses, so we do not support them. */
const OTHER_IDX_TYPES: Record<number, string> = {
  0x09: 'signed byte',
  0x0b: 'int16',
  0x0c: 'int32',
  0x0d: 'float32',
  0x0e: 'float64',
};

const hex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');

/**
 * Parses an in-memory IDX file of unsigned bytes (type 0x08, 1 to 4 dims). `file` only names the source
 * in error messages. The returned `data` is a view over `bytes`, not a copy, so that the 47 MB training
 * images are never held twice. Throws a BAD_DATA `MnistDpError` on any malformed header or payload size.
 */
export function parseIdx(bytes: Uint8Array, file: string): IdxArray {
  if (bytes.length < 4) {
    throw badData(file, `truncated: ${bytes.length} bytes is shorter than the 4-byte IDX magic number`);
  }
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
  if (bytes.length < headerLength) {
    throw badData(file, `truncated: the header of ${ndims} dims needs ${headerLength} bytes, found ${bytes.length}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, headerLength);
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) {
    const dim = view.getUint32(4 + 4 * i, false);
    if (dim < 1) throw badData(file, `dimension ${i} is 0; every IDX dimension must be at least 1`);
    dims.push(dim);
  }

  // A product above the payload length is reported as truncation, which also catches absurd headers.
  const expected = dims.reduce((a, b) => a * b, 1);
  const found = bytes.length - headerLength;
  if (found < expected) {
    throw badData(
      file,
      `truncated: expected ${expected} bytes of data after the header (dims ${dims.join('x')}), found ${found}; re-download the file`,
    );
  }
  if (found > expected) {
    throw badData(
      file,
      `has ${found - expected} trailing bytes after the data (dims ${dims.join('x')} need ${expected} bytes)`,
    );
  }
  return { dims, data: bytes.subarray(headerLength) };
}

/**
 * Reads and parses an IDX file, gunzipping it first when its content starts with the gzip magic (1f 8b),
 * whatever its extension, since downloads are often renamed or served pre-decompressed.
 */
export async function readIdxFile(path: string): Promise<IdxArray> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw badData(path, `cannot read the file (${reason}); check the path and its permissions`);
  }
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch (err) {
      throw badData(
        path,
        `corrupt gzip stream (${(err as Error).message}); re-download the file or replace it with the uncompressed one`,
      );
    }
  }
  return parseIdx(bytes, path);
}
