import { describe, it, expect } from 'vitest';
import { parseIdx } from '../src/data/idx.js';
import { MnistDpError } from '../src/errors.js';
import { idxBytes } from './helpers/idx.js';

/** Asserts that parsing throws a BAD_DATA error whose message names the file and contains `parts`. */
function expectBadData(bytes: Uint8Array, ...parts: string[]): void {
  let error: unknown;
  try {
    parseIdx(bytes, 'some/file-idx');
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(MnistDpError);
  const { code, message } = error as MnistDpError;
  expect(code).toBe('BAD_DATA');
  expect(message).toContain('some/file-idx');
  expect(message).not.toContain('\n');
  for (const part of parts) expect(message).toContain(part);
}

describe('parseIdx', () => {
  it('reads the dims and returns the payload as a view over the input', () => {
    const bytes = idxBytes([2, 3, 2], [...Array(12).keys()]);
    const { dims, data } = parseIdx(bytes, 'x');
    expect(dims).toEqual([2, 3, 2]);
    expect(Array.from(data)).toEqual([...Array(12).keys()]);
    expect(data.buffer).toBe(bytes.buffer);
    expect(data.byteOffset).toBe(16);
  });

  it('reads a 1-D labels file and dims above 255 in big-endian order', () => {
    const { dims, data } = parseIdx(idxBytes([300], new Uint8Array(300).fill(7)), 'x');
    expect(dims).toEqual([300]);
    expect(data.length).toBe(300);
  });

  it('rejects a payload shorter than the product of the dims as truncated', () => {
    expectBadData(idxBytes([2, 2, 2], [1, 2, 3, 4, 5]), 'truncated', 'expected 8 bytes of data after the header', 'found 5');
  });

  it('rejects a header cut off before all its dims', () => {
    expectBadData(idxBytes([2, 2, 2], []).subarray(0, 10), 'truncated', 'header');
    expectBadData(new Uint8Array([0, 0]), 'truncated');
  });

  it('rejects a wrong magic number and shows its bytes in hex', () => {
    expectBadData(new Uint8Array([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0]), 'not an IDX file', 'bad magic 1f 8b 08 00');
    expectBadData(idxBytes([1], [0], 0x07), 'not an IDX file', 'bad magic 00 00 07 01');
    expectBadData(new Uint8Array([0, 0, 8, 0]), 'not an IDX file', 'bad magic 00 00 08 00');
  });

  it('rejects valid but unsupported element types such as float32', () => {
    expectBadData(idxBytes([1], [0, 0, 0, 0], 0x0d), 'unsupported element type 0x0d', 'float32');
    expectBadData(idxBytes([1], [0], 0x09), 'unsupported element type 0x09');
  });

  it('rejects bytes after the end of the data', () => {
    expectBadData(idxBytes([2, 2], [1, 2, 3, 4, 5, 6, 7]), 'has 3 trailing bytes after the data');
  });

  it('rejects a dimension of zero', () => {
    expectBadData(idxBytes([3, 0, 28], []), 'dimension 1 is 0');
    expectBadData(idxBytes([0], []), 'dimension 0 is 0');
  });
});
