import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint, loadModel } from '../src/checkpoint.js';
import { defaultMnistDir, loadIdxDataset } from '../src/data/dataset.js';
import { MODEL_PRESETS } from '../src/model/spec.js';
import { runCli } from './helpers/cli.js';

// models/mnist-best.ckpt is committed, so that eval and loadModel work right after npm install. Its
// record (models/mnist-best.ckpt.json, written by npm run best) states the accuracy it was trained to.
const FILE = 'models/mnist-best.ckpt';

describe('the shipped best model', () => {
  it('loads without training and classifies the MNIST test set as its record says', async () => {
    const record = JSON.parse(await readFile(`${FILE}.json`, 'utf8')) as { testAccuracy: number; seed: number };
    const model = await loadModel(FILE);
    expect(model.spec.kind).toBe('cnn');
    const test = (await loadIdxDataset(defaultMnistDir())).test;
    const predicted = model.classify(test.images);
    let right = 0;
    for (let i = 0; i < test.count; i++) if (predicted[i] === test.labels[i]) right++;
    // Within 3 images of the record: another CPU may round the last bits differently (relaxed SIMD's fused multiply-add).
    expect(Math.abs(right / test.count - record.testAccuracy)).toBeLessThanOrEqual(0.0003);
    expect(right / test.count).toBeGreaterThanOrEqual(0.997);
  });

  it('records how it was trained: the preset, the seed and a finished run', async () => {
    const c = await loadCheckpoint(FILE);
    expect(c.position.epoch).toBe(c.options.epochs);
    expect(c.rng.seed).toBe(1);
    expect(c.ema).not.toBeNull();
    expect(c.options.augment).not.toBeNull();
  });

  it('info --json gives its layer string (what --model reads) and its input shape', () => {
    const r = runCli(process.cwd(), ['info', '--model', FILE, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const info = JSON.parse(r.stdout) as { layers: string; input: unknown; parameters: number };
    expect(info.layers).toBe(MODEL_PRESETS['cnn-wide-res']); // --preset best since issue 17
    expect(info.input).toEqual({ height: 28, width: 28, channels: 1 });
    expect(info.parameters).toBe(424874);
  });
});
