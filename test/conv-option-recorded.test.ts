import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pack, unpack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { train } from '../src/api.js';
import { loadCheckpoint, loadModel } from '../src/checkpoint.js';
import { resolveOptions } from '../src/options.js';
import type { ConvNode } from '../src/model/layers/conv.js';
import type { Net } from '../src/model/layout.js';
import { scratchDirs } from './helpers/scratch.js';

const scratch = scratchDirs('mnist-dp-conv-');
/** models/mnist-best.ckpt up to issue 16: a checkpoint of version 3, from before --conv. */
const SHIPPED_ISSUE_16 = 'test/fixtures/mnist-best-issue16.ckpt';

/** --conv is a recipe option: refused when unknown, recorded by the checkpoint, kept on resume, and what a loaded model runs. */

const winogradLayers = (net: Net) => net.all.filter((n) => n.layer.kind === 'conv' && (n as ConvNode).wino !== null).length;
const small = { epochs: 1, trainSize: 100, valSize: 50, batchSize: 50, workers: 1, seed: 3, model: 'c4k3-bn-relu-c16k3-bn-relu-c8k3-bn-relu-mp2-fc10' };

describe('--conv', () => {
  it('refuses an unknown algorithm in one line that names the choices', () => {
    expect(() => resolveOptions({ conv: 'fft' })).toThrow('--conv "fft" is unknown; use im2col, winograd, auto');
  });

  it('defaults to auto', () => {
    expect(resolveOptions({}).conv).toBe('auto');
  });

  it('is recorded by the checkpoint, run by the loaded model, and kept when resuming', async () => {
    const dir = await scratch();
    const out = join(dir, 'w.ckpt');
    await train({ ...small, conv: 'winograd', out });
    expect((await loadCheckpoint(out)).options.conv).toBe('winograd');
    expect(winogradLayers((await loadModel(out)).net)).toBe(3);
    await expect(train({ resume: out, epochs: 2, conv: 'im2col' })).rejects.toThrow(/--conv im2col differs from the checkpoint's winograd/);
    const auto = join(dir, 'a.ckpt');
    await train({ ...small, out: auto });
    expect(winogradLayers((await loadModel(auto)).net)).toBe(1); // c8k3 on 16 channels; c4k3 (C = 1) and c16k3 (C = 4) im2col
  }, 120_000);

  it('an --conv auto checkpoint of version 4 (5×5 layers through im2col then) loads as im2col when that is what it ran, else as auto', async () => {
    const dir = await scratch();
    const asVersion4 = async (model: string, name: string) => {
      const out = join(dir, name);
      await train({ ...small, model, out });
      const record = unpack(await readFile(out)) as Record<string, unknown>;
      expect(record.version).toBe(5);
      await writeFile(out, pack({ ...record, version: 4 }));
      return out;
    };
    // only a 5×5 layer on 16 channels: the older auto ran everything through im2col
    const fives = await asVersion4('c16k5-bn-relu-c4k5-bn-relu-fc10', 'v4-fives.ckpt');
    expect((await loadCheckpoint(fives)).options.conv).toBe('im2col');
    expect(winogradLayers((await loadModel(fives)).net)).toBe(0);
    // beside a 3×3 layer the older auto ran as Winograd: stays auto
    const mixed = await asVersion4('c16k3-bn-relu-c16k3-bn-relu-c4k5-bn-relu-fc10', 'v4-mixed.ckpt');
    expect((await loadCheckpoint(mixed)).options.conv).toBe('auto');
    // a version 5 file means what it says
    const now = join(dir, 'v5.ckpt');
    await train({ ...small, model: 'c16k5-bn-relu-c4k5-bn-relu-fc10', out: now });
    expect((await loadCheckpoint(now)).options.conv).toBe('auto');
    expect(winogradLayers((await loadModel(now)).net)).toBe(1);
  }, 120_000);

  it('a checkpoint from before --conv means im2col: the model shipped up to issue 16 runs as it was trained', async () => {
    const c = await loadCheckpoint(SHIPPED_ISSUE_16);
    expect(c.options.conv).toBe('im2col');
    expect(winogradLayers((await loadModel(SHIPPED_ISSUE_16)).net)).toBe(0);
  });
});
