import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pack, unpack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../src/checkpoint.js';
import { MnistDpError } from '../src/errors.js';
import { makeSpec, parseCnnSpec, type ModelSpec } from '../src/model/spec.js';
import { cliTempDir, runCli } from './helpers/cli.js';
import { untrainedCheckpoint } from './helpers/tiny-models.js';

/**
 * A checkpoint is checked as a whole when it is loaded (issue 12, item 5): each damaged file below ends
 * in one BAD_CHECKPOINT line naming the file (exit 1 on the command line), never in a TypeError, a flag
 * error, a kernel error or a run that trains nonsense. Files written before the checksum still load.
 */

const work = cliTempDir('mnist-dp-ckpt-validate-');
type Rec = { [key: string]: any }; // eslint-disable-line @typescript-eslint/no-explicit-any

let n = 0;
/** A valid checkpoint of `spec`, its record changed by `edit`, written to a new file. */
async function damaged(edit: (r: Rec) => void, spec: ModelSpec = makeSpec([4, 3, 2], { kind: 'relu' }, 'cross-entropy')): Promise<string> {
  const file = await untrainedCheckpoint(work(), `c${n++}.ckpt`, spec);
  const r = unpack(await readFile(file)) as Rec;
  edit(r);
  await writeFile(file, pack(r));
  return file;
}

async function refusal(file: string): Promise<string> {
  const err = await loadCheckpoint(file).then(() => expect.fail(`${file} loaded`), (e: unknown) => e);
  expect(err).toBeInstanceOf(MnistDpError);
  expect((err as MnistDpError).code).toBe('BAD_CHECKPOINT');
  expect((err as MnistDpError).exitCode).toBe(1);
  const { message } = err as MnistDpError;
  expect(message.startsWith(`${file}: `)).toBe(true);
  expect(message).not.toContain('\n');
  return message;
}

/** Sets one float of a tensor's bytes. */
const setFloat = (bytes: Uint8Array, index: number, value: number) => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).setFloat32(4 * index, value, true);

describe('a damaged checkpoint is refused on load, naming the file', () => {
  it('a spec the command line could not have made: loss "foo", kind "rnn", an unknown layer kind, a window padded too far', async () => {
    expect(await refusal(await damaged((r) => (r.spec.loss = 'foo')))).toContain('holds an invalid model (loss "foo" is unknown; use cross-entropy or squared-error)');
    expect(await refusal(await damaged((r) => (r.spec.kind = 'rnn')))).toContain('holds an invalid model (the model kind "rnn" is unknown (mlp or cnn))');
    const cnn = parseCnnSpec('c2k3-relu-fc2', { height: 6, width: 6, channels: 1 });
    expect(await refusal(await damaged((r) => r.spec.layers.splice(1, 0, { kind: 'lstm', units: 3 }), cnn))).toMatch(/holds an invalid model \(.*unknown.*"lstm"/);
    expect(await refusal(await damaged((r) => (r.spec.layers[0].pad = 5), cnn))).toMatch(/holds an invalid model \(.*padding must be smaller than the window\)/);
  });

  it('fields that are missing or of the wrong type, without a TypeError', async () => {
    expect(await refusal(await damaged((r) => delete r.spec))).toContain('holds an invalid model (the model spec is undefined');
    expect(await refusal(await damaged((r) => {
      r.optimizer = null;
      delete r.checksum;
    }))).toContain('holds the state of an unknown optimiser "undefined"');
    expect(await refusal(await damaged((r) => (r.options = 'x')))).toContain('holds invalid training options');
    expect(await refusal(await damaged((r) => (r.metrics = [{ epoch: 'one' }])))).toMatch(/invalid metrics|metrics for 0 epochs/);
  });

  it('training options out of range, in the words of their flag', async () => {
    expect(await refusal(await damaged((r) => (r.options.lr = -1)))).toContain('holds invalid training options (--lr must be a positive number, got -1)');
  });

  it('a position past the end of the run, or a step no epoch reaches', async () => {
    expect(await refusal(await damaged((r) => (r.position.epoch = 10 ** 6)))).toContain(`says 1000000 epochs are done of a run of 20`);
    expect(await refusal(await damaged((r) => (r.position.step = 1000000001)))).toContain('says step 1000000001');
    expect(await refusal(await damaged((r) => (r.position.lossSum = Number.NaN)))).toContain('holds an invalid position');
  });

  it('a batch norm recalibration record that is not two counts', async () => {
    expect(await refusal(await damaged((r) => (r.recalibratedBn = { images: 0, micro: 32 })))).toContain('holds an invalid batch norm recalibration record ({"images":0,"micro":32})');
    expect(await refusal(await damaged((r) => (r.recalibratedBn = 'yes')))).toContain('holds an invalid batch norm recalibration record ("yes")');
    expect((await loadCheckpoint(await damaged((r) => (r.recalibratedBn = { images: 10, micro: 2 })))).recalibratedBn).toEqual({ images: 10, micro: 2 });
  });

  it('a NaN weight, and a flipped bit in the weights (the checksum)', async () => {
    const nan = await damaged((r) => {
      setFloat(r.params, 3, Number.NaN);
      delete r.checksum; // as in a file from before the checksum: the NaN itself must be found
    });
    expect(await refusal(nan)).toContain('its params hold NaN at index 3; every weight must be finite');
    const flipped = await damaged((r) => (r.params[5] ^= 0x01));
    expect(await refusal(flipped)).toContain('its weights do not match their checksum');
  });

  it('still loads a file written before the checksum', async () => {
    const old = await damaged((r) => delete r.checksum);
    expect((await loadCheckpoint(old)).spec.kind).toBe('mlp');
  });

  it('makes the command line exit 1 with one line, not 2 as for a flag', async () => {
    const cnn = parseCnnSpec('c2k3-relu-fc10');
    const file = await damaged((r) => (r.spec.layers[0].pad = 5), cnn);
    const r = runCli(work(), ['eval', '--model', file]);
    expect(r.code).toBe(1);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(new RegExp(`^mnist-dp: error: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: holds an invalid model`));
  });
});

describe('a resume point that does not fit the data', () => {
  it('is refused before training: a step past the end of the epoch', async () => {
    const { train } = await import('../src/api.js');
    const out = join(work(), 'short.ckpt');
    await train({ epochs: 2, trainSize: 200, valSize: 0, batchSize: 50, layers: '784-8-10', workers: 1, out, seed: 3 }, { signal: AbortSignal.abort() });
    const r = unpack(await readFile(out)) as Rec;
    r.position = { epoch: 0, step: 9, lossSum: 1, samples: 450 };
    delete r.checksum;
    await writeFile(out, pack(r));
    const err = await train({ resume: out, workers: 1 }).then(() => expect.fail('resumed'), (e: unknown) => e);
    expect(err).toMatchObject({ code: 'BAD_CHECKPOINT' });
    expect((err as Error).message).toBe(`${out}: says step 10 of an epoch of 4 steps; the file is damaged, or --data is not the run's data set`);
  });
});
