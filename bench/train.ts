/**
 * Training throughput: trains the MLP (or, with --model, a CNN) for one epoch per (kernels, workers)
 * pair and prints training samples per second (evaluation excluded), the epoch's time and the process's
 * peak RSS.
 *
 *   npm run bench:train -- [--workers 1,2] [--kernels ts] [--layers 784-256-128-10] [--batch-size 128]
 *                          [--epochs 1] [--train-size 0] [--repeat 1]
 *   npm run bench:train -- --model cnn --lr 0.05 --kernels wasm-relaxed   (PyTorch's anchors/torch_cnn.py beside it)
 *   npm run bench:train -- --model cnn-wide --kernels wasm-relaxed --conv im2col,auto   (Winograd beside im2col + GEMM)
 *
 * Each configuration runs in a fresh child process so that peak RSS is its own.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { train } from '../src/api.js';
import { describeMachine } from '../src/machine.js';

const argv = yargs(hideBin(process.argv))
  .option('workers', { type: 'string', default: '1,2' })
  .option('kernels', { type: 'string', default: 'ts' })
  .option('layers', { type: 'string', default: '784-256-128-10' })
  .option('conv', { type: 'string', default: 'auto', describe: 'how 3×3 and 5×5 convolutions run, one or more of auto, winograd, im2col (comma-separated: each beside the first)' })
  .option('model', { type: 'string', describe: 'a CNN (preset or layer string) instead of the MLP --layers' })
  .option('lr', { type: 'number', describe: 'learning rate (default: the library default)' })
  .option('batch-size', { type: 'number', default: 128 })
  .option('epochs', { type: 'number', default: 1 })
  .option('train-size', { type: 'number', default: 0 })
  .option('repeat', { type: 'number', default: 1, describe: 'runs per configuration; the median is reported' })
  .option('child', { type: 'boolean', default: false, hidden: true })
  .strict()
  .parseSync();

interface Row {
  kernels: string;
  conv: string;
  workers: number;
  samplesPerSecond: number;
  epochSeconds: number;
  testAccuracy: number;
  peakRssMB: number;
}

async function child(): Promise<void> {
  const r = await train({
    workers: Number(argv.workers), kernels: argv.kernels, ...(argv.model ? { model: argv.model } : { layers: argv.layers }), batchSize: argv['batch-size'],
    epochs: argv.epochs, trainSize: argv['train-size'], out: null, lr: argv.lr, conv: argv.conv,
  });
  const last = r.metrics[r.metrics.length - 1];
  const row: Row = {
    kernels: argv.kernels, conv: argv.conv, workers: Number(argv.workers), samplesPerSecond: last.samplesPerSecond,
    epochSeconds: last.seconds, testAccuracy: r.testAccuracy ?? NaN,
    peakRssMB: process.resourceUsage().maxRSS / 1024,
  };
  process.stdout.write(JSON.stringify(row) + '\n');
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function parent(): void {
  const self = fileURLToPath(import.meta.url);
  console.log(`mnist-dp bench:train · ${argv.model ? `cnn ${argv.model}` : `mlp ${argv.layers}`} · batch ${argv['batch-size']} · ${argv.epochs} epoch(s) · ${describeMachine()}`);
  console.log('kernels       conv      workers  samples/s   speedup  vs first conv  epoch s  test acc  peak RSS MB');
  const convs = argv.conv.split(',');
  for (const kernels of argv.kernels.split(',')) {
    const firstConv = new Map<number, number>(); // samples/s of the first --conv, by workers
    for (const conv of convs) {
      let base = 0;
      for (const workers of argv.workers.split(',').map(Number)) {
        const rows: Row[] = [];
        for (let i = 0; i < argv.repeat; i++) {
          const out = execFileSync(process.execPath, [self, '--child', '--workers', String(workers), '--kernels', kernels, '--conv', conv,
            '--layers', argv.layers, ...(argv.model ? ['--model', argv.model] : []), ...(argv.lr ? ['--lr', String(argv.lr)] : []), '--batch-size', String(argv['batch-size']), '--epochs', String(argv.epochs),
            '--train-size', String(argv['train-size'])], { encoding: 'utf8' });
          rows.push(JSON.parse(out.trim().split('\n').pop()!) as Row);
        }
        const sps = median(rows.map((r) => r.samplesPerSecond));
        if (base === 0) base = sps;
        if (!firstConv.has(workers)) firstConv.set(workers, sps);
        console.log(
          `${kernels.padEnd(13)} ${conv.padEnd(9)} ${String(workers).padStart(7)}  ${sps.toFixed(0).padStart(9)}  ${(sps / base).toFixed(2).padStart(7)}×  ` +
          `${(sps / firstConv.get(workers)!).toFixed(2).padStart(12)}×  ` +
          `${median(rows.map((r) => r.epochSeconds)).toFixed(2).padStart(7)}  ${(100 * median(rows.map((r) => r.testAccuracy))).toFixed(2).padStart(7)}%  ` +
          `${Math.max(...rows.map((r) => r.peakRssMB)).toFixed(0).padStart(11)}`,
        );
      }
    }
  }
}

if (argv.child) await child();
else parent();
