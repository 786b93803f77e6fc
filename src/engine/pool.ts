import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MnistDpError } from '../errors.js';

/**
 * Path of a compiled worker entry file. Workers always run the compiled JavaScript in dist/ (Node 20
 * cannot start a .ts worker), also when the main side runs from source under vitest.
 */
export function workerFile(name: string): string {
  const here = fileURLToPath(import.meta.url);
  const dist = here.endsWith('.ts') ? resolve(dirname(here), '../../dist') : resolve(dirname(here), '../..');
  const file = join(dist, 'workers', `${name}.js`);
  if (!existsSync(file)) {
    throw new MnistDpError('WORKER_FAILED', `worker file ${file} is missing; run "npm run build" first`);
  }
  return file;
}
