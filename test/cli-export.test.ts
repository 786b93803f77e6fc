import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pack, unpack } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../src/checkpoint.js';
import { importSafetensors } from '../src/export/safetensors.js';
import { parseCnnSpec } from '../src/model/spec.js';
import { cliTempDir, runCli } from './helpers/cli.js';
import { testImages } from './helpers/export-models.js';
import { maxAbsDiff, runOnnx } from './helpers/onnxruntime.js';
import { trainTinyMlp, untrainedCheckpoint } from './helpers/tiny-models.js';

/**
 * `mnist-dp export` writes the ONNX and safetensors files of a checkpoint, atomically, and never over an
 * existing file without --force; bad flags exit 2 and bad checkpoints 1, each with one line.
 */

const dir = cliTempDir('mnist-dp-export-');

describe('mnist-dp export', () => {
  it('writes an ONNX file onnxruntime-web runs as model.predict, and safetensors that read back bit for bit; leaves no temporary file', async () => {
    const ckpt = await trainTinyMlp(dir(), 1);
    const r = runCli(dir(), ['export', '--model', ckpt, '--onnx', 'tiny.onnx', '--safetensors', 'tiny.safetensors']);
    expect(r.lines).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^tiny\.onnx {2}[\d,]+ bytes\ntiny\.safetensors {2}[\d,]+ bytes\n$/);
    const model = await loadModel(ckpt);
    const { images } = await testImages(100);
    const got = await runOnnx(new Uint8Array(readFileSync(join(dir(), 'tiny.onnx'))), images, [1, 28, 28]);
    expect(maxAbsDiff(got, model.predict(images))).toBeLessThan(1e-5);
    const back = importSafetensors(new Uint8Array(readFileSync(join(dir(), 'tiny.safetensors'))));
    expect(Buffer.from(back.predict(images).buffer).equals(Buffer.from(model.predict(images).buffer))).toBe(true);
    expect(back.info.testAccuracy).toBe(model.info.testAccuracy);
    expect(readdirSync(dir()).filter((f) => f.includes('.tmp'))).toEqual([]);
  }, 60_000);

  it('does not overwrite an existing file without --force, and does with it', async () => {
    const ckpt = await trainTinyMlp(dir(), 2);
    writeFileSync(join(dir(), 'taken.onnx'), 'keep me');
    const refused = runCli(dir(), ['export', '--model', ckpt, '--onnx', 'taken.onnx']);
    expect(refused.code).toBe(2);
    expect(refused.lines).toEqual(['mnist-dp: error: --onnx taken.onnx exists; pick another file, or give --force to overwrite it']);
    expect(readFileSync(join(dir(), 'taken.onnx'), 'utf8')).toBe('keep me');
    const forced = runCli(dir(), ['export', '--model', ckpt, '--onnx', 'taken.onnx', '--force']);
    expect(forced.code).toBe(0);
    expect(readFileSync(join(dir(), 'taken.onnx')).length).toBeGreaterThan(1000);
  }, 60_000);

  it('refuses a corrupt checkpoint and one of an unknown layer kind with one line and exit 1, writing nothing', async () => {
    const good = await untrainedCheckpoint(dir(), 'cnn.ckpt', parseCnnSpec('c4k3-relu-fc10'));
    const bytes = readFileSync(good);
    writeFileSync(join(dir(), 'cut.ckpt'), bytes.subarray(0, bytes.length >> 1));
    const record = unpack(bytes) as { spec: { layers: { kind: string }[] } };
    record.spec.layers[0].kind = 'winograd';
    writeFileSync(join(dir(), 'unknown.ckpt'), pack(record));
    for (const file of ['cut.ckpt', 'unknown.ckpt']) {
      const r = runCli(dir(), ['export', '--model', file, '--onnx', `${file}.onnx`]);
      expect(r.code, r.stderr).toBe(1);
      expect(r.lines).toHaveLength(1);
      expect(r.lines[0]).toMatch(new RegExp(`^mnist-dp: error: ${file.replace('.', '\\.')}: `));
      expect(readdirSync(dir()).filter((f) => f.startsWith(`${file}.onnx`) || f.startsWith(`.${file}.onnx`))).toEqual([]);
    }
    expect(runCli(dir(), ['export', '--model', 'unknown.ckpt', '--onnx', 'x.onnx']).lines[0]).toMatch(/winograd/);
  }, 60_000);

  it('refuses flags that do not fit with exit 2 and one line', async () => {
    const ckpt = join(dir(), 'cnn.ckpt');
    const cases: [string[], RegExp][] = [
      [['--model', ckpt], /give --onnx OUT\.onnx, --safetensors OUT\.safetensors or both/],
      [['--model', ckpt, '--model', ckpt, '--safetensors', 'two.safetensors'], /--safetensors writes one model's weights; 2 --model were given/],
      [['--model', ckpt, '--tta', '--safetensors', 'w.safetensors'], /--tta belongs to the ONNX graph/],
      [['--model', ckpt, '--onnx', 'same', '--safetensors', 'same'], /name the same file/],
    ];
    for (const [args, message] of cases) {
      const r = runCli(dir(), ['export', ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.lines).toHaveLength(1);
      expect(r.lines[0]).toMatch(message);
    }
  }, 60_000);
});
