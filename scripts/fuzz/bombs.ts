import { spawnSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createDeflate, createGzip } from 'node:zlib';
import { pack } from 'msgpackr';
import { savedOptions } from '../../src/checkpoint.js';
import { paramLayout } from '../../src/model/layout.js';
import { resolveOptions } from '../../src/options.js';
import { readInChild } from './fuzz.js';
import { pngCrc } from './mutate.js';
import type { Outcome } from './targets.js';

/**
 * Crafted worst cases of each input kind, the ones issue 12 found: files that are small on disk and
 * huge once inflated or as declared, and files that are not files. Each is read in a fresh child
 * process (fuzz.ts) whose peak resident memory is what the figures report.
 */

export interface BombResult {
  name: string;
  kind: string;
  fileSize: string;
  outcome: Outcome;
  maxRssMb: number;
  message: string;
}

/** Streams `header` then `zeros` zero bytes through a compressor into `file`. */
async function compressedZeros(file: string, header: Buffer, zeros: number, gzip: boolean): Promise<void> {
  const block = Buffer.alloc(2 ** 20);
  async function* bytes() {
    yield header;
    for (let left = zeros; left > 0; left -= block.length) yield block.subarray(0, Math.min(left, block.length));
  }
  await pipeline(Readable.from(bytes()), gzip ? createGzip({ level: 9 }) : createDeflate({ level: 9 }), createWriteStream(file));
}

const idxHeader = (dims: number[]) => {
  const b = Buffer.alloc(4 + 4 * dims.length);
  b.set([0, 0, 8, dims.length]);
  dims.forEach((d, i) => b.writeUInt32BE(d, 4 + 4 * i));
  return b;
};

/** One PNG chunk: length, type, data and CRC. */
export function pngChunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(pngCrc(Buffer.concat([head.subarray(4), data])));
  return Buffer.concat([head, data, crc]);
}

/** A PNG of the given header whose image data is `idat` (grey, 8 bits; idat already deflated). */
export function greyPng(width: number, height: number, interlace: number, idat: Buffer): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 0, 0, 0, interlace], 8);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), pngChunk('IHDR', ihdr), pngChunk('IDAT', idat), pngChunk('IEND', Buffer.alloc(0))]);
}

/** Makes each bomb in `dir`: [kind, name, file]; the two that inflate do so to `zeros` bytes. */
async function makeBombs(dir: string, zeros: number): Promise<[string, string, string][]> {
  const f = (name: string) => join(dir, name);
  const bombs: [string, string, string][] = [];
  const gb = `${(zeros / 1e9).toFixed(1)} GB`;
  await compressedZeros(f('zeros.idx.gz'), idxHeader([60000, 28, 28]), zeros, true);
  bombs.push(['idx', `idx: ${gb} of zeros after a 60000×28×28 header, gzip`, f('zeros.idx.gz')]);
  await compressedZeros(f('declared.idx.gz'), idxHeader([1_300_000, 28, 28]), 1_300_000 * 784, true);
  bombs.push(['idx', 'idx: a header declaring 1.02 GB, and as many zeros, gzip', f('declared.idx.gz')]);
  await writeFile(f('sparse.idx'), idxHeader([60000, 28, 28]));
  await truncate(f('sparse.idx'), 1.8e9);
  bombs.push(['idx', 'idx: a sparse 1.8 GB raw file', f('sparse.idx')]);
  await symlink('/dev/zero', f('zero-link'));
  spawnSync('mkfifo', [f('fifo')]);
  bombs.push(['idx', 'idx: a symbolic link to /dev/zero', f('zero-link')], ['idx', 'idx: a named pipe (FIFO)', f('fifo')]);

  bombs.push(['checkpoint', 'checkpoint: a symbolic link to /dev/zero', f('zero-link')], ['checkpoint', 'checkpoint: a named pipe (FIFO)', f('fifo')]);
  const header = (bytes: number[]) => Buffer.from(bytes);
  await writeFile(f('bin.ckpt'), Buffer.concat([header([0xc6, 0xff, 0xff, 0xff, 0xff]), Buffer.alloc(16)]));
  await writeFile(f('map.ckpt'), Buffer.concat([header([0xdf, 0xff, 0xff, 0xff, 0xff]), Buffer.alloc(16)]));
  await writeFile(f('array.ckpt'), Buffer.concat([header([0xdd, 0xff, 0xff, 0xff, 0xff]), Buffer.alloc(16)]));
  const wide = resolveOptions({ layers: [16777216, 16777216, 10], workers: 1 });
  await writeFile(f('wide.ckpt'), pack({
    magic: 'mnist-dp checkpoint', version: 4, spec: wide.spec, paramFloats: paramLayout(wide.spec).size, params: new Uint8Array(8),
    optimizer: { kind: 'sgd', state: { velocity: new Uint8Array(8) } }, options: { ...savedOptions(wide), spec: wide.spec },
    position: { epoch: 0, step: 0, lossSum: 0, samples: 0 }, rng: { kind: 'counter', seed: 1 }, metrics: [], testAccuracy: null,
  }));
  bombs.push(['checkpoint', 'checkpoint: msgpack declaring a 4 GB byte string', f('bin.ckpt')], ['checkpoint', 'checkpoint: msgpack declaring a map of 2³²−1 entries', f('map.ckpt')],
    ['checkpoint', 'checkpoint: msgpack declaring an array of 2³²−1 items', f('array.ckpt')], ['checkpoint', 'checkpoint: a spec of 2.8·10¹⁴ parameters, 8 bytes of them', f('wide.ckpt')]);

  await writeFile(f('huge.png'), greyPng(30000, 30000, 0, Buffer.from([0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01])));
  bombs.push(['png', 'png: 30000×30000 declared in 80 bytes', f('huge.png')]);
  const idat = f('idat.deflate');
  await compressedZeros(idat, Buffer.alloc(0), zeros, false);
  await writeFile(f('interlaced.png'), greyPng(56, 56, 1, await readFile(idat)));
  bombs.push(['png', `png: interlaced 56×56, data inflating to ${gb}`, f('interlaced.png')]);
  bombs.push(['png', 'png: a named pipe (FIFO)', f('fifo')]);
  return bombs;
}

const sizeOf = async (file: string) => {
  const s = await stat(file);
  if (!s.isFile()) return s.isFIFO() ? 'FIFO' : 'device';
  return s.size >= 1e6 ? `${(s.size / 1e6).toFixed(1)} MB` : `${s.size} B`;
};

/** Makes the bombs (those that inflate, to `zeros` bytes: 1.5 GB as in issue 12), reads each in a fresh child, and removes them. */
export async function runBombs(memoryMb = 300, zeros = 1.5e9, timeLimitMs = 30_000): Promise<BombResult[]> {
  const dir = await mkdtemp(join(tmpdir(), 'mnist-dp-bombs-'));
  try {
    const results: BombResult[] = [];
    for (const [kind, name, file] of await makeBombs(dir, zeros)) {
      const r = await readInChild(kind, file, memoryMb, timeLimitMs);
      results.push({ name, kind, fileSize: await sizeOf(file), ...r, message: r.message.replace(`${file}: `, '') });
    }
    return results;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
