import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { deflateSync, gunzipSync, gzipSync } from 'node:zlib';
import { pack, unpack } from 'msgpackr';
import { PNG } from 'pngjs';
import { loadCheckpoint, saveCheckpoint, savedOptions } from '../../src/checkpoint.js';
import { tensorChecksum } from '../../src/checkpoint-validate.js';
import { readInkPng, toDigitImage } from '../../src/data/digit-image.js';
import { readIdxFile } from '../../src/data/idx.js';
import { MnistDpError, type ErrorCode } from '../../src/errors.js';
import { paramLayout } from '../../src/model/layout.js';
import { Model } from '../../src/model/model.js';
import { optimizerOf } from '../../src/optim/index.js';
import { makeSpec, parseCnnSpec, type ModelSpec } from '../../src/model/spec.js';
import { resolveOptions, unresolveOptions } from '../../src/options.js';
import { below, INTERESTING_U32, mutateBytes, pick, pngCrc, type Random } from './mutate.js';

/**
 * What is fuzzed: for each input kind, valid seed files, mutations that know the format (beside the
 * byte-level ones), and the check a case runs in the child process. A case's outcome is one of
 * - `accepted`: read, and it works (the model predicts finite probabilities, the image is finite ink);
 * - `refused`: a MnistDpError of the kind's code, one line, naming the file (what a user should see);
 * - `unclear`: any other error (a TypeError, a flag error, several lines, no file name);
 * - `accepted-corrupt`: read, although it is broken (then fails in use, or breaks the format's rules);
 * and, decided by the parent: `crash`, `hang` (past the time limit) or `oversized` (past the memory cap).
 */

export type Outcome = 'accepted' | 'refused' | 'unclear' | 'accepted-corrupt' | 'crash' | 'hang' | 'oversized';
export const FAILURES: readonly Outcome[] = ['unclear', 'accepted-corrupt', 'crash', 'hang', 'oversized'];

export interface Target {
  /** The error code of a clean refusal. */
  code: ErrorCode;
  /** The file name of a case (the IDX reader sniffs gzip itself; names only help a person). */
  extension: string;
  seeds(dir: string): Promise<Buffer[]>;
  mutate(seed: Buffer, r: Random): Buffer;
  /** Reads `file` as mnist-dp would and says whether what came out works; throws what the reader threw. */
  use(file: string, bytes: Buffer): Promise<'accepted' | 'accepted-corrupt'>;
}

// ---------------------------------------------------------------------------------------------- IDX

function idx(dims: number[], payload: ArrayLike<number>): Buffer {
  const b = Buffer.alloc(4 + 4 * dims.length + payload.length);
  b.set([0, 0, 8, dims.length]);
  dims.forEach((d, i) => b.writeUInt32BE(d >>> 0, 4 + 4 * i));
  b.set(payload, 4 + 4 * dims.length);
  return b;
}

const idxTarget: Target = {
  code: 'BAD_DATA',
  extension: 'idx',
  async seeds() {
    const pixels = Uint8Array.from({ length: 5 * 4 * 4 }, (_, i) => (i * 37) % 256);
    const images = idx([5, 4, 4], pixels);
    const labels = idx([5], [0, 1, 2, 1, 0]);
    return [images, labels, gzipSync(images), gzipSync(labels)];
  },
  mutate(seed, r) {
    const gz = seed[0] === 0x1f;
    const raw = gz ? gunzipSync(seed) : seed;
    switch (below(r, 5)) {
      case 0: // a header field (type, ndims, a dim) set to an edge value
      case 1: {
        const b = Buffer.from(raw);
        const at = pick(r, [2, 3, 4, 8, 12, 16]);
        if (at < 4) b[at] = pick(r, [0, 1, 4, 5, 8, 9, 0x0d, 255]);
        else if (at + 4 <= b.length) b.writeUInt32BE(pick(r, INTERESTING_U32) >>> 0, at);
        return r() < 0.5 ? gzipSync(b) : b;
      }
      case 2: // a gzip bomb: the header, then far more zeros than it declares
        return gzipSync(Buffer.concat([raw.subarray(0, 16), Buffer.alloc(below(r, 4) * 2 ** 20 + below(r, 5000))]), { level: 1 });
      default: { // byte-level, before or after compression
        const mutated = mutateBytes(r() < 0.5 ? raw : seed, r);
        return gz && r() < 0.3 ? gzipSync(mutated) : mutated;
      }
    }
  },
  async use(file) {
    const a = await readIdxFile(file);
    return a.data.length === a.dims.reduce((x, y) => x * y, 1) ? 'accepted' : 'accepted-corrupt';
  },
};

// ------------------------------------------------------------------------------------- checkpoints

type Rec = { [key: string]: unknown };

/** Values that break readers: absent, wrong types, edges, non-finite, huge. */
const ODD_VALUES: unknown[] = [undefined, null, true, 0, -1, 1.5, 2 ** 31, 1e300, Number.NaN, Number.POSITIVE_INFINITY, '', 'foo', 'rnn',
  [], [1, 2], {}, { kind: 'foo' }, new Uint8Array(3), 'x'.repeat(1000)];

