import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeEvent, frameRecord, maskedCrc32c } from '../src/logs/tensorboard.js';
import { CSV_COLUMNS } from '../src/logs/log-dir.js';
import { cliTempDir, runCli } from './helpers/cli.js';
import { bitwiseCrc32 } from './helpers/crc.js';

/**
 * `train --log-dir`: TensorBoard event files read back record by record, with the checksums recomputed by
 * an independent CRC32C (bitwise, from the polynomial) and the messages decoded by a protobuf reader of
 * our own; metrics.csv against the epoch events of the same run.
 */

const dir = cliTempDir('mnist-dp-logdir-');

/** CRC32C (Castagnoli), bitwise from its polynomial: the reference. */
const referenceCrc32c = (bytes: Uint8Array) => bitwiseCrc32(bytes, 0x82f63b78);

// Reference: TensorFlow tsl/lib/hash/crc32c.h, Mask(): rotate right by 15 bits, add 0xa282ead8.
const mask = (crc: number) => ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;

/** The records of an event file; throws on a bad length or checksum. */
function readRecords(bytes: Buffer): Buffer[] {
  const records: Buffer[] = [];
  let at = 0;
  while (at < bytes.length) {
    const length = Number(bytes.readBigUInt64LE(at));
    expect(bytes.readUInt32LE(at + 8), 'length checksum').toBe(mask(referenceCrc32c(bytes.subarray(at, at + 8))));
    const data = bytes.subarray(at + 12, at + 12 + length);
    expect(bytes.readUInt32LE(at + 12 + length), 'data checksum').toBe(mask(referenceCrc32c(data)));
    records.push(data);
    at += 12 + length + 4;
  }
  expect(at).toBe(bytes.length);
  return records;
}

type Field = { field: number; value: number | bigint | Buffer };

/** The fields of a protobuf message (varint, fixed64 as double, length-delimited as bytes, fixed32 as float). */
function fields(msg: Buffer): Field[] {
  const out: Field[] = [];
  let at = 0;
  const varint = () => {
    let v = 0n, shift = 0n, b;
    do {
      b = msg[at++];
      v |= BigInt(b & 0x7f) << shift;
      shift += 7n;
    } while (b & 0x80);
    return v;
  };
  while (at < msg.length) {
    const key = Number(varint());
    const field = key >> 3, wire = key & 7;
    if (wire === 0) out.push({ field, value: varint() });
    else if (wire === 1) { out.push({ field, value: msg.readDoubleLE(at) }); at += 8; }
    else if (wire === 2) { const n = Number(varint()); out.push({ field, value: msg.subarray(at, at + n) }); at += n; }
    else if (wire === 5) { out.push({ field, value: msg.readFloatLE(at) }); at += 4; }
    else throw new Error(`wire type ${wire}`);
  }
  return out;
}

/** An Event (event.proto): wall_time 1, step 2, file_version 3, summary 5 { value 1 { tag 1, simple_value 2 } }. */
function decodeEvent(msg: Buffer) {
  const f = fields(msg);
  const get = (n: number) => f.find((x) => x.field === n)?.value;
  const summary = get(5) as Buffer | undefined;
  const scalars: Record<string, number> = {};
  if (summary) {
    for (const v of fields(summary).filter((x) => x.field === 1)) {
      const vf = fields(v.value as Buffer);
      scalars[(vf.find((x) => x.field === 1)!.value as Buffer).toString('utf8')] = vf.find((x) => x.field === 2)!.value as number;
    }
  }
  const version = get(3) as Buffer | undefined;
  return { wallTime: get(1) as number, step: Number(get(2) ?? 0n), fileVersion: version?.toString('utf8'), scalars };
}

describe('TensorBoard records', () => {
  it('the CRC32C matches the reference on the standard check string and on random bytes', () => {
    // Reference: the CRC catalogue's check value for CRC-32C (iSCSI): crc("123456789") = 0xE3069283.
    expect(referenceCrc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 2654435761) >>> 24);
    for (const n of [0, 1, 7, 8, 999, 1000]) expect(maskedCrc32c(bytes.subarray(0, n))).toBe(mask(referenceCrc32c(bytes.subarray(0, n))));
  });

  it('a framed event decodes back to its wall time, step and scalars', () => {
    const record = frameRecord(encodeEvent({ wallTime: 1764582000.25, step: 300, scalars: [{ tag: 'loss/train', value: 0.123 }, { tag: 'a', value: -2 }] }));
    const [data] = readRecords(record);
    expect(decodeEvent(data)).toEqual({ wallTime: 1764582000.25, step: 300, fileVersion: undefined, scalars: { 'loss/train': Math.fround(0.123), a: -2 } });
  });
});

describe('train --log-dir', () => {
  it('writes one CSV row and one TensorBoard event per epoch, equal to the epoch events', () => {
    const logDir = join(dir(), 'runs', 'tiny');
    const r = runCli(dir(), ['train', '--layers', '784-32-10', '--epochs', '3', '--train-size', '2000', '--val-size', '500', '--workers', '1',
      '--out', 'tiny.ckpt', '--json', '--log-dir', logDir]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const epochs = lines.filter((e) => e.type === 'epoch');
    const done = lines.find((e) => e.type === 'done');
    expect(epochs).toHaveLength(3);

    const csv = readFileSync(join(logDir, 'metrics.csv'), 'utf8').trim().split('\n').map((l) => l.split(','));
    expect(csv[0]).toEqual([...CSV_COLUMNS]);
    expect(csv).toHaveLength(4);
    csv.slice(1).forEach((row, i) => {
      const e = epochs[i];
      expect(Number(row[0])).toBe(e.epoch);
      expect(Number(row[1])).toBe(e.trainLoss);
      expect(Number(row[3])).toBe(e.valAccuracy);
      expect(Number(row[4])).toBe(e.lr);
      expect(Number(row[8])).toBe(e.stepMicros.gradients);
      expect(row[11]).toBe('false');
    });

    const files = readdirSync(logDir).filter((f) => f.startsWith('events.out.tfevents.'));
    expect(files).toHaveLength(1);
    const events = readRecords(readFileSync(join(logDir, files[0]))).map(decodeEvent);
    expect(events[0].fileVersion).toBe('brain.Event:2');
    const perEpoch = events.filter((e) => 'loss/train' in e.scalars);
    expect(perEpoch.map((e) => e.step)).toEqual([1, 2, 3]);
    perEpoch.forEach((ev, i) => {
      const e = epochs[i];
      expect(ev.scalars).toEqual({
        'loss/train': Math.fround(e.trainLoss), 'loss/validation': Math.fround(e.valLoss), 'accuracy/validation': Math.fround(e.valAccuracy),
        learning_rate: Math.fround(e.lr), samples_per_second: Math.fround(e.samplesPerSecond),
        'step_micros/gradients': Math.fround(e.stepMicros.gradients), 'step_micros/update': Math.fround(e.stepMicros.update),
        'step_micros/barriers': Math.fround(e.stepMicros.barriers),
      });
      expect(Math.abs(ev.wallTime - Date.now() / 1000)).toBeLessThan(120);
    });
    expect(events.at(-1)!.scalars['accuracy/test']).toBe(Math.fround(done.testAccuracy));
  });

  it('a folder that cannot be made is refused in one line, before training', () => {
    const r = runCli(dir(), ['train', '--layers', '784-32-10', '--epochs', '1', '--train-size', '500', '--workers', '1', '--no-out',
      '--log-dir', '/dev/null/logs']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^mnist-dp: error: --log-dir \/dev\/null\/logs cannot be written \(\w+\); give a folder you can write to\n$/);
  });
});
