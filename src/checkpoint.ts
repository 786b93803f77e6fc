import { pack, unpack } from 'msgpackr';
import { writeFileAtomic } from './atomic-write.js';
import { ASSUMED_MNIST, type DataSetRecord } from './data/provenance.js';
import { badCheckpoint } from './errors.js';
import type { EpochMetrics } from './events.js';
import { tensorChecksum, validateCheckpointRecord, verifyCheckpointTensors } from './checkpoint-validate.js';
import { readRegularFile } from './files.js';
import { describeMachine } from './machine.js';
import type { ConvNode } from './model/layers/conv.js';
import { compileNet, paramLayout, type ParamLayout } from './model/layout.js';
import { Model } from './model/model.js';
import { sameSpec, type ModelSpec } from './model/spec.js';
import { optimizerOf } from './optim/index.js';
import { DEFAULT_OPTIONS, RUN_ONLY_KEYS, type OptimizerKind, type ResolvedTrainOptions, type RunOnlyKey } from './options.js';

/**
 * A checkpoint is one msgpackr record. Float arrays are stored as their little-endian bytes (msgpack bin),
 * so any reader can take them without msgpackr's extensions. It is written to a temporary file in the
 * same folder, flushed, then renamed over the target: a crash leaves either the old file or the new one,
 * never half of one.
 */
export const CHECKPOINT_MAGIC = 'mnist-dp checkpoint';
/**
 * 2: the first dense layer's weight stored input-major (dense1.wT). 3: CNN specs, the optimiser as an
 * object (Adam's second moment), the weights' moving average. 4: the optimiser's state by the names its
 * module declares (src/optim/), `--clip-grad-norm`, and the data set it was trained on (DataSetRecord).
 * 5: `--conv auto` runs 5×5 stride-1 layers with ≥ 16 channels through Winograd F(2×2, 5×5) (see olderAuto).
 * Version 2 and 3 files still load (as trained on MNIST; version 2 as SGD runs; see migrateOptimizer).
 */
export const CHECKPOINT_VERSION = 5;
const READABLE_VERSIONS = [2, 3, 4, 5];

/** The largest checkpoint loadCheckpoint reads (4 GiB: weights, average and optimiser state of a network that fills the shared memory). */
const MAX_CHECKPOINT_BYTES = 2 ** 32;

export type { EpochMetrics, StepMicros } from './events.js';

/** The training options a checkpoint keeps (everything but where files go and how many threads ran). */
export type SavedOptions = Omit<ResolvedTrainOptions, RunOnlyKey>;

/** The options a checkpoint of a run with options `o` keeps. */
export function savedOptions(o: ResolvedTrainOptions): SavedOptions {
  return Object.fromEntries(Object.entries(o).filter(([key]) => !(RUN_ONLY_KEYS as readonly string[]).includes(key))) as SavedOptions;
}

/** Where `--keep-best` keeps the best validation epoch's model: `run.ckpt` → `run.best.ckpt`. */
export function bestCheckpointFile(out: string): string {
  return `${out.endsWith('.ckpt') ? out.slice(0, -'.ckpt'.length) : out}.best.ckpt`;
}

/**
 * Where training stands: the next step to run is `step` of epoch `epoch` (both 0-based); lossSum and
 * samples are the current epoch's running loss, so a resumed epoch reports the same mean loss.
 */
export interface Position {
  epoch: number;
  step: number;
  lossSum: number;
  samples: number;
}

/** Optimiser state: its state tensors by the names its module declares (SGD's `velocity`; Adam's, AdamW's and LAMB's `m` and `v`). */
export interface OptimizerState {
  kind: OptimizerKind;
  state: { [name: string]: Float32Array };
}