/** Every path to a value in the record (tensors are leaves). */
function paths(v: unknown, at: string[] = [], out: string[][] = []): string[][] {
  out.push(at);
  if (v instanceof Uint8Array) return out;
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...at, String(i)], out));
  else if (typeof v === 'object' && v !== null) for (const k of Object.keys(v)) paths((v as Rec)[k], [...at, k], out);
  return out;
}

function setPath(root: Rec, path: string[], value: unknown): void {
  let o = root as Rec;
  for (const k of path.slice(0, -1)) o = o[k] as Rec;
  const last = path[path.length - 1];
  if (value === undefined) delete o[last];
  else o[last] = value;
}

async function checkpointSeed(dir: string, name: string, spec: ModelSpec, optimizer: 'sgd' | 'adam'): Promise<Buffer> {
  const o = resolveOptions({ ...(spec.kind === 'cnn' ? { model: 'c2k3-relu-fc10' } : { layers: '4-3-2' }), optimizer, epochs: 3, workers: 1 });
  const size = paramLayout(spec).size;
  const params = Float32Array.from({ length: size }, (_, i) => Math.sin(i) * 0.1);
  const file = join(dir, name);
  await saveCheckpoint(file, {
    spec, params, ema: null, optimizer: { kind: optimizer, state: Object.fromEntries(optimizerOf(optimizer)!.state.map((name) => [name, new Float32Array(size)])) },
    options: { ...savedOptions(o), spec }, position: { epoch: 1, step: 2, lossSum: 3.5, samples: 256 }, rng: { kind: 'counter', seed: 1 },
    metrics: [{ epoch: 1, trainLoss: 0.5, valLoss: null, valAccuracy: null, samplesPerSecond: 1000, seconds: 1 }], testAccuracy: null,
  });
  return readFile(file);
}

const checkpointTarget: Target = {
  code: 'BAD_CHECKPOINT',
  extension: 'ckpt',
  async seeds(dir) {
    return [
      await checkpointSeed(dir, 'mlp.ckpt', makeSpec([4, 3, 2], { kind: 'relu' }, 'cross-entropy'), 'sgd'),
      await checkpointSeed(dir, 'cnn.ckpt', parseCnnSpec('c2k3-relu-fc10', { height: 6, width: 6, channels: 1 }), 'adam'),
    ];
  },
  mutate(seed, r) {
    if (r() < 0.3) return mutateBytes(seed, r);
    // Structured: one to three fields of the record replaced by odd values, or a tensor's float by NaN;
    // the checksum mostly recomputed, so that the checks behind it are reached too.
    const rec = unpack(Buffer.from(seed)) as Rec; // a copy: the tensors are views into it, and NaNs are written into them
    for (let k = 1 + below(r, 3); k > 0; k--) {
      const all = paths(rec).filter((p) => p.length > 0);
      const path = pick(r, all);
      const tensor = all.filter((p) => {
        let o: unknown = rec;
        for (const q of p) o = (o as Rec)[q];
        return o instanceof Uint8Array && o.length >= 4;
      });
      if (r() < 0.15 && tensor.length > 0) {
        let o: unknown = rec;
        for (const q of pick(r, tensor)) o = (o as Rec)[q];
        const bytes = o as Uint8Array;
        new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).setFloat32(4 * below(r, bytes.length >> 2), pick(r, [Number.NaN, Number.POSITIVE_INFINITY, 1e38]), true);
      } else {
        setPath(rec, path, structuredClone(pick(r, ODD_VALUES))); // a copy: the shared values must not become part of (or cycles in) a record
      }
    }
    if (r() < 0.8 && 'checksum' in rec) {
      delete rec.checksum;
      rec.checksum = tensorChecksum(rec);
    }
    return pack(rec);
  },
  async use(file) {
    const c = await loadCheckpoint(file);
    // What `eval`, `predict` and `--resume` do with it: a forward pass, and the options resolved again.
    const model = new Model(c.spec, c.ema ?? c.params);
    const p = model.predict(new Float32Array(model.inputs));
    resolveOptions({ ...unresolveOptions(c.options), out: file });
    const sum = p.reduce((a, b) => a + b, 0);
    return p.every(Number.isFinite) && Math.abs(sum - 1) < 1e-3 ? 'accepted' : 'accepted-corrupt';
  },
};

// --------------------------------------------------------------------------------------------- PNG

