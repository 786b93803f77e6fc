import * as ort from 'onnxruntime-web';

/**
 * Runs an exported ONNX model in onnxruntime-web (Microsoft's runtime, its WebAssembly backend, in Node),
 * so that exported files are checked by another runtime than ours: one thread, the model passed as
 * bytes, nothing fetched.
 */
ort.env.wasm.numThreads = 1;

/** Its probabilities for `images` (N · per-image floats, 0-1) given as (N, ...dims). */
export async function runOnnx(model: Uint8Array, images: Float32Array, dims: readonly number[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(model);
  try {
    const per = dims.reduce((a, b) => a * b, 1);
    const input = new ort.Tensor('float32', images, [images.length / per, ...dims]);
    const out = await session.run({ [session.inputNames[0]]: input });
    return out[session.outputNames[0]].data as Float32Array;
  } finally {
    await session.release();
  }
}

/** The session's metadata and names, for the tests of what the file says. */
export async function describeOnnx(model: Uint8Array): Promise<{ inputs: readonly string[]; outputs: readonly string[] }> {
  const session = await ort.InferenceSession.create(model);
  try {
    return { inputs: session.inputNames, outputs: session.outputNames };
  } finally {
    await session.release();
  }
}

/** The largest absolute difference between two equally long arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}