export interface Checkpoint {
  spec: ModelSpec;
  params: Float32Array;
  /** The weights' moving average, when the run keeps one: what evaluation and loadModel use. */
  ema: Float32Array | null;
  optimizer: OptimizerState;
  options: SavedOptions;
  position: Position;
  /** Counter-based generators: their whole state is the seed and the position above. */
  rng: { kind: 'counter'; seed: number };
  metrics: EpochMetrics[];
  testAccuracy: number | null;
  /** When and on what machine (describeMachine) the file was written; filled by saveCheckpoint, null in files written before they were kept. */
  written?: { at: string | null; machine: string | null };
  /**
   * The data set the model was trained on (training records it). Loading a file from before version 4,
   * which recorded none, gives ASSUMED_MNIST; null: saved without a record (by a library call).
   */
  data?: DataSetRecord | null;
  /**
   * Set by `mnist-dp recalibrate`: the batch norm statistics of the weights evaluation uses (ema, else
   * params) were recomputed on this many of the run's training images, in micro-shards of `micro` rows.
   * Such a file is a model to evaluate, not a resume point. Absent or null: the statistics training kept.
   */
  recalibratedBn?: RecalibrationRecord | null;
}

/** How a checkpoint's batch norm statistics were recomputed (mnist-dp recalibrate). */
export interface RecalibrationRecord {
  images: number;
  micro: number;
}

interface Record {
  magic: string;
  version: number;
  createdAt: string;
  machine?: string;
  spec: ModelSpec;
  layout: { name: string; shape: number[]; offset: number; size: number }[];
  paramFloats: number;
  params: Uint8Array;
  ema?: Uint8Array | null;
  optimizer: { kind: OptimizerKind; state: { [name: string]: Uint8Array } };
  options: SavedOptions;
  position: Position;
  rng: { kind: 'counter'; seed: number };
  metrics: EpochMetrics[];
  testAccuracy: number | null;
  data?: DataSetRecord | null;
  recalibratedBn?: RecalibrationRecord | null;
  /** tensorChecksum of the record (absent in files written before it existed). */
  checksum?: string;
}

const bytesOf = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

function floatsOf(bytes: Uint8Array, file: string, what: string, count: number): Float32Array {
  if (!(bytes instanceof Uint8Array) || bytes.byteLength !== count * 4) {
    throw badCheckpoint(file, `${what} hold ${bytes?.byteLength ?? 0} bytes, expected ${count * 4}; the file is damaged`);
  }
  const out = new Float32Array(count);
  bytesOf(out).set(bytes); // copy: msgpackr's views may be unaligned
  return out;
}

/** Writes the checkpoint atomically (temp file, fsync, rename). */
export async function saveCheckpoint(file: string, c: Checkpoint): Promise<void> {
  const layout = paramLayout(c.spec);
  const record: Record = {
    magic: CHECKPOINT_MAGIC,
    version: CHECKPOINT_VERSION,
    createdAt: new Date().toISOString(),
    machine: describeMachine(),
    spec: c.spec,
    layout: layout.tensors,
    paramFloats: layout.size,
    params: bytesOf(c.params),
    ema: c.ema ? bytesOf(c.ema) : null,
    optimizer: { kind: c.optimizer.kind, state: Object.fromEntries(Object.entries(c.optimizer.state).map(([name, a]) => [name, bytesOf(a)])) },
    options: c.options,
    position: c.position,
    rng: c.rng,
    metrics: c.metrics,
    testAccuracy: c.testAccuracy,
    data: c.data ?? null,
    recalibratedBn: c.recalibratedBn ?? null,
  };
  record.checksum = tensorChecksum(record);
  try {
    await writeFileAtomic(file, pack(record));
  } catch (err) {
    throw badCheckpoint(file, `could not be written (${(err as Error).message}); check that the folder exists and is writable`);
  }
}

