import { execFileSync } from 'node:child_process';
import type { Remote } from 'comlink';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  DEFAULT_OPTIONS, exportOnnx, exportSafetensors, loadModel, Model, MnistDpError, parseSweepSpec, resolveOptions, runLocalSweep, spawnTrainer, train, Trainer,
  type SweepResults, type SweepSpec, type TrainEvent, type TrainOptions, type TrainResult,
} from '../src/index.js';

describe('the public API', () => {
  it('has the types the README documents', () => {
    expectTypeOf(train).parameter(0).toEqualTypeOf<TrainOptions | undefined>();
    expectTypeOf(train).returns.resolves.toEqualTypeOf<TrainResult>();
    expectTypeOf(loadModel).returns.resolves.toEqualTypeOf<Model>();
    expectTypeOf<Model['predict']>().returns.toEqualTypeOf<Float32Array>();
    expectTypeOf<Model['classify']>().returns.toEqualTypeOf<Int32Array>();
    expectTypeOf(exportOnnx).returns.toEqualTypeOf<Uint8Array>();
    expectTypeOf(exportSafetensors).parameter(0).toEqualTypeOf<Model>();
    expectTypeOf(spawnTrainer).returns.resolves.toEqualTypeOf<Remote<Trainer>>();
    expectTypeOf<TrainResult['testAccuracy']>().toEqualTypeOf<number | null>();
    expectTypeOf<Extract<TrainEvent, { type: 'epoch' }>['valAccuracy']>().toEqualTypeOf<number | null>();
    expectTypeOf(parseSweepSpec).returns.toEqualTypeOf<SweepSpec>();
    expectTypeOf(runLocalSweep).returns.resolves.toEqualTypeOf<SweepResults | null>();
    // @ts-expect-error: options are checked by the compiler too
    const wrongType = () => resolveOptions({ lr: '0.1' });
    expect(wrongType).toThrow(/--lr must be a positive number, got "0.1"/); // and at run time
  });

  it('is what `import "mnist-dp"` gives a package that depends on it', () => {
    // Node resolves a package's own name through its "exports" map: the same path a dependent takes.
    const out = execFileSync(process.execPath, ['--input-type=module', '-e',
      "const m = await import('mnist-dp'); console.log(Object.keys(m).sort().join(','))"], { encoding: 'utf8' });
    const names = out.trim().split(',');
    for (const name of ['train', 'Trainer', 'spawnTrainer', 'loadModel', 'Model', 'DEFAULT_OPTIONS', 'MnistDpError', 'predictEnsemble', 'mistakeOverlap', 'greedySelection',
      'shippedModelFile', 'readInkPng', 'toDigitImage', 'exportOnnx', 'exportSafetensors', 'importSafetensors']) expect(names).toContain(name);
  });

  it('defines the defaults once, as the CLI shows them', () => {
    expect(resolveOptions().lr).toBe(DEFAULT_OPTIONS.lr);
    expect(resolveOptions().spec.layers.join('-')).toBe(DEFAULT_OPTIONS.layers);
    expect(() => resolveOptions({ epochs: 0 })).toThrow(MnistDpError);
  });
});
