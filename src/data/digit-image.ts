import { constants, inflateSync } from 'node:zlib';
import { PNG } from 'pngjs';
import { badData } from '../errors.js';
import { readRegularFile } from '../files.js';

/**
 * A picture of a handwritten digit, made to look like an MNIST image, the way MNIST's own images were
 * made (LeCun et al.): the ink's bounding box is scaled to fit a 20×20 box (aspect ratio kept, pixels
 * averaged over their area, so strokes get grey edges), then placed in the 28×28 field with its centre of
 * mass at the centre. Dark ink on a light background and light on dark both work.
 */

/** A one-channel image: ink in [0, 1] (0 is background), row-major. */
export interface InkImage {
  width: number;
  height: number;
  ink: Float32Array;
}

/** What to make: the model's input size and the box the digit is scaled into (MNIST: 28×28, 20). */
export interface DigitShape {
  height: number;
  width: number;
  box: number;
}

export const MNIST_SHAPE: DigitShape = { height: 28, width: 28, box: 20 };

/** Ink weaker than this share of the strongest is background for the bounding box (paper texture, JPEG noise). */
const INK_FLOOR = 0.2;

/**
 * The most pixels a picture may have (4096 × 4096): decoding takes about 12 bytes a pixel, so a PNG whose
 * header claims more (a few hundred bytes can claim 100,000 × 100,000) is refused before it is decoded.
 */
export const MAX_PICTURE_PIXELS = 4096 * 4096;

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/**
 * Reads a PNG (grey, RGB, with or without alpha, any bit depth) as ink: luminance over a white background
 * (transparent pixels are background), inverted when the image's border is light.
 */
export async function readInkPng(file: string): Promise<InkImage> {
  // A picture is often named by hand: a missing one is said plainly.
  const error = (f: string, problem: string) => badData(f, problem.startsWith('cannot be read (ENOENT)') ? 'no such file' : problem);
  return decodeInkPng(await readRegularFile(file, MAX_PNG_BYTES, error, 'picture of a digit'), file);
}

/** The largest PNG file read: a 4096×4096 RGBA picture at 16 bits stored uncompressed, and its chunks. */
const MAX_PNG_BYTES = 8 * MAX_PICTURE_PIXELS + (1 << 20);

/**
 * The size a PNG declares in its header (the IHDR chunk, which must come first), read without decoding.
 * Throws BAD_DATA, naming `name`, when the bytes are not a PNG or the size is zero or over MAX_PICTURE_PIXELS.
 */
export function pngSize(bytes: Uint8Array, name: string): { width: number; height: number } {
  const isPng = bytes.length >= 24 && PNG_SIGNATURE.every((b, i) => bytes[i] === b) &&
    String.fromCharCode(bytes[12], bytes[13], bytes[14], bytes[15]) === 'IHDR';
  if (!isPng) throw badData(name, 'is not a readable PNG image (no PNG signature and header); save the digit as PNG');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const width = view.getUint32(16), height = view.getUint32(20);
  if (width === 0 || height === 0) throw badData(name, `is a PNG of ${width}×${height} pixels: it holds no picture`);
  if (width * height > MAX_PICTURE_PIXELS) {
    throw badData(name, `is a PNG of ${width.toLocaleString('en-US')}×${height.toLocaleString('en-US')} pixels; pictures of at most ` +
      `${MAX_PICTURE_PIXELS.toLocaleString('en-US')} pixels (4096×4096) are read: scale it down`);
  }
  return { width, height };
}

/**
 * The bytes a PNG's image data may inflate to, from its header: per row a filter byte and the row's
 * pixels, for each of Adam7's seven passes when interlaced. pngjs bounds the inflation of a plain PNG by
 * this itself, but not of an interlaced one, where a few kilobytes could inflate to gigabytes.
 */
function inflatedSize(width: number, height: number, bitsPerPixel: number, interlaced: boolean): number {
  const rowBytes = (w: number) => (w === 0 ? 0 : 1 + Math.ceil((w * bitsPerPixel) / 8));
  if (!interlaced) return height * rowBytes(width);
  const passes = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]];
  let total = 0;
  for (const [x0, y0, dx, dy] of passes) {
    const w = Math.ceil(Math.max(0, width - x0) / dx), h = Math.ceil(Math.max(0, height - y0) / dy);
    total += h * rowBytes(w);
  }
  return total;
}