/** Reads and validates a checkpoint; every problem names the file. */
export async function loadCheckpoint(file: string): Promise<Checkpoint> {
  const bytes = await readRegularFile(file, MAX_CHECKPOINT_BYTES, badCheckpoint, 'checkpoint');
  let r: Record;
  try {
    r = unpack(bytes) as Record;
  } catch {
    throw badCheckpoint(file, 'is not a mnist-dp checkpoint (not msgpack data)');
  }
  if (r === null || typeof r !== 'object' || r.magic !== CHECKPOINT_MAGIC) {
    throw badCheckpoint(file, 'is not a mnist-dp checkpoint (no magic)');
  }
  if (!READABLE_VERSIONS.includes(r.version)) {
    throw badCheckpoint(file, `has format version ${r.version}; this mnist-dp reads versions ${READABLE_VERSIONS.slice(0, -1).join(', ')} and ${CHECKPOINT_VERSION}`);
  }
  if (r.version === 2) migrateFromVersion2(r);
  if (r.version === 2 || r.version === 3) migrateOptimizer(r as unknown as OldRecord);
  // Checkpoints from before --conv trained every convolution as im2col + GEMM.
  if (r.options !== null && typeof r.options === 'object' && r.options.conv === undefined) r.options = { ...r.options, conv: 'im2col' };
  validateCheckpointRecord(r, file);
  const layout = paramLayout(r.spec);
  if (r.paramFloats !== layout.size) {
    throw badCheckpoint(file, `has ${r.paramFloats} parameters but its spec needs ${layout.size}; the file is damaged`);
  }
  checkLayout(file, r.layout, layout);
  if (r.version <= 4 && r.options.conv === 'auto') r.options = { ...r.options, conv: olderAuto(r.spec) };
  const checkpoint: Checkpoint = {
    spec: r.spec,
    params: floatsOf(r.params, file, 'parameters', layout.size),
    ema: r.ema ? floatsOf(r.ema, file, 'averaged parameters', layout.size) : null,
    optimizer: readOptimizerState(r, file, layout.size),
    options: r.options,
    position: r.position,
    rng: r.rng,
    metrics: r.metrics ?? [],
    testAccuracy: r.testAccuracy ?? null,
    written: { at: r.createdAt ?? null, machine: r.machine ?? null },
    data: r.version < 4 ? { ...ASSUMED_MNIST } : r.data ?? null,
    recalibratedBn: r.recalibratedBn ?? null,
  };
  verifyCheckpointTensors(r, file);
  return checkpoint;
}

/** The optimiser's state tensors, each checked against the names its module declares. */
function readOptimizerState(r: Record, file: string, floats: number): OptimizerState {
  const kind = r.optimizer?.kind;
  const optimizer = optimizerOf(kind);
  if (!optimizer) throw badCheckpoint(file, `holds the state of an unknown optimiser "${String(kind)}"; the file is damaged or from a newer mnist-dp`);
  const state = Object.fromEntries(optimizer.state.map((name) => [name, floatsOf(r.optimizer.state?.[name], file, `optimiser state "${name}"`, floats)]));
  return { kind, state };
}

/** Versions 2 and 3 kept the optimiser state as `velocity` (SGD's velocity, Adam's m) and `moment2` (Adam's v). */
interface OldRecord {
  options: SavedOptions;
  optimizer: { kind: OptimizerKind; velocity: Uint8Array; moment2?: Uint8Array | null; state?: never };
}

/** A version 2 or 3 record's optimiser state by today's names (TEAM.md contract 2), and its options with clipping off. */
function migrateOptimizer(r: OldRecord): void {
  const { kind, velocity, moment2 } = r.optimizer ?? {};
  const state: { [name: string]: Uint8Array | null | undefined } = kind === 'sgd' ? { velocity } : { m: velocity, v: moment2 };
  (r as unknown as Record).optimizer = { kind, state: state as { [name: string]: Uint8Array } }; // missing ones: refused by readOptimizerState
  r.options = { ...r.options, clipGradNorm: r.options?.clipGradNorm ?? 0 };
}

