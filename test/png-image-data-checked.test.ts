import { deflateSync } from 'node:zlib';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { decodeInkPng } from '../src/data/digit-image.js';
import { greyPng as pngOf, pngChunk as chunk } from '../scripts/fuzz/bombs.js';

/**
 * Before decoding, the PNG reader inflates the image data under a bound taken from the header: exactly
 * the bytes the declared pixels need (per row a filter byte; per Adam7 pass when interlaced). More is a
 * bomb or a damaged file, less a cut one whose header could make the decoder allocate for millions of
 * pixels; both are refused in one line. Real pictures, plain and interlaced, still read.
 */

/** A grey 8-bit PNG of `width`×`height` whose image data is `raw` (filtered rows), deflated. */
const greyPng = (width: number, height: number, interlace: 0 | 1, raw: Buffer) => pngOf(width, height, interlace, deflateSync(raw));

/** The filtered rows (filter 0) of a grey picture, interlaced by Adam7's seven passes when asked. */
function rawRows(pixels: Uint8Array, width: number, height: number, interlace: boolean): Buffer {
  const passes = interlace
    ? [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]]
    : [[0, 0, 1, 1]];
  const bytes: number[] = [];
  for (const [x0, y0, dx, dy] of passes) {
    if (x0 >= width || y0 >= height) continue; // an empty pass has no rows, not even filter bytes
    for (let y = y0; y < height; y += dy) {
      bytes.push(0);
      for (let x = x0; x < width; x += dx) bytes.push(pixels[y * width + x]);
    }
  }
  return Buffer.from(bytes);
}

/** A dark stroke on white, as a phone photo of a digit would be. */
function strokePicture(width: number, height: number): Uint8Array {
  const p = new Uint8Array(width * height).fill(250);
  for (let y = 3; y < height - 3; y++) p[y * width + Math.floor(width / 2)] = p[y * width + Math.floor(width / 2) + 1] = 10;
  return p;
}

describe('a PNG whose image data and header disagree', () => {
  it('an interlaced picture reads as the same picture saved plainly, for sizes whose Adam7 passes are partly empty', () => {
    for (const [w, h] of [[28, 28], [5, 3], [1, 1], [13, 9], [56, 41]]) {
      const pixels = strokePicture(w, h);
      const plain = decodeInkPng(greyPng(w, h, 0, rawRows(pixels, w, h, false)), 'plain.png');
      const interlaced = decodeInkPng(greyPng(w, h, 1, rawRows(pixels, w, h, true)), 'interlaced.png');
      expect(interlaced, `${w}×${h}`).toEqual(plain);
    }
    // And a PNG that pngjs itself writes (plain, RGBA).
    const png = new PNG({ width: 20, height: 30 });
    png.data.fill(255);
    expect(decodeInkPng(PNG.sync.write(png), 'white.png').width).toBe(20);
  });

  it('data inflating past the declared pixels (a bomb) is refused before decoding', () => {
    const bomb = greyPng(56, 56, 1, Buffer.alloc(20_000_000)); // 20 MB of rows for 56×56 pixels, in 20 kB
    expect(bomb.length).toBeLessThan(30_000);
    expect(() => decodeInkPng(bomb, 'bomb.png')).toThrow(
      'bomb.png: is a PNG whose image data inflates to more than the 3,241 bytes its 56×56 pixels need: header and data disagree (a damaged file, or a decompression bomb); save the digit as PNG again');
    expect(() => decodeInkPng(greyPng(28, 28, 0, Buffer.alloc(28 * 29 + 1)), 'one-more.png')).toThrow(/more than the 812 bytes its 28×28 pixels need/);
  });

  it('data that ends early, or none, is refused before the decoder allocates for the declared size', () => {
    const before = process.memoryUsage().rss;
    // 8 × 1,000,000 pixels declared (within the 4096² limit), 392 bytes of rows given.
    expect(() => decodeInkPng(greyPng(8, 1_000_000, 0, Buffer.alloc(392)), 'cut.png')).toThrow(
      'cut.png: is a PNG whose image data ends after 392 of the 9,000,000 bytes its 8×1000000 pixels need: the file is cut short or damaged');
    expect(process.memoryUsage().rss - before).toBeLessThan(50e6);
    const header = greyPng(12, 12, 0, Buffer.alloc(12 * 13));
    const withoutData = Buffer.concat([header.subarray(0, 33), chunk('IEND', Buffer.alloc(0))]);
    expect(() => decodeInkPng(withoutData, 'empty.png')).toThrow('empty.png: is a PNG without image data (no IDAT chunk); save the digit as PNG again');
    const damaged = greyPng(12, 12, 0, Buffer.alloc(12 * 13));
    damaged.writeUInt8(0xff, 41); // the zlib header of the IDAT
    expect(() => decodeInkPng(damaged, 'damaged.png')).toThrow(/^damaged\.png: is a PNG whose image data is damaged \(.+\); save the digit as PNG again$/);
  });
});
