import { join } from 'node:path';
import { train } from '../../src/api.js';

/** Two small MLP runs of three epochs on real MNIST (about a second each), for the report's tests: dir/run-a.ckpt, dir/run-b.ckpt. */
export async function twoShortRuns(dir: string): Promise<[string, string]> {
  const files: string[] = [];
  for (const [name, seed] of [['run-a', 1], ['run-b', 2]] as const) {
    const out = join(dir, `${name}.ckpt`);
    await train({ epochs: 3, trainSize: 3000, valSize: 1000, batchSize: 64, workers: 1, layers: '784-32-10', seed, out, schedule: seed === 1 ? 'cosine' : 'onecycle' });
    files.push(out);
  }
  return files as [string, string];
}
