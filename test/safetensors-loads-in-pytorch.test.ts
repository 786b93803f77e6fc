import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../src/checkpoint.js';
import { exportSafetensors } from '../src/export/safetensors.js';
import type { Model } from '../src/model/model.js';
import { makeSpec, parseCnnSpec } from '../src/model/spec.js';
import { modelWithEveryTensorSet, testImages } from './helpers/export-models.js';
import { maxAbsDiff } from './helpers/onnxruntime.js';

/**
 * The README's PyTorch loader (the block between <!-- torch-loader --> markers), run as it stands by
 * /usr/bin/python3, builds the equivalent nn.Sequential of a safetensors file and loads its weights; its
 * probabilities are model.predict's within 1e-5. Where Python has no PyTorch (CI may not) the test is
 * skipped, saying why.
 */

const PYTHON = '/usr/bin/python3';
const torchProbe = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
const noTorch = torchProbe.error ? `${PYTHON} cannot be run (${torchProbe.error.message})`
  : torchProbe.status !== 0 ? `${PYTHON} has no PyTorch ("import torch" failed)` : null;

const N = 200;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mnist-dp-torch-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function readmeLoader(): Promise<string> {
  const readme = await readFile(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8');
  const m = /<!-- torch-loader -->\n```python\n([\s\S]*?)```\n<!-- \/torch-loader -->/.exec(readme);
  if (!m) throw new Error('README.md has no <!-- torch-loader --> block');
  return m[1];
}

describe.skipIf(noTorch !== null)("the README's PyTorch loader", () => {
  it('builds each model as an nn.Sequential whose probabilities are model.predict\'s within 1e-5', async () => {
    const models: [string, Model][] = [
      ['best.safetensors', await loadModel(fileURLToPath(new URL('../models/mnist-best.ckpt', import.meta.url)))],
      ['mlp.safetensors', modelWithEveryTensorSet(makeSpec([784, 256, 128, 10], { kind: 'relu' }, 'cross-entropy'), 1)],
      ['sigmoid.safetensors', modelWithEveryTensorSet(makeSpec([784, 30, 10], { kind: 'sigmoid', slope: 2 }, 'squared-error'), 2)],
      ['relu-squared.safetensors', modelWithEveryTensorSet(makeSpec([784, 30, 10], { kind: 'relu' }, 'squared-error'), 3)],
      ['cnn-bn.safetensors', modelWithEveryTensorSet(parseCnnSpec('cnn-bn'), 4)],
      ['cnn-res.safetensors', modelWithEveryTensorSet(parseCnnSpec('cnn-res'), 5)],
      ['strided.safetensors', modelWithEveryTensorSet(parseCnnSpec('c8k3s2p1-bn-relu-ap2-c16k5p2-relu-c16k3s2p1-relu-fc32-bn-relu-fc10'), 6)],
    ];
    const { images } = await testImages(N);
    await writeFile(join(dir, 'images.f32'), images);
    for (const [file, model] of models) await writeFile(join(dir, file), exportSafetensors(model));
    const script = `${await readmeLoader()}
import sys
x = torch.frombuffer(bytearray(open('images.f32', 'rb').read()), dtype=torch.float32).reshape(-1, 1, 28, 28)
for f in sys.argv[1:]:
    with torch.no_grad():
        open(f + '.out', 'wb').write(load_mnist_dp(f)(x).numpy().astype('float32').tobytes())
`;
    await writeFile(join(dir, 'run.py'), script);
    const r = spawnSync(PYTHON, ['run.py', ...models.map(([f]) => f)], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    for (const [file, model] of models) {
      const got = new Float32Array((await readFile(join(dir, `${file}.out`))).buffer.slice(0));
      expect(maxAbsDiff(got, model.predict(images)), file).toBeLessThan(1e-5);
    }
  }, 180_000);
});

// Where it cannot run, the skip says why (the one skip the suite allows).
if (noTorch !== null) it.skip(`the README's PyTorch loader is not run: ${noTorch}`, () => {});
