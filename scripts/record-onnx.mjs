#!/usr/bin/env node
/**
 * Exports the included model to ONNX and records what another runtime makes of it (run after `npm run best`,
 * before committing a new models/mnist-best.ckpt):
 *   <model without .ckpt>.onnx   mnist-dp export --model <model> --onnx …
 *   <model>.json                 gains "onnx": onnxruntime-web's test accuracy on all 10,000 MNIST test
 *                                images, with and without test-time augmentation (a --tta graph, not
 *                                kept), whether it picks the same class as model.predict for every image,
 *                                and the largest difference of a probability
 *
 *   node scripts/record-onnx.mjs [--model models/mnist-best.ckpt]
 *
 * test/onnx-export-matches-predict.test.ts checks the committed file against the record.
 */
import { execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-web';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { defaultMnistDir, exportOnnx, loadIdxDataset, loadModel } from '../dist/src/index.js';
import { mostProbable } from '../dist/src/model/model.js';

const argv = yargs(hideBin(process.argv)).option('model', { type: 'string', default: 'models/mnist-best.ckpt' }).strict().parseSync();
const onnxFile = argv.model.replace(/\.ckpt$/, '') + '.onnx';
const cli = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
const command = `mnist-dp export --model ${argv.model} --onnx ${onnxFile}`;
execFileSync(process.execPath, [cli, 'export', '--model', argv.model, '--onnx', onnxFile, '--force'], { stdio: 'inherit' });

ort.env.wasm.numThreads = 1;
/** onnxruntime-web's probabilities for the images, 1,000 at a time (its WebAssembly memory is 4 GB). */
async function run(bytes, images) {
  const session = await ort.InferenceSession.create(bytes);
  const out = new Float32Array((images.length / 784) * 10);
  for (let start = 0; start < images.length / 784; start += 1000) {
    const rows = Math.min(1000, images.length / 784 - start);
    const input = new ort.Tensor('float32', images.subarray(start * 784, (start + rows) * 784), [rows, 1, 28, 28]);
    const result = await session.run({ [session.inputNames[0]]: input });
    out.set(result[session.outputNames[0]].data, start * 10);
  }
  await session.release();
  return out;
}
const classes = (p) => mostProbable(p, 10);

const model = await loadModel(argv.model);
const test = (await loadIdxDataset(defaultMnistDir())).test;
const accuracyOf = (predicted) => predicted.filter((c, i) => c === test.labels[i]).length / test.count;
const pixels = Float32Array.from(test.images, (b) => b / 255); // the graph's input: pixels 0-1
const theirs = await run(new Uint8Array(await readFile(onnxFile)), pixels);
const ours = model.predict(test.images);
let maxDiff = 0;
for (let i = 0; i < ours.length; i++) maxDiff = Math.max(maxDiff, Math.abs(ours[i] - theirs[i]));
const theirClasses = classes(theirs);
const ourClasses = classes(ours);
const same = theirClasses.filter((c, i) => c === ourClasses[i]).length;
const withTta = await run(exportOnnx(model, { tta: true }), pixels);

const ortVersion = ort.env.versions.web;
const recordFile = `${argv.model}.json`;
const record = JSON.parse(await readFile(recordFile, 'utf8'));
record.onnx = {
  file: onnxFile,
  command,
  runtime: `onnxruntime-web ${ortVersion}, WebAssembly backend, 1 thread, Node ${process.version.split('.')[0]}`,
  testAccuracy: accuracyOf(theirClasses),
  testAccuracyTta: accuracyOf(classes(withTta)),
  sameClassAsPredict: `${same}/${test.count}`,
  maxProbabilityDifference: Number(maxDiff.toPrecision(3)),
};
await writeFile(recordFile, `${JSON.stringify(record, null, 2)}\n`);
console.log(`${onnxFile}: onnxruntime-web ${(100 * record.onnx.testAccuracy).toFixed(2)} % (${(100 * record.onnx.testAccuracyTta).toFixed(2)} % with TTA), the same class as predict for ${same} of ${test.count}, probabilities within ${record.onnx.maxProbabilityDifference}; recorded in ${recordFile}`);
