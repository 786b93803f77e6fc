import { PNG } from 'pngjs';
import type { Dataset } from '../../src/data/dataset.js';
import { bitwiseCrc32 } from './crc.js';

/** MNIST test digit n as a PNG, `scale`× larger, dark ink on white with a margin: a picture as a person would save one. */
export function digitPng(test: Dataset, n: number, scale: number): Buffer {
  const margin = 10, size = 28 * scale + 2 * margin;
  const png = new PNG({ width: size, height: size });
  png.data.fill(255);
  for (let y = 0; y < 28 * scale; y++) {
    for (let x = 0; x < 28 * scale; x++) {
      const v = 255 - test.images[n * 784 + Math.floor(y / scale) * 28 + Math.floor(x / scale)];
      const i = 4 * ((margin + y) * size + margin + x);
      png.data[i] = png.data[i + 1] = png.data[i + 2] = v;
    }
  }
  return PNG.sync.write(png);
}

function chunk(type: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const out = Buffer.alloc(8 + data.length + 4);
  out.writeUInt32BE(data.length, 0);
  body.copy(out, 4);
  out.writeUInt32BE(bitwiseCrc32(body, 0xedb88320), 8 + data.length);
  return out;
}

/**
 * A valid PNG header (signature, IHDR with correct checksum: 8-bit RGBA) claiming width × height pixels,
 * then a tiny IDAT and IEND: a few dozen bytes that a decoder would take at their word.
 */
export function hugePngHeader(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 6, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), chunk('IDAT', Buffer.from([0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01])), chunk('IEND', Buffer.alloc(0)),
  ]);
}