/**
 * Throws, naming the first difference, unless the parameter layout stored in the file (names, shapes,
 * offsets) is the one its network compiles to here: the weights would otherwise be read into the wrong
 * tensors without a word (a file written by a version of mnist-dp that lays out the network differently).
 */
function checkLayout(file: string, stored: Record['layout'] | undefined, layout: ParamLayout): void {
  if (!Array.isArray(stored)) throw badCheckpoint(file, 'has no parameter layout; the file is damaged');
  const show = (t: { name: string; shape: number[]; offset: number }) => `${t.name} (${t.shape.join('×')}) at offset ${t.offset}`;
  const n = Math.max(stored.length, layout.tensors.length);
  for (let i = 0; i < n; i++) {
    const s = stored[i];
    const t = layout.tensors[i];
    const same = s && t && s.name === t.name && s.offset === t.offset && Array.isArray(s.shape) && s.shape.join() === t.shape.join();
    if (same) continue;
    const saved = s ? show(s) : 'nothing';
    const wanted = t ? show(t) : 'nothing';
    throw badCheckpoint(file, `its parameter layout does not match its network: tensor ${i + 1} is ${saved} in the file, but ${wanted} in the network; the file was written by another version of mnist-dp, or is damaged`);
  }
}

/** A version 2 record (SGD only, options flat) in today's shape. */
/**
 * What `--conv auto` in a checkpoint of version 4 or older means now. Its 5×5 layers ran through im2col +
 * GEMM; now auto runs them through Winograd. Where the network has such a layer and no layer that the older
 * rule ran as Winograd (3×3, ≥ 16 channels), the older `auto` computed exactly what `im2col` computes now,
 * so the file resumes and evaluates bit for bit as `im2col` (cnn-small-bn, `--preset fast`, `cnn`). A
 * network with both keeps `auto`: its 5×5 layers then continue through Winograd (another rounding).
 */
function olderAuto(spec: ModelSpec): 'auto' | 'im2col' {
  const winograd = compileNet(spec, 'auto').all.filter((n): n is ConvNode => n.layer.kind === 'conv' && (n as ConvNode).wino !== null);
  return winograd.some((n) => n.g.k === 5) && !winograd.some((n) => n.g.k === 3) ? 'im2col' : 'auto';
}

function migrateFromVersion2(r: Record): void {
  const o = r.options as unknown as { momentum: number; nesterov: boolean; weightDecay: number };
  const d = DEFAULT_OPTIONS;
  r.options = {
    ...(r.options as object),
    optimizer: { kind: 'sgd', momentum: o.momentum, nesterov: o.nesterov, weightDecay: o.weightDecay, beta1: d.beta1, beta2: d.beta2, eps: d.adamEps },
    labelSmoothing: 0,
    ema: 0,
    augment: null,
  } as SavedOptions;
  r.ema = null;
}

/** Throws unless the checkpoint's network is the one asked for. */
export function assertSameArchitecture(file: string, saved: ModelSpec, wanted: ModelSpec, describe: (s: ModelSpec) => string): void {
  if (!sameSpec(saved, wanted)) {
    throw badCheckpoint(file, `holds a different architecture (${describe(saved)}) from the one asked for (${describe(wanted)}); drop the model flags to resume it as saved`);
  }
}

/**
 * Loads a checkpoint written by `train` as a Model (its weights: the moving average when the run kept
 * one). It lives here, not in model/, so that the model folder does not depend on the checkpoint format.
 */
export async function loadModel(file: string): Promise<Model> {
  return modelOf(await loadCheckpoint(file));
}

/** A loaded checkpoint's model: its weights' moving average when the run kept one, else its weights. */
export function modelOf(c: Checkpoint): Model {
  return new Model(c.spec, c.ema ?? c.params, { metrics: c.metrics, testAccuracy: c.testAccuracy, epochsTrained: c.position.epoch, data: c.data ?? null, recipe: c.options });
}
