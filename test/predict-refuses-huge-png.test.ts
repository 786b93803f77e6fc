import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pngSize, readInkPng } from '../src/data/digit-image.js';
import { MnistDpError } from '../src/errors.js';
import { cliTempDir, runCli } from './helpers/cli.js';
import { hugePngHeader } from './helpers/pictures.js';

/**
 * A PNG is a few bytes that may claim any size: readInkPng (and so `mnist-dp predict` and the serve page)
 * reads the width and height from the IHDR chunk and refuses more than 4096 × 4096 pixels before decoding.
 */

const dir = cliTempDir('mnist-dp-huge-png-');

describe('readInkPng', () => {
  it('reads the declared size from the header, without decoding', () => {
    expect(pngSize(hugePngHeader(300, 200), 'x')).toEqual({ width: 300, height: 200 });
    expect(pngSize(hugePngHeader(4096, 4096), 'x')).toEqual({ width: 4096, height: 4096 });
  });

  it('refuses a 100,000 × 100,000 header at once, naming the file and the size', async () => {
    const file = join(dir(), 'huge.png');
    await writeFile(file, hugePngHeader(100_000, 100_000));
    const started = performance.now();
    const err = await readInkPng(file).catch((e: unknown) => e);
    expect(performance.now() - started).toBeLessThan(500);
    expect(err).toBeInstanceOf(MnistDpError);
    expect((err as MnistDpError).code).toBe('BAD_DATA');
    expect((err as Error).message).toBe(`${file}: is a PNG of 100,000×100,000 pixels; pictures of at most 16,777,216 pixels (4096×4096) are read: scale it down`);
  });

  it('refuses one pixel over the limit and a zero-sized picture', () => {
    expect(() => pngSize(hugePngHeader(4097, 4096), 'x')).toThrow(/4,097×4,096 pixels/);
    expect(() => pngSize(hugePngHeader(0, 10), 'x')).toThrow(/0×10 pixels: it holds no picture/);
  });
});

describe('mnist-dp predict', () => {
  it('prints one line for a huge PNG header and exits 1', async () => {
    const file = join(dir(), 'huge-cli.png');
    await writeFile(file, hugePngHeader(100_000, 100_000));
    const r = runCli(dir(), ['predict', file]);
    expect(r.code).toBe(1);
    expect(r.lines).toEqual([`mnist-dp: error: ${file}: is a PNG of 100,000×100,000 pixels; pictures of at most 16,777,216 pixels (4096×4096) are read: scale it down`]);
  });
});