/** Channels per pixel of each PNG colour type (grey, RGB, palette, grey + alpha, RGBA). */
const PNG_CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/**
 * Refuses a PNG whose image data does not inflate to exactly what its declared size needs: more is a
 * decompression bomb, less (or none) a cut or damaged file whose header could still make the decoder
 * allocate for millions of pixels. The IDAT chunks are joined and inflated, at most one byte past the need.
 */
function checkImageData(bytes: Buffer, width: number, height: number, name: string): void {
  const channels = PNG_CHANNELS[bytes[25]], depth = bytes[24], interlaced = bytes[28] === 1;
  if (channels === undefined || ![1, 2, 4, 8, 16].includes(depth)) return; // pngjs names what is wrong
  const idat: Buffer[] = [];
  for (let at = 8; at + 8 <= bytes.length;) {
    const length = bytes.readUInt32BE(at), type = bytes.toString('latin1', at + 4, at + 8);
    if (at + 12 + length > bytes.length) break; // cut short: what was read is checked below
    if (type === 'IDAT') idat.push(bytes.subarray(at + 8, at + 8 + length));
    at += 12 + length;
  }
  if (idat.length === 0) throw badData(name, 'is a PNG without image data (no IDAT chunk); save the digit as PNG again');
  const need = inflatedSize(width, height, channels * depth, interlaced);
  const pixels = `${width}×${height} pixels`;
  let inflated: Buffer | null; // null: more than need + 1 bytes
  try {
    inflated = inflateSync(Buffer.concat(idat), { maxOutputLength: need + 1, finishFlush: constants.Z_SYNC_FLUSH }); // a cut stream gives what it has
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ERR_BUFFER_TOO_LARGE') {
      throw badData(name, `is a PNG whose image data is damaged (${err instanceof Error ? err.message : String(err)}); save the digit as PNG again`);
    }
    inflated = null;
  }
  if (inflated === null || inflated.length > need) {
    throw badData(name, `is a PNG whose image data inflates to more than the ${need.toLocaleString('en-US')} bytes its ${pixels} need: header and data disagree (a damaged file, or a decompression bomb); save the digit as PNG again`);
  }
  if (inflated.length < need) {
    throw badData(name, `is a PNG whose image data ends after ${inflated.length.toLocaleString('en-US')} of the ${need.toLocaleString('en-US')} bytes its ${pixels} need: the file is cut short or damaged`);
  }
}

/** readInkPng for PNG bytes already in memory (`name` names them in errors): size and image data are checked before decoding. */
export function decodeInkPng(bytes: Uint8Array, name: string): InkImage {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const size = pngSize(bytes, name);
  checkImageData(buffer, size.width, size.height, name);
  let png: { width: number; height: number; data: Buffer };
  try {
    png = PNG.sync.read(buffer);
  } catch (err) {
    throw badData(name, `is not a readable PNG image (${err instanceof Error ? err.message : String(err)}); save the digit as PNG`);
  }
  const { width, height, data } = png;
  const light = new Float32Array(width * height);
  for (let i = 0; i < light.length; i++) {
    const [r, g, b, a] = [data[4 * i], data[4 * i + 1], data[4 * i + 2], data[4 * i + 3] / 255];
    const luminance = (0.299 * r + 0.587 * g + 0.114 * b) / 255;
    light[i] = a * luminance + (1 - a); // composited over white
  }
  return { width, height, ink: inkFromLight(light, width, height) };
}

/** Ink from light values in [0, 1]: 1 − light when the border is mostly light (dark ink on paper), else light. */
export function inkFromLight(light: Float32Array, width: number, height: number): Float32Array {
  let border = 0, count = 0;
  for (let x = 0; x < width; x++) {
    border += light[x] + light[(height - 1) * width + x];
    count += 2;
  }
  for (let y = 1; y < height - 1; y++) {
    border += light[y * width] + light[y * width + width - 1];
    count += 2;
  }
  const invert = border / count > 0.5;
  return invert ? light.map((v) => 1 - v) : light.slice();
}

/** The strongest ink of the picture; throws BAD_DATA, naming `name`, when there is none to speak of. */
function strongestInk(img: InkImage, name: string): number {
  let max = 0;
  for (const v of img.ink) if (v > max) max = v;
  if (max <= 0.05) throw badData(name, 'has no ink: it is blank (or all one shade)');
  return max;
}

/**
 * The MNIST-style image of the digit in `img` (see the top of this file), `shape.height × shape.width`
 * floats in [0, 1]. Throws BAD_DATA, naming `name`, when the image has no ink.
 */
