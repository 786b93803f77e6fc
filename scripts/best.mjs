#!/usr/bin/env node
/**
 * `npm run best`: trains the best single model on this machine (`--preset best`), then writes
 *   <out>           the checkpoint (default models/mnist-best.ckpt; its weights are the moving average)
 *   <out>.json      the results: options, per-epoch metrics, test accuracy with and without test-time augmentation
 *   <out>.md        the same as a Markdown table
 *
 *   npm run best -- [--seed 1] [--out models/mnist-best.ckpt] [--workers N] [--epochs N] [--model M] [--augment A] [--conv auto|winograd|im2col]
 *
 * --epochs, --model and --augment vary the recipe (a quicker run; the members of `npm run ensemble`).
 *
 * Model selection uses the validation split only: the recipe is fixed, and the test set is evaluated once,
 * at the end, and reported.
 */
import { writeFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { humanReporter, percent } from '../dist/src/cli/progress.js';
import { defaultMnistDir, describeMachine, describeSpec, loadIdxDataset, loadModel, MnistDpError, resolveOptions, train } from '../dist/src/index.js';

const argv = yargs(hideBin(process.argv))
  .option('seed', { type: 'number', default: 1 })
  .option('out', { type: 'string', default: 'models/mnist-best.ckpt' })
  .option('workers', { type: 'number' })
  .option('epochs', { type: 'number', describe: 'override the recipe (for a quicker, weaker run)' })
  .option('model', { type: 'string', describe: 'override the recipe: another network (mnist-dp train --model)' })
  .option('augment', { type: 'string', describe: 'override the recipe: other augmentation (mnist-dp train --augment)' })
  .option('conv', { type: 'string', describe: 'how 3×3 convolutions run (mnist-dp train --conv; default auto)' })
  .strict()
  .parseSync();

const options = { preset: 'best', seed: argv.seed, out: argv.out, workers: argv.workers, epochs: argv.epochs, model: argv.model, augment: argv.augment, conv: argv.conv };
await mkdir(dirname(argv.out), { recursive: true });
const reporter = humanReporter();
const started = new Date();
const result = await train(options, { onEvent: (e) => reporter.onEvent(e) }).catch((err) => {
  reporter.close();
  if (!(err instanceof MnistDpError)) throw err;
  process.stderr.write(`mnist-dp: error: ${err.message}\n`); // a bad --model or --augment, as the CLI says it
  process.exit(err.exitCode);
});
reporter.close();
if (result.aborted) process.exit(130);

// The test set, once: plain and with test-time augmentation.
const model = await loadModel(argv.out);
const test = (await loadIdxDataset(defaultMnistDir())).test;
const accuracy = (tta) => {
  const predicted = model.classify(test.images, { tta });
  let right = 0;
  for (let i = 0; i < test.count; i++) if (predicted[i] === test.labels[i]) right++;
  return right / test.count;
};
const plain = accuracy(false);
const withTta = accuracy(true);

const resolved = resolveOptions(options);
const machine = describeMachine();
const given = ['workers', 'epochs', 'model', 'augment', 'conv'].filter((k) => argv[k] !== undefined).map((k) => ` --${k} ${argv[k]}`).join('');
const command = `npm run best -- --seed ${argv.seed} --out ${argv.out}${given}`;
const results = {
  command, machine, started: started.toISOString(), seconds: result.seconds, seed: argv.seed,
  model: argv.out, spec: describeSpec(model.spec), options: { ...resolved, spec: undefined },
  testAccuracy: plain, testAccuracyTta: withTta, metrics: result.metrics,
};
await writeFile(`${argv.out}.json`, `${JSON.stringify(results, null, 2)}\n`);
const pct = (p) => (p === null ? '-' : percent(p));
const md = [
  `# ${argv.out}`,
  '',
  `\`${command}\` on ${machine}, ${started.toISOString()}: ${(result.seconds / 60).toFixed(1)} min.`,
  '',
  `**Test accuracy ${pct(plain)}** (${pct(withTta)} with test-time augmentation). Model: ${describeSpec(model.spec)}.`,
  '',
  '| epoch | train loss | val loss | val acc | samples/s | time |',
  '| ---: | ---: | ---: | ---: | ---: | ---: |',
  ...result.metrics.map((m) => `| ${m.epoch} | ${m.trainLoss.toFixed(4)} | ${m.valLoss?.toFixed(4) ?? '-'} | ${pct(m.valAccuracy)} | ${Math.round(m.samplesPerSecond)} | ${m.seconds.toFixed(1)} s |`),
  '',
].join('\n');
await writeFile(`${argv.out}.md`, md);
process.stdout.write(`test accuracy ${pct(plain)} (with TTA ${pct(withTta)}); results in ${argv.out}.json and ${argv.out}.md\n`);
