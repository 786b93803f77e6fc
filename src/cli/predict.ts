import type { Argv } from 'yargs';
import { readInkPng } from '../data/digit-image.js';
import { describeTrainedOn, trainedOnDigits } from '../data/provenance.js';
import { badOption } from '../errors.js';
import { loadModel } from '../checkpoint.js';
import { shippedModelFile } from '../model/model.js';
import { defaultPrep, predictPicture, PREP_NAMES, type Prep } from '../model/predict-picture.js';
import { ttaImageShape } from '../model/tta.js';
import { drawImage, percent } from './progress.js';

/** `mnist-dp predict`: the digit in each of one or more pictures, by the shipped model or a given one. */

export function predictBuilder(y: Argv): Argv {
  return y
    .parserConfiguration({ 'duplicate-arguments-array': true }) // every image, not only the last
    .usage('$0 predict [--model FILE] IMAGE.png …\n\nReads each picture of a handwritten digit (PNG, dark on light or light on dark), makes it an ' +
      'MNIST-style 28×28 image (the ink scaled into a 20×20 box, centred by its centre of mass) and prints the digit the model sees. ' +
      'A model trained on another data set (train --data) gets the whole picture scaled to its input instead (--prep).')
    .positional('images', { type: 'string', array: true, describe: 'PNG files' })
    .option('model', { type: 'string', requiresArg: true, describe: 'checkpoint written by mnist-dp train', defaultDescription: 'the shipped models/mnist-best.ckpt' })
    .option('tta', { type: 'boolean', describe: 'test-time augmentation: average over the image and its one-pixel shifts' })
    .option('prep', {
      type: 'string', requiresArg: true, choices: PREP_NAMES, coerce: (v: unknown) => (Array.isArray(v) ? v[v.length - 1] : v),
      describe: 'how a picture becomes the model\'s input: digit (the ink box scaled to 20×20 and centred by mass, as MNIST\'s digits were made) or resize (the whole picture scaled to the input)',
      defaultDescription: 'digit for a model trained on MNIST, resize for other data sets',
    })
    .option('show', { type: 'boolean', describe: 'also draw the 28×28 image the model reads, as text' })
    .option('json', { type: 'boolean', describe: 'one JSON line per image: {"file", "digit", "probability", "probabilities"}' });
}

export interface PredictArgs {
  images?: string[];
  model?: string;
  tta?: boolean;
  show?: boolean;
  json?: boolean;
  prep?: Prep;
}

export async function predictHandler(argv: PredictArgs): Promise<void> {
  const files = (argv.images ?? []).map(String);
  if (files.length === 0) throw badOption('give one or more PNG files of handwritten digits, e.g. mnist-dp predict digit.png');
  const file = argv.model ?? shippedModelFile();
  const model = await loadModel(file);
  const what = `predict with ${file}`;
  const shape = ttaImageShape(model.spec, what);
  const prep = argv.prep ?? defaultPrep(model);
  if (!trainedOnDigits(model.info.data)) {
    // Say which preparation runs and why: a model of another data set read pictures made another way.
    const how = prep === 'resize' ? `each picture is scaled whole to ${shape.height}×${shape.width} (--prep resize; --prep digit prepares it as a handwritten digit)`
      : 'the pictures are prepared as handwritten digits, as asked (--prep digit)';
    process.stderr.write(`mnist-dp: note: ${file} was trained on ${describeTrainedOn(model.info.data)}, not on handwritten digits: ${how}\n`);
  }
  for (const image of files) {
    const { image: pixels, probabilities } = predictPicture(model, await readInkPng(image), image, { prep, tta: argv.tta === true, what });
    const ranked = probabilities.map((p, digit) => ({ digit, p })).sort((a, b) => b.p - a.p);
    if (argv.json) {
      process.stdout.write(`${JSON.stringify({ file: image, digit: ranked[0].digit, probability: ranked[0].p, probabilities })}\n`);
      continue;
    }
    const runnerUp = ranked[1] ? ` (next: ${ranked[1].digit} at ${percent(ranked[1].p)})` : '';
    process.stdout.write(`${image}  ${ranked[0].digit}  ${percent(ranked[0].p)}${runnerUp}\n`);
    if (argv.show) process.stdout.write(`${drawImage(pixels, shape.height, shape.width)}\n`);
  }
}
