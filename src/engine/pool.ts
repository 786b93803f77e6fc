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

const NO_REQUIRE_ESM = '--no-experimental-require-module';

/**
 * execArgv for a piscina pool over our ES-module worker files. piscina loads a worker file with
 * require() first and falls back to import(); on Node 20.19+ require() of an ES module is on by default
 * and, in a few pool starts out of thousands, aborts the whole process natively
 * (ModuleWrap::CreateRequiredModuleFacade, seen in CI on Node 20.20.2). With require(esm) off in the
 * worker, require() throws at once and piscina takes its import() path. Passed only where this Node
 * knows the flag, so a Node without it starts workers as before.
 */
export function workerExecArgv(): string[] {
  return process.allowedNodeEnvironmentFlags.has(NO_REQUIRE_ESM) ? [...process.execArgv, NO_REQUIRE_ESM] : [...process.execArgv];
}
