import { constants, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { MnistDpError } from './errors.js';

/**
 * Opening the files a user names (data, checkpoints) so that what is opened cannot cost more than a file
 * of its kind: only regular files (a named pipe would block forever, /dev/zero never end), and only up to
 * a size that the caller states before anything is read.
 */

/** Makes the error for a file: badData or badCheckpoint. */
export type FileError = (file: string, problem: string) => MnistDpError;

/** What a non-regular file is, for the refusal. */
function kindOf(s: Stats): string {
  if (s.isDirectory()) return 'a folder';
  if (s.isFIFO()) return 'a named pipe (FIFO)';
  if (s.isCharacterDevice()) return 'a character device';
  if (s.isBlockDevice()) return 'a block device';
  if (s.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * Opens `path` for reading and checks, on the open handle (so that nothing can be swapped in between),
 * that it is a regular file. O_NONBLOCK keeps the open of a named pipe from waiting for a writer forever;
 * it changes nothing for a regular file. A symbolic link is followed, so a link to /dev/zero is refused
 * as the device it points to.
 */
export async function openRegularFile(path: string, error: FileError): Promise<{ fh: FileHandle; size: number }> {
  let fh: FileHandle;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw error(path, `cannot be read (${reason}); check the path and its permissions`);
  }
  const stats = await fh.stat();
  if (!stats.isFile()) {
    await fh.close();
    throw error(path, `is ${kindOf(stats)}, not a regular file; give the path of the file itself`);
  }
  return { fh, size: stats.size };
}

/** Reads a whole regular file of at most `maxBytes` bytes (the size is checked before reading). */
export async function readRegularFile(path: string, maxBytes: number, error: FileError, what: string): Promise<Buffer> {
  const { fh, size } = await openRegularFile(path, error);
  try {
    if (size > maxBytes) throw error(path, `is ${size} bytes, more than any ${what} (at most ${maxBytes}); check the path`);
    const bytes = Buffer.allocUnsafe(size);
    let done = 0;
    while (done < size) {
      const { bytesRead } = await fh.read(bytes, done, size - done, done);
      if (bytesRead === 0) throw error(path, `was cut short while being read (${done} of ${size} bytes)`);
      done += bytesRead;
    }
    return bytes;
  } finally {
    await fh.close();
  }
}
