import { describe, expect, it } from 'vitest';
import { train } from '../src/api.js';
import { MnistDpError } from '../src/errors.js';
import { makeSpec } from '../src/model/spec.js';
import { cliTempDir, runCli } from './helpers/cli.js';
import { randomModel } from './helpers/tiny-models.js';

/**
 * Flags and library arguments that used to be misread (issue 12, items 11 and 12): each is refused with
 * one clear line before anything runs, exit 2 on the command line.
 */

const work = cliTempDir('mnist-dp-misuse-');
const cli = (...args: string[]) => runCli(work(), args, 30_000);

function usageError(args: string[], line: string) {
  const r = cli(...args);
  expect(r.code, r.stderr).toBe(2);
  expect(r.lines).toEqual([line]);
  expect(r.stdout).toBe('');
}

describe('the command line', () => {
  it('refuses a value on a switch: --json=maybe, --nesterov=maybe', () => {
    usageError(['train', '--json=maybe'], 'mnist-dp: error: --json is a switch: give --json or --no-json (or =true, =false), got "--json=maybe" (run "mnist-dp train --help" for usage)');
    usageError(['train', '--nesterov=maybe'], 'mnist-dp: error: --nesterov is a switch: give --nesterov or --no-nesterov (or =true, =false), got "--nesterov=maybe" (run "mnist-dp train --help" for usage)');
  });

  it('refuses --help=3 instead of training', () => {
    usageError(['train', '--help=3'], 'mnist-dp: error: --help takes no value, got "--help=3" (run "mnist-dp train --help" for usage)');
  });

  it('quotes an empty number and the last of a repeated flag', () => {
    usageError(['train', '--epochs', ''], 'mnist-dp: error: --epochs must be a number, got ""');
    usageError(['train', '--epochs', '3', '--epochs', 'x'], 'mnist-dp: error: --epochs must be a number, got "x"');
  });
});

async function refused(run: () => unknown): Promise<string> {
  const err = await (async () => run())().then(() => expect.fail('expected a BAD_OPTION error'), (e: unknown) => e);
  expect(err).toBeInstanceOf(MnistDpError);
  expect((err as MnistDpError).code).toBe('BAD_OPTION');
  expect((err as MnistDpError).message).not.toContain('\n');
  return (err as MnistDpError).message;
}

describe('the library', () => {
  it('refuses train(null), train("fast") and unknown or mistyped options before anything runs', async () => {
    expect(await refused(() => train(null as never))).toBe('train: options must be an object such as { epochs: 5 }, got null');
    expect(await refused(() => train('fast' as never))).toBe("train: options must be an object such as { epochs: 5 }, got 'fast' (for a recipe, train({ preset: 'fast' }))");
    expect(await refused(() => train({ epocs: 3 } as never))).toMatch(/^train: unknown option epocs \(did you mean epochs\?\)/);
    expect(await refused(() => train({ augment: 7 } as never))).toBe('train: option augment must be a string, got 7');
    expect(await refused(() => train({ out: 5 } as never))).toBe('train: option out must be a file name, or null for no checkpoint, got 5');
    expect(await refused(() => train({ keepBest: 'false' } as never))).toBe("train: option keepBest must be true or false, got 'false'");
    expect(await refused(() => train({}, { signal: 'x' } as never))).toBe("train: signal must be an AbortSignal (new AbortController().signal), got 'x'");
  });

  it('refuses pixels that predict would misread: other typed arrays, 0-255 in a plain array, NaN, infinity, null', async () => {
    const model = randomModel(makeSpec([4, 3], { kind: 'relu' }, 'cross-entropy'), 1);
    expect(await refused(() => model.predict(new Int32Array([0, 255, 3, 4]) as never))).toBe('predict: cannot read pixels from a Int32Array; pass a Uint8Array of 0-255 values, or a Float32Array or array of 0-1 values');
    expect(await refused(() => model.predict(new Uint16Array(4) as never))).toContain('Uint16Array');
    expect(await refused(() => model.predict([0, 128, 255, 0]))).toBe('predict: pixel 1 is 128, outside 0-1: 0-255 values must come as a Uint8Array (Uint8Array.from(pixels)), or be divided by 255');
    expect(await refused(() => model.predict(new Float32Array([0, Number.NaN, 0, 0])))).toBe('predict: pixel 1 is NaN; every pixel must be a finite number');
    expect(await refused(() => model.predict([0, 0, Number.POSITIVE_INFINITY, 0]))).toContain('pixel 2 is Infinity');
    expect(await refused(() => model.predict(null as never))).toBe('predict: pixels must be a Uint8Array, Float32Array, Float64Array or array of numbers, got null');
    expect(model.predict([0, 0.5, 1, 0.25])).toHaveLength(3); // 0-1 floats in a plain array are fine
  });
});
