import { createHash } from 'node:crypto';
import { badCheckpoint } from './errors.js';
import { compileNet } from './model/layout.js';
import {
  formatActivation, formatCnnLayers, makeSpec, parseActivation, parseCnnSpec, parseLayers, parseLoss, parseOutputActivation,
  type CnnSpec, type MlpSpec, type ModelSpec,
} from './model/spec.js';
import { resolveOptions, unresolveOptions } from './options.js';

/**
 * A checkpoint's contents are checked as a whole when it is loaded, before any of it is used: a file is
 * data from outside, and a damaged or hand-made one must end in one line naming the file (exit 1), never
 * in a TypeError, a flag error, a kernel's size error or a run that trains nonsense. The model spec goes
 * through the same parsers as the command line (so a checkpoint holds nothing `--model` could not say),
 * the options through resolveOptions' range checks, and the position, metrics and weights through the
 * checks below. A checksum over the tensors (written since this check exists) catches a flipped bit.
 */

/** The fields of a checkpoint record that are checked here (see checkpoint.ts for the whole record). */
export interface CheckedRecord {
  spec: unknown;
  layout?: unknown;
  options: unknown;
  position: unknown;
  metrics?: unknown;
  testAccuracy?: unknown;
  rng?: unknown;
  optimizer?: unknown;
  checksum?: unknown;
  recalibratedBn?: unknown;
}

/** The most activations per image a checkpoint's network may declare (a 1024×1024×16 image). */
const MAX_INPUTS = 2 ** 24;

const isObject = (v: unknown): v is { [key: string]: unknown } => typeof v === 'object' && v !== null && !Array.isArray(v);

