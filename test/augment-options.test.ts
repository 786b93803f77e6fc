import { describe, expect, it } from 'vitest';
import {
  augmentBatch, augmentScratchFloats, DEFAULT_AUGMENT, formatAugment, NO_AUGMENT, parseAugment, type AugmentOptions,
} from '../src/data/augment.js';
import { MnistDpError } from '../src/errors.js';

/** The BAD_OPTION error that parseAugment(text) must throw. */
function rejection(text: string): MnistDpError {
  let err: unknown;
  try {
    parseAugment(text);
  } catch (e) {
    err = e;
  }
  expect(err, `"${text}" should be rejected`).toBeInstanceOf(MnistDpError);
  expect((err as MnistDpError).code).toBe('BAD_OPTION');
  expect((err as MnistDpError).message).toContain('--augment');
  expect((err as MnistDpError).message).not.toContain('\n');
  return err as MnistDpError;
}

describe('the --augment flag', () => {
  it('turns augmentation off with none or off, and on with default or on', () => {
    expect(parseAugment('none')).toBeNull();
    expect(parseAugment('off')).toBeNull();
    expect(parseAugment(' OFF ')).toBeNull();
    expect(parseAugment('default')).toEqual(DEFAULT_AUGMENT);
    expect(parseAugment('on')).toEqual(DEFAULT_AUGMENT);
  });

  it('reads a list of key=value, the keys left out being off and sigma 4', () => {
    expect(parseAugment('rotate=12,shift=2.5,scale=0.1,elastic=2,sigma=4')).toEqual({ rotate: 12, shift: 2.5, scale: 0.1, elastic: 2, elasticSigma: 4 });
    expect(parseAugment('rotate=15')).toEqual({ ...NO_AUGMENT, rotate: 15 });
    expect(parseAugment('elastic=1.5, sigma=.5')).toEqual({ ...NO_AUGMENT, elastic: 1.5, elasticSigma: 0.5 });
    expect(parseAugment('shift=0')).toEqual(NO_AUGMENT);
  });

  it('rejects what it cannot read, saying what it accepts', () => {
    expect(rejection('yes').message).toMatch(/none, default .* rotate=/);
    expect(rejection('').message).toContain('key=value');
    expect(rejection('rotate').message).toContain('key=value');
    expect(rejection('rotate=-5').message).toContain('non-negative');
    expect(rejection('rotate=abc').message).toContain('key=value');
    expect(rejection('rotate=1e2').message).toContain('key=value');
    expect(rejection('rotate=10,,shift=2').message).toContain('key=value');
    expect(rejection('spin=10').message).toContain('unknown key "spin"');
    expect(rejection('rotate=10,rotate=5').message).toContain('twice');
  });

  it('rejects values out of range', () => {
    expect(rejection('rotate=181').message).toContain('180');
    expect(rejection('scale=1').message).toContain('below 1');
    expect(rejection('elastic=2,sigma=0').message).toContain('sigma');
    expect(rejection('sigma=101').message).toContain('sigma');
  });

  it('formats options on one line that parses back to them', () => {
    const cases: AugmentOptions[] = [DEFAULT_AUGMENT, { rotate: 12, shift: 2.5, scale: 0.1, elastic: 2, elasticSigma: 3 }, { ...NO_AUGMENT, elastic: 1 }];
    for (const o of cases) expect(parseAugment(formatAugment(o))).toEqual(o);
    expect(formatAugment(DEFAULT_AUGMENT)).toBe('rotate=10,shift=2,scale=0.1');
    expect(formatAugment(NO_AUGMENT)).toBe('none');
    expect(formatAugment(null)).toBe('none');
  });

  it('sizes the scratch buffer, and augmentBatch refuses a smaller one', () => {
    const affine = augmentScratchFloats(28, 28, DEFAULT_AUGMENT);
    const elastic = augmentScratchFloats(28, 28, { ...DEFAULT_AUGMENT, elastic: 2, elasticSigma: 4 });
    expect(affine).toBe(30 * 30); // the image with a one-pixel zero border
    // + noise, row pass and grid of each axis, the weights w0…w12, and 3 interpolation entries per column and row.
    expect(elastic).toBe(30 * 30 + 6 * 28 * 28 + 13 + 3 * (28 + 28));
    const X = new Float32Array(28 * 28);
    expect(() => augmentBatch(X, new Float32Array(affine - 1), new Int32Array(1), 1, 28, 28, 1, 0, DEFAULT_AUGMENT)).toThrow(/augmentScratchFloats/);
  });
});
