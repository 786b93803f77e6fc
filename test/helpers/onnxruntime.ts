import * as ort from 'onnxruntime-web';

/**
 * Runs an exported ONNX model in onnxruntime-web (Microsoft's runtime, its WebAssembly backend, in Node),
 * so that exported files are checked by another runtime than ours: one thread, the model passed as
 * bytes, nothing fetched.
 */
ort.env.wasm.numThreads = 1;

/**
 * Its probabilities for `images` (N · per-image floats, 0-1) given as (N, ...dims), fed 1,000 images at a
 * time: the WebAssembly backend has 4 GB of memory, which a large CNN's activations for 10,000 images
 * (50,000 with TTA) would overflow.
 */
export async function runOnnx(model: Uint8Array, images: Float32Array, dims: readonly number[], batch = 1000): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(model);
  try {
    const per = dims.reduce((a, b) => a * b, 1);
    const n = images.length / per;
    const parts: Float32Array[] = [];
    for (let start = 0; start < n; start += batch) {
      const rows = Math.min(batch, n - start);
      const input = new ort.Tensor('float32', images.subarray(start * per, (start + rows) * per), [rows, ...dims]);
      const out = await session.run({ [session.inputNames[0]]: input });
      parts.push(out[session.outputNames[0]].data as Float32Array);
    }
    const all = new Float32Array(parts.reduce((k, p) => k + p.length, 0));
    parts.reduce((at, p) => (all.set(p, at), at + p.length), 0);
    return all;
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
