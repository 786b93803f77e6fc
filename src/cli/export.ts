import type { Argv } from 'yargs';
import { loadModel } from '../checkpoint.js';
import { badCheckpoint, badOption, MnistDpError } from '../errors.js';
import { exportOnnx } from '../export/onnx.js';
import { exportSafetensors } from '../export/safetensors.js';
import { writeFileAtomic } from '../atomic-write.js';
import type { Model } from '../model/model.js';
import { TTA_VIEWS } from '../model/tta.js';
import { checkOutputFree } from '../out-guard.js';

/** `mnist-dp export`: a checkpoint (or an ensemble of them) as an ONNX model, and its weights as safetensors. */

const last = (v: unknown): unknown => (Array.isArray(v) ? v[v.length - 1] : v);

export function exportBuilder(y: Argv): Argv {
  return y
    .usage('$0 export --model FILE [--model FILE …] [--tta] [--onnx OUT.onnx] [--safetensors OUT.safetensors] [--force]\n\n' +
      'Writes a trained model for other runtimes: one ONNX file (input float32 [N, 1, 28, 28] in 0-1, output probabilities [N, 10]) that ' +
      'onnxruntime runs anywhere, and the weights as safetensors with PyTorch\'s names and layouts (README: "Models outside mnist-dp").')
    .parserConfiguration({ 'duplicate-arguments-array': true }) // every --model, for an ensemble
    .option('model', {
      type: 'string', array: true, requiresArg: true, demandOption: true,
      describe: 'checkpoint written by mnist-dp train; several (--model a --model b) make one ONNX graph of their ensemble, the mean of their probabilities',
    })
    .option('onnx', { type: 'string', requiresArg: true, coerce: last, describe: 'write the ONNX model (opset 13) to this file' })
    .option('safetensors', { type: 'string', requiresArg: true, coerce: last, describe: 'write the weights (one model) as safetensors, named as the equivalent PyTorch nn.Sequential\'s state_dict' })
    .option('tta', { type: 'boolean', coerce: last, describe: `test-time augmentation inside the ONNX graph: each image and ${TTA_VIEWS.length - 1} copies shifted by one pixel, averaged (as eval --tta)` })
    .option('force', { type: 'boolean', coerce: last, describe: 'overwrite output files that exist (without it an existing file is refused)' });
}

export interface ExportArgs {
  model: string | string[];
  onnx?: string;
  safetensors?: string;
  tta?: boolean;
  force?: boolean;
}

export async function exportHandler(argv: ExportArgs): Promise<void> {
  const files = typeof argv.model === 'string' ? [argv.model] : argv.model.map(String);
  const outputs = [['--onnx', argv.onnx], ['--safetensors', argv.safetensors]].filter((o): o is [string, string] => typeof o[1] === 'string');
  if (outputs.length === 0) throw badOption('give --onnx OUT.onnx, --safetensors OUT.safetensors or both: where to write the model');
  if (argv.safetensors !== undefined && files.length > 1) {
    throw badOption(`--safetensors writes one model's weights; ${files.length} --model were given (export each alone, or only --onnx for the ensemble)`);
  }
  if (argv.tta && argv.onnx === undefined) throw badOption('--tta belongs to the ONNX graph; give --onnx OUT.onnx with it');
  if (argv.onnx !== undefined && argv.onnx === argv.safetensors) throw badOption(`--onnx and --safetensors name the same file ${argv.onnx}; give two files`);
  for (const [flag, file] of outputs) {
    checkOutputFree(flag, file, argv.force === true);
  }
  const models: Model[] = [];
  for (const file of files) models.push(await withFile([file], () => loadModel(file)));
  // Both files are made before either is written, so that a model that cannot be exported leaves nothing behind.
  const written: [string, Uint8Array][] = [];
  if (argv.onnx !== undefined) written.push([argv.onnx, await withFile(files, async () => exportOnnx(models, { tta: argv.tta === true }))]);
  if (argv.safetensors !== undefined) written.push([argv.safetensors, await withFile(files, async () => exportSafetensors(models[0]))]);
  for (const [file, bytes] of written) {
    try {
      await writeFileAtomic(file, bytes);
    } catch (err) {
      throw badOption(`${file} could not be written (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); check that its folder exists and is writable`);
    }
    process.stdout.write(`${file}  ${bytes.length.toLocaleString('en-US')} bytes\n`);
  }
}

/**
 * Runs f on the models of these checkpoint files. A problem that is not already one of ours (a spec of a
 * layer kind this mnist-dp does not know, say) becomes a one-line BAD_CHECKPOINT naming the file (exit 1);
 * ours keep their exit code, with the file named where they say only "the model" or "member N".
 */
async function withFile<T>(files: readonly string[], f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    if (!(err instanceof MnistDpError)) throw badCheckpoint(files.join(', '), `cannot be exported (${(err as Error).message})`);
    const member = /^(?:the model|member (\d+)): (.*)$/.exec(err.message);
    if (err.code === 'BAD_CHECKPOINT' && member) throw badCheckpoint(files[member[1] ? Number(member[1]) - 1 : 0], member[2]);
    throw err;
  }
}
