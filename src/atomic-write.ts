import { open, rename, rm } from 'node:fs/promises';
import { tempFileFor } from './out-guard.js';

/**
 * Writes `data` to `file` so that a crash leaves either the old file or the new one, never half of one:
 * a temporary file in the same folder, flushed to disk, then renamed over the target. Rethrows the
 * file system's error after removing the temporary file.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const tmp = tempFileFor(file); // named so that the next run's start can find it if this process is killed (out-guard.ts)
  try {
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