export function toDigitImage(img: InkImage, shape: DigitShape = MNIST_SHAPE, name = 'the image'): Float32Array {
  const { width: W, height: H, ink } = img;
  const max = strongestInk(img, name);

  // The bounding box of the ink above the floor.
  let x0 = W, y0 = H, x1 = -1, y1 = -1;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      if (ink[y * W + x] < INK_FLOOR * max) continue;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  const bw = x1 - x0 + 1, bh = y1 - y0 + 1;
  const crop = new Float32Array(bw * bh);
  for (let y = 0; y < bh; y++) {
    for (let x = 0; x < bw; x++) {
      const v = ink[(y0 + y) * W + x0 + x] / max; // the strongest ink becomes 1, as in MNIST
      crop[y * bw + x] = v < INK_FLOOR ? 0 : v;
    }
  }

  // Scale the longer side to the box, keeping the aspect ratio.
  const scale = shape.box / Math.max(bw, bh);
  const ow = Math.max(1, Math.min(shape.box, Math.round(bw * scale)));
  const oh = Math.max(1, Math.min(shape.box, Math.round(bh * scale)));
  const boxed = resampleArea(crop, bw, bh, ow, oh);

  // Place it so that its centre of mass lands on the field's centre (whole pixels, kept inside the field).
  let mass = 0, mx = 0, my = 0;
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      const v = boxed[y * ow + x];
      mass += v;
      mx += v * x;
      my += v * y;
    }
  }
  const clamp = (v: number, hi: number) => Math.max(0, Math.min(hi, v));
  const left = clamp(Math.round((shape.width - 1) / 2 - mx / mass), shape.width - ow);
  const top = clamp(Math.round((shape.height - 1) / 2 - my / mass), shape.height - oh);
  const out = new Float32Array(shape.height * shape.width);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) out[(top + y) * shape.width + left + x] = boxed[y * ow + x];
  }
  return out;
}

/**
 * The whole picture scaled to the model's input, for models trained on other pictures than handwritten
 * digits (clothes, letters in another framing): no cropping to the ink and no recentring, only the aspect
 * ratio kept (the picture fitted inside, centred, the rest background) and pixels area-averaged. A picture
 * already of the input's size comes through unchanged. Throws BAD_DATA, naming `name`, for a blank one.
 */
export function toResizedImage(img: InkImage, shape: { height: number; width: number }, name = 'the image'): Float32Array {
  const { width: W, height: H, ink } = img;
  strongestInk(img, name);
  const scale = Math.min(shape.width / W, shape.height / H);
  const ow = Math.max(1, Math.min(shape.width, Math.round(W * scale)));
  const oh = Math.max(1, Math.min(shape.height, Math.round(H * scale)));
  const scaled = resampleArea(ink, W, H, ow, oh);
  const left = Math.floor((shape.width - ow) / 2);
  const top = Math.floor((shape.height - oh) / 2);
  const out = new Float32Array(shape.height * shape.width);
  for (let y = 0; y < oh; y++) out.set(scaled.subarray(y * ow, (y + 1) * ow), (top + y) * shape.width + left);
  return out;
}

/**
 * Resizes a sw×sh image to dw×dh by area averaging: each output pixel is the mean of the source over the
 * rectangle it covers, partial pixels weighted by their covered part (separable: rows, then columns).
 */
export function resampleArea(src: Float32Array, sw: number, sh: number, dw: number, dh: number): Float32Array {
  const rows = new Float32Array(sh * dw); // each source row resized to dw
  for (let y = 0; y < sh; y++) resample1d(src, y * sw, 1, sw, rows, y * dw, 1, dw);
  const out = new Float32Array(dh * dw);
  for (let x = 0; x < dw; x++) resample1d(rows, x, dw, sh, out, x, dw, dh);
  return out;
}

/** Area-averaging resize of n values (at src[from + i·stride]) to m values (at dst[to + j·dstStride]). */
function resample1d(src: Float32Array, from: number, stride: number, n: number, dst: Float32Array, to: number, dstStride: number, m: number): void {
  const step = n / m; // source pixels per output pixel
  for (let j = 0; j < m; j++) {
    const a = j * step, b = (j + 1) * step;
    let sum = 0;
    for (let i = Math.floor(a); i < Math.min(n, Math.ceil(b)); i++) {
      const covered = Math.min(b, i + 1) - Math.max(a, i);
      sum += covered * src[from + i * stride];
    }
    dst[to + j * dstStride] = sum / step;
  }
}
