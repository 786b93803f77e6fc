import { crc32 } from 'node:zlib';

/**
 * The fuzzers' random source and mutations: a seeded generator (each case is a function of the kind, the
 * seed and its index alone, so any failure can be replayed) and byte-level mutations shared by all input
 * kinds. The kinds' own structure-aware mutations are in targets.ts.
 */

/** mulberry32: a small, fast, seeded generator of floats in [0, 1). */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Random = () => number;

/** An integer in [0, n). */
export const below = (r: Random, n: number): number => Math.floor(r() * n);

/** One of the items. */
export const pick = <T>(r: Random, items: readonly T[]): T => items[below(r, items.length)];

/** The generator of case `index` of a run with `seed`: independent of every other case. */
export const caseRandom = (seed: number, index: number): Random => random((seed * 0x9e3779b1) ^ (index * 0x85ebca77) ^ 0x5bd1e995);

/** Numbers that break size arithmetic: zero, one, byte and word edges, sign bits. */
export const INTERESTING_U32 = [0, 1, 2, 3, 7, 28, 255, 256, 65535, 65536, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 1e6, 1e8];

/** A copy of `bytes` with 1 to 8 random byte-level changes: bit flips, set bytes, cuts, insertions, repeats. */
export function mutateBytes(bytes: Uint8Array, r: Random): Buffer {
  let b = Buffer.from(bytes);
  const edits = 1 + below(r, 8);
  for (let e = 0; e < edits; e++) {
    const at = below(r, Math.max(1, b.length));
    switch (below(r, 7)) {
      case 0: // flip a bit
        if (b.length > 0) b[at] ^= 1 << below(r, 8);
        break;
      case 1: // set a byte to an edge value
        if (b.length > 0) b[at] = pick(r, [0, 1, 0x7f, 0x80, 0xff]);
        break;
      case 2: // a 32-bit edge value, big-endian (IDX, PNG) or little-endian (msgpack floats)
        if (b.length >= at + 4) {
          const v = pick(r, INTERESTING_U32) >>> 0;
          if (r() < 0.5) b.writeUInt32BE(v, at);
          else b.writeUInt32LE(v, at);
        }
        break;
      case 3: // cut the end off
        b = b.subarray(0, at);
        break;
      case 4: // cut a piece out of the middle
        b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + below(r, 64)))]);
        break;
      case 5: // insert random bytes
        b = Buffer.concat([b.subarray(0, at), Buffer.from(Array.from({ length: 1 + below(r, 32) }, () => below(r, 256))), b.subarray(at)]);
        break;
      case 6: // repeat a piece
        b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + 1 + below(r, 256)), b.subarray(at)]);
        break;
    }
  }
  return b;
}

/** The CRC-32 of a PNG chunk's type and data (node:zlib's crc32 is Node ≥ 20.15; a table otherwise). */
export function pngCrc(typeAndData: Uint8Array): number {
  if (typeof crc32 === 'function') return crc32(typeAndData) >>> 0;
  let c = 0xffffffff;
  for (const byte of typeAndData) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}