interface Chunk {
  type: string;
  data: Buffer;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** The chunks of a PNG, or null when its structure is broken (signature, lengths, CRCs, IHDR first, IEND last, an unknown critical chunk). */
export function pngChunks(b: Buffer): Chunk[] | null {
  if (b.length < 8 || !b.subarray(0, 8).equals(PNG_SIGNATURE)) return null;
  const chunks: Chunk[] = [];
  let at = 8;
  while (at + 12 <= b.length) {
    const length = b.readUInt32BE(at);
    if (at + 12 + length > b.length) return null;
    const type = b.toString('latin1', at + 4, at + 8);
    const data = b.subarray(at + 8, at + 8 + length);
    if (pngCrc(b.subarray(at + 4, at + 8 + length)) !== b.readUInt32BE(at + 8 + length)) return null;
    chunks.push({ type, data });
    at += 12 + length;
    if (type === 'IEND') break;
  }
  const known = ['IHDR', 'PLTE', 'IDAT', 'IEND'];
  if (chunks[0]?.type !== 'IHDR' || chunks.at(-1)?.type !== 'IEND' || at !== b.length) return null;
  if (chunks.some((c) => c.type[0] === c.type[0].toUpperCase() && !known.includes(c.type))) return null;
  if (!chunks.some((c) => c.type === 'IDAT')) return null;
  return chunks;
}

function pngOf(chunks: Chunk[]): Buffer {
  const parts: Buffer[] = [PNG_SIGNATURE];
  for (const { type, data } of chunks) {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, 'latin1');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(pngCrc(Buffer.concat([head.subarray(4), data])));
    parts.push(head, data, crc);
  }
  return Buffer.concat(parts);
}

function pngSeed(width: number, height: number, colorType: 0 | 2 | 4 | 6, bitDepth: 8 | 16): Buffer {
  const png = new PNG({ width, height, colorType, bitDepth, inputHasAlpha: true });
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const ink = Math.abs(x - width / 2) < 2 && y > 1 && y < height - 2 ? 0 : 255; // a dark vertical stroke: a "1"
      png.data.set([ink, ink, ink, 255], 4 * (y * width + x));
    }
  }
  return PNG.sync.write(png, { colorType, bitDepth, inputHasAlpha: true });
}

const pngTarget: Target = {
  code: 'BAD_DATA',
  extension: 'png',
  async seeds() {
    return [pngSeed(12, 12, 0, 8), pngSeed(10, 14, 6, 8), pngSeed(8, 8, 2, 16)];
  },
  mutate(seed, r) {
    const chunks = pngChunks(seed)!;
    switch (below(r, 6)) {
      case 0: { // IHDR: width, height, bit depth, colour type, interlace set to edge values (CRC fixed)
        const ihdr = Buffer.from(chunks[0].data);
        const field = below(r, 5);
        if (field < 2) ihdr.writeUInt32BE(pick(r, INTERESTING_U32) >>> 0, 4 * field);
        else ihdr[6 + field] = pick(r, [0, 1, 2, 3, 4, 6, 7, 8, 16, 255]) & 0xff;
        return pngOf([{ type: 'IHDR', data: ihdr }, ...chunks.slice(1)]);
      }
      case 1: { // image data that inflates to far more than the picture (CRC fixed)
        const ihdr = Buffer.from(chunks[0].data);
        if (r() < 0.5) ihdr[12] = 1; // interlaced
        const idat = deflateSync(Buffer.alloc(below(r, 8) * 2 ** 20 + below(r, 4096)), { level: 1 });
        return pngOf([{ type: 'IHDR', data: ihdr }, { type: 'IDAT', data: idat }, { type: 'IEND', data: Buffer.alloc(0) }]);
      }
      case 2: // a chunk dropped (IDAT: no image data), duplicated, or an unknown critical one added
        if (r() < 0.4) return pngOf(chunks.filter((c) => c.type !== pick(r, ['IDAT', 'IEND', 'IHDR'])));
        if (r() < 0.5) return pngOf([...chunks.slice(0, 1), { type: 'ABCD', data: Buffer.from('odd') }, ...chunks.slice(1)]);
        return pngOf([...chunks.slice(0, -1), chunks[1], chunks.at(-1)!]);
      case 3: { // image data mutated, CRC fixed: the zlib stream itself is damaged
        const out = chunks.map((c) => (c.type === 'IDAT' ? { type: c.type, data: mutateBytes(c.data, r) } : c));
        return pngOf(out);
      }
      default:
        return mutateBytes(seed, r);
    }
  },
  async use(file, bytes) {
    const img = await readInkPng(file);
    const pixels = toDigitImage(img, undefined, file);
    if (!pixels.every((v) => Number.isFinite(v) && v >= 0 && v <= 1)) return 'accepted-corrupt';
    return pngChunks(bytes) === null ? 'accepted-corrupt' : 'accepted';
  },
};

export const TARGETS: Record<string, Target> = { idx: idxTarget, checkpoint: checkpointTarget, png: pngTarget };

/** What an error thrown by a reader says about the reader: a clean refusal, or an unclear error. */
export function classifyError(err: unknown, file: string, code: ErrorCode): 'refused' | 'unclear' {
  if (!(err instanceof MnistDpError) || err.code !== code) return 'unclear';
  return !err.message.includes('\n') && err.message.startsWith(`${file}`) ? 'refused' : 'unclear';
}
