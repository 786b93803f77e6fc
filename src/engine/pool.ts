import { existsSync } from 'node:fs';
import { distPath } from '../dist-path.js';
import { MnistDpError } from '../errors.js';

/**
 * Path of a compiled worker entry file. Workers always run the compiled JavaScript in dist/ (Node 20
 * cannot start a .ts worker), also when the main side runs from source under vitest.
 */
export function workerFile(name: string): string {
  const file = distPath('workers', `${name}.js`);
  if (!existsSync(file)) {
    throw new MnistDpError('WORKER_FAILED', `worker file ${file} is missing; run "npm run build" first`);
  }
  return file;
}