/** JSON with object keys sorted, so that two equal specs compare equal whatever order a file stored them in. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (isObject(v)) return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
  return JSON.stringify(v) ?? 'undefined';
}

/** A parser's flag error as a file's problem: `--model "x": layer 1 …` → `layer 1 …`, `--loss "foo" is …` → `loss "foo" is …`. */
const withoutFlag = (message: string) =>
  message.replace(/^--([\w-]+)( "[^"]*")?(:)?\s*/, (_, name: string, quoted: string | undefined, colon: string | undefined) => (colon ? '' : `${name}${quoted ?? ''} `));

/** The spec as the command line's parsers read it back, or a thrown message saying what is wrong. */
function reparse(spec: unknown): ModelSpec {
  if (!isObject(spec)) throw new Error(`the model spec is ${spec === null ? 'null' : typeof spec}, not an object`);
  if (spec.kind === 'mlp') {
    const s = spec as unknown as MlpSpec;
    if (!Array.isArray(s.layers) || !isObject(s.activation) || !isObject(s.output)) throw new Error('the MLP spec lacks its layers or activations');
    return makeSpec(parseLayers(s.layers.join('-')), parseActivation(formatActivation(s.activation)), parseLoss(String(s.loss)),
      parseOutputActivation(formatActivation(s.output)));
  }
  if (spec.kind === 'cnn') {
    const s = spec as unknown as CnnSpec;
    const input = s.input as unknown;
    if (!isObject(input) || ![input.height, input.width, input.channels].every((d) => Number.isInteger(d) && (d as number) >= 1)) {
      throw new Error('the CNN spec lacks a valid input shape (height, width, channels)');
    }
    if ((input.height as number) * (input.width as number) * (input.channels as number) > MAX_INPUTS) {
      throw new Error(`its input of ${input.height}×${input.width}×${input.channels} is larger than any image mnist-dp reads`);
    }
    if (!Array.isArray(s.layers) || s.layers.length === 0) throw new Error('the CNN spec has no layers');
    s.layers.forEach((l, i) => {
      const text = isObject(l) ? formatCnnLayers({ ...s, layers: [l] }) : undefined;
      if (typeof text !== 'string' || text === '') throw new Error(`layer ${i + 1} is of an unknown kind (${canonical(isObject(l) ? l.kind : l)})`);
    });
    return parseCnnSpec(formatCnnLayers(s), { height: input.height as number, width: input.width as number, channels: input.channels as number });
  }
  throw new Error(`the model kind ${canonical(spec.kind)} is unknown (mlp or cnn)`);
}

/** Throws BAD_CHECKPOINT unless the record's spec is one the command line could have made, and compiles. */
function checkSpec(spec: unknown, file: string): void {
  let parsed: ModelSpec;
  try {
    parsed = reparse(spec);
    if (parsed.kind === 'mlp' && parsed.layers.some((n) => n > MAX_INPUTS)) throw new Error(`a layer of ${Math.max(...parsed.layers)} units is larger than mnist-dp trains`);
    compileNet(parsed); // the shapes fit: each layer's window, padding and pooling
  } catch (err) {
    throw badCheckpoint(file, `holds an invalid model (${withoutFlag((err as Error).message)}); the file is damaged or was not written by mnist-dp`);
  }
  if (canonical(parsed) !== canonical(spec)) {
    throw badCheckpoint(file, `holds a model spec with fields mnist-dp does not write (${canonical(spec).slice(0, 120)}); the file is damaged or was not written by mnist-dp`);
  }
}

const natural = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const finiteOrNull = (v: unknown) => v === null || (typeof v === 'number' && Number.isFinite(v));

/**
 * Throws BAD_CHECKPOINT, naming the file and the field, unless the record's spec, options, position,
 * metrics and random-number state are ones a real run could have saved. Called before anything of the
 * record is used; the tensors are checked by verifyCheckpointTensors once loadCheckpoint has sized them.
 */
export function validateCheckpointRecord(r: CheckedRecord, file: string): void {
  const damaged = (what: string) => badCheckpoint(file, `${what}; the file is damaged`);
  checkSpec(r.spec, file);

  let epochs: number;
  let batchSize: number;
  try {
    if (!isObject(r.options) || !isObject(r.options.optimizer)) throw new Error('the options are missing');
    if (r.options.spec !== undefined && canonical(r.options.spec) !== canonical(r.spec)) throw new Error('the options describe another network than the spec');
    const resolved = resolveOptions({ ...unresolveOptions(r.options as unknown as Parameters<typeof unresolveOptions>[0]), out: file });
    epochs = resolved.epochs;
    batchSize = resolved.batchSize;
  } catch (err) {
    throw badCheckpoint(file, `holds invalid training options (${(err as Error).message}); the file is damaged`);
  }

  // The stored layout is compared with the compiled network's by loadCheckpoint (checkLayout); here only its form.
  const tensorOk = (t: unknown) => isObject(t) && typeof t.name === 'string' && Array.isArray(t.shape) && t.shape.every(natural) && natural(t.offset) && natural(t.size);
  if (r.layout !== undefined && !(Array.isArray(r.layout) && r.layout.every(tensorOk))) {
    throw damaged(`holds an invalid parameter layout (${canonical(r.layout).slice(0, 120)})`);
  }

  const p = r.position;
  if (!isObject(p) || !natural(p.epoch) || !natural(p.step) || !natural(p.samples) || typeof p.lossSum !== 'number' || !Number.isFinite(p.lossSum) || p.lossSum < 0) {
    throw damaged(`holds an invalid position (${canonical(p).slice(0, 120)}): epoch, step and samples must be counts, lossSum a finite sum of losses`);
  }
  if (p.epoch > epochs) throw damaged(`says ${p.epoch} epochs are done of a run of ${epochs}`);
  if (p.step * batchSize > 2 ** 30 || p.samples > p.step * batchSize) {
    throw damaged(`says step ${p.step} of an epoch with ${p.samples} samples seen, which no run of batch ${batchSize} reaches`);
  }
  if (p.epoch === epochs && (p.step !== 0 || p.samples !== 0)) throw damaged(`says all ${epochs} epochs are done, but also step ${p.step} of another`);

  const done = p.epoch;
  const metrics = r.metrics ?? [];
  if (!Array.isArray(metrics) || metrics.length > p.epoch) throw damaged(`holds ${Array.isArray(metrics) ? metrics.length : 'no list of'} epoch metrics for ${p.epoch} epochs done`);
  metrics.forEach((m: unknown, i) => {
    const ok = isObject(m) && natural(m.epoch) && m.epoch >= 1 && m.epoch <= done && (i === 0 || m.epoch > (metrics[i - 1] as { epoch: number }).epoch) &&
      [m.trainLoss, m.samplesPerSecond, m.seconds].every((x) => typeof x === 'number') && finiteOrNull(m.valLoss) && finiteOrNull(m.valAccuracy);
    if (!ok) throw damaged(`holds invalid metrics for epoch ${i + 1} (${canonical(m).slice(0, 120)})`);
  });
  const t = r.testAccuracy ?? null;
  if (t !== null && !(typeof t === 'number' && t >= 0 && t <= 1)) throw damaged(`holds a test accuracy of ${canonical(t)}, not one between 0 and 1`);
  const bn = r.recalibratedBn ?? null;
  if (bn !== null && !(isObject(bn) && Number.isSafeInteger(bn.images) && (bn.images as number) >= 1 && Number.isSafeInteger(bn.micro) && (bn.micro as number) >= 1)) {
    throw damaged(`holds an invalid batch norm recalibration record (${canonical(bn).slice(0, 80)}): images and micro must be counts ≥ 1`);
  }
  if (r.rng !== undefined && !(isObject(r.rng) && r.rng.kind === 'counter' && Number.isSafeInteger(r.rng.seed))) {
    throw damaged(`holds an unknown random-number state (${canonical(r.rng).slice(0, 80)})`);
  }
}

/**
 * Throws BAD_CHECKPOINT unless the record's tensors match their checksum (when it has one), every float
 * of them is finite, and the optimiser state is of the optimiser the options name. Called once the
 * tensors' sizes and the optimiser's state names have been checked.
 */
export function verifyCheckpointTensors(r: CheckedRecord, file: string): void {
  verifyTensorChecksum(r, file);
  checkTensorsFinite(r, file);
  if (isObject(r.optimizer) && isObject(r.options) && isObject(r.options.optimizer) && r.optimizer.kind !== r.options.optimizer.kind) {
    throw badCheckpoint(file, `holds the state of optimiser ${canonical(r.optimizer.kind)} for a run of ${canonical(r.options.optimizer.kind)}; the file is damaged`);
  }
}

/**
 * Throws BAD_CHECKPOINT unless every float of every tensor in the record is finite: one NaN weight makes
 * every prediction NaN, and one in the optimiser's state makes the next step's weights NaN.
 */
function checkTensorsFinite(r: CheckedRecord, file: string): void {
  const chunk = new Float32Array(64 * 1024);
  const chunkBytes = new Uint8Array(chunk.buffer);
  for (const [path, bytes] of tensorsOf(r, '', [])) {
    for (let start = 0; start + 4 <= bytes.byteLength; start += chunkBytes.byteLength) {
      const part = bytes.subarray(start, Math.min(bytes.byteLength, start + chunkBytes.byteLength) & ~3);
      chunkBytes.set(part); // copy: the bytes may be unaligned in the file's buffer
      for (let i = 0; i < part.byteLength / 4; i++) {
        if (!Number.isFinite(chunk[i])) {
          throw badCheckpoint(file, `its ${path} hold ${chunk[i]} at index ${start / 4 + i}; every weight must be finite, so the file is damaged`);
        }
      }
    }
  }
}

/** Every byte array in the record, with its path (`optimizer.velocity`), in an order fixed by the key names. */
function tensorsOf(v: unknown, path: string, out: [string, Uint8Array][]): [string, Uint8Array][] {
  if (v instanceof Uint8Array) out.push([path, v]);
  else if (isObject(v)) for (const key of Object.keys(v).sort()) tensorsOf(v[key], path ? `${path}.${key}` : key, out);
  return out;
}

/**
 * The checksum of a record's tensors: SHA-256 over each byte array (params, ema, the optimiser's state,
 * whatever the version holds) with its path, in key order, as 32 hex digits. saveCheckpoint stores it
 * as `checksum`; the record's other fields are checked by validateCheckpointRecord instead.
 */
export function tensorChecksum(record: object): string {
  const hash = createHash('sha256');
  for (const [path, bytes] of tensorsOf(record, '', [])) {
    hash.update(`${path}:${bytes.byteLength}:`);
    hash.update(bytes);
  }
  return hash.digest('hex').slice(0, 32);
}

/** Throws BAD_CHECKPOINT when the record has a checksum and its tensors do not match it (files from before it have none). */
function verifyTensorChecksum(r: CheckedRecord, file: string): void {
  if (r.checksum === undefined || r.checksum === null) return;
  const { checksum, ...rest } = r;
  if (typeof checksum !== 'string' || tensorChecksum(rest) !== checksum) {
    throw badCheckpoint(file, 'its weights do not match their checksum (a bit changed on the disk or in a copy); the file is damaged: use another copy');
  }
}
