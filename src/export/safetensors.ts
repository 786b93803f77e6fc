import { badCheckpoint } from '../errors.js';
import { activation, torchProbabilities } from '../model/layers/activation.js';
import type { Node } from '../model/layers/layer.js';
import { portableValues, setFromPortable, type PortableTensor, type TorchModule } from '../model/layers/portable.js';
import { paramLayout } from '../model/layout.js';
import { Model } from '../model/model.js';
import type { ModelSpec } from '../model/spec.js';
import { inputDims, modelMetadata, versionMetadata } from './metadata.js';

/**
 * safetensors (huggingface/safetensors): an 8-byte little-endian header length, a JSON header
 * `{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__: {string: string}}`, then the tensors'
 * little-endian bytes, back to back. The tensors are named and laid out as the state_dict of the
 * equivalent PyTorch nn.Sequential (its modules, as JSON, are in the metadata's `modules`; the README
 * builds it from them), so `load_state_dict` takes them as they are.
 */

/** The PyTorch modules of a model, input (N, 1, H, W) to probabilities: each layer's record's `torch`, then the output's. */
export function torchModules(model: Model): TorchModule[] {
  const chain = (nodes: readonly Node[]): TorchModule[] =>
    nodes.flatMap((node) => {
      if (!node.layer.torch) throw badCheckpoint('the model', `its layer ${node.index + 1} (${node.layer.kind}) has no PyTorch form; this mnist-dp cannot export it`);
      return [...node.layer.torch(node, chain), ...activation.torch!(node, chain)];
    });
  const flatten: TorchModule[] = model.spec.kind === 'mlp' ? [{ type: 'Flatten' }] : [];
  return [...flatten, ...chain(model.net.nodes), ...torchProbabilities(model.spec.output)];
}

/** The state_dict names of the modules' tensors (`3.weight`, `2.branch.0.running_mean`), in order. */
function stateDict(modules: readonly TorchModule[], prefix = ''): [string, PortableTensor][] {
  return modules.flatMap((m, i) => [
    ...Object.entries(m.tensors ?? {}).map(([name, t]): [string, PortableTensor] => [`${prefix}${i}.${name}`, t]),
    ...stateDict(m.branch ?? [], `${prefix}${i}.branch.`),
    ...stateDict(m.shortcut ?? [], `${prefix}${i}.shortcut.`),
  ]);
}

/** Strips the tensors from the modules (what the metadata's `modules` holds). */
const moduleList = (modules: readonly TorchModule[]): unknown[] =>
  modules.map(({ type, args, branch, shortcut }) => ({ type, ...(args ? { args } : {}), ...(branch ? { branch: moduleList(branch), shortcut: moduleList(shortcut ?? []) } : {}) }));

/**
 * The model's weights as a safetensors file: float32 tensors with PyTorch's names and layouts (conv
 * OIHW, linear [out, in] with the inputs in NCHW flatten order, batch norm weight, bias, running_mean
 * and running_var), the spec, recipe, data set and the modules in `__metadata__`.
 */
export function exportSafetensors(model: Model): Uint8Array {
  const modules = torchModules(model);
  const tensors = stateDict(modules);
  const header: Record<string, unknown> = {
    __metadata__: {
      format: 'pt',
      ...versionMetadata(),
      ...modelMetadata(model),
      input: JSON.stringify(inputDims(model)),
      modules: JSON.stringify(moduleList(modules)),
    },
  };
  let offset = 0;
  const data = tensors.map(([name, t]) => {
    const values = portableValues(model.params, t);
    header[name] = { dtype: 'F32', shape: [...t.shape], data_offsets: [offset, offset + values.byteLength] };
    offset += values.byteLength;
    return values;
  });
  // The header is padded with spaces to a multiple of 8 bytes, as the reference writer does, so that the data stays aligned.
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const head = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const values of data) {
    out.set(new Uint8Array(values.buffer), at);
    at += values.byteLength;
  }
  return out;
}

/** A tensor's entry in a safetensors header. */
export interface SafetensorsEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** The header of a safetensors file, and where its data begins; throws BAD_CHECKPOINT (naming `file`) if it is not one. */
export function readSafetensorsHeader(bytes: Uint8Array, file: string): { header: Record<string, SafetensorsEntry>; metadata: Record<string, string>; dataStart: number } {
  if (bytes.length < 8) throw badCheckpoint(file, 'is not a safetensors file (shorter than its header length)');
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (8 + length > bytes.length) throw badCheckpoint(file, `is not a safetensors file (its header of ${length} bytes runs past its end)`);
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + 8, length).toString('utf8')) as Record<string, unknown>;
  } catch {
    throw badCheckpoint(file, 'is not a safetensors file (its header is not JSON)');
  }
  const { __metadata__: metadata = {}, ...header } = parsed;
  return { header: header as Record<string, SafetensorsEntry>, metadata: metadata as Record<string, string>, dataStart: 8 + length };
}

/**
 * A Model from a file exportSafetensors wrote (the spec from its metadata, each tensor put back into
 * mnist-dp's layout): the round trip gives the same weights, bit for bit. Throws BAD_CHECKPOINT, naming
 * `file`, for a file that is not one or whose tensors do not fit its spec.
 */
export function importSafetensors(bytes: Uint8Array, file = 'safetensors data'): Model {
  const { header, metadata, dataStart } = readSafetensorsHeader(bytes, file);
  let spec: ModelSpec;
  try {
    spec = JSON.parse(metadata.spec_json) as ModelSpec;
  } catch {
    throw badCheckpoint(file, 'has no mnist-dp spec in its metadata (spec_json); it was not written by mnist-dp export');
  }
  let params: Float32Array;
  let modules: TorchModule[];
  try {
    params = new Float32Array(paramLayout(spec).size);
    modules = torchModules(new Model(spec, params));
  } catch (err) {
    throw badCheckpoint(file, `holds a spec that this mnist-dp cannot build (${(err as Error).message})`);
  }
  for (const [name, t] of stateDict(modules)) {
    const e = header[name];
    if (!e || e.dtype !== 'F32' || e.shape.join() !== t.shape.join()) {
      throw badCheckpoint(file, `tensor ${name} is ${e ? `${e.dtype} ${e.shape.join('×')}` : 'missing'}, its spec needs F32 ${t.shape.join('×')}`);
    }
    const [begin, end] = e.data_offsets;
    if (end - begin !== t.tensor.size * 4 || dataStart + end > bytes.length) throw badCheckpoint(file, `tensor ${name} has a wrong size or lies past the end of the file`);
    const values = new Float32Array(t.tensor.size);
    new Uint8Array(values.buffer).set(bytes.subarray(dataStart + begin, dataStart + end));
    setFromPortable(params, t, values);
  }
  const accuracy = Number(metadata.test_accuracy);
  return new Model(spec, params, {
    metrics: [],
    testAccuracy: Number.isFinite(accuracy) ? accuracy : null,
    epochsTrained: Number(metadata.epochs_trained) || 0,
    data: parseOr(metadata.data_set_json, null),
    ...(metadata.recipe?.startsWith('{') ? { recipe: parseOr(metadata.recipe, undefined) } : {}),
  });
}

function parseOr<T>(text: string | undefined, fallback: T): T {
  try {
    return text === undefined ? fallback : (JSON.parse(text) as T);
  } catch {
    return fallback;
  }
}
