import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { WorkerGroup } from '../src/engine/worker-group.js';
import type { Task, WorkerInit } from '../src/engine/protocol.js';

const reporter = fileURLToPath(new URL('./fixtures/report-require-esm.mjs', import.meta.url));
const nodeKnowsFlag = process.allowedNodeEnvironmentFlags.has('--no-experimental-require-module');

describe('the worker pool', () => {
  // piscina tries require() on the worker file before import(); Node 20.20's require(esm) aborted a CI
  // run natively in that path, so the pool's threads start with it off and piscina imports the file.
  it.runIf(nodeKnowsFlag)('starts its threads with require() of ES modules off, and still loads an ES-module worker file', async () => {
    expect(process.features.require_module).toBe(true); // on here, in the test's own thread: the flag is what turns it off
    const group = new WorkerGroup(reporter, 2, {} as WorkerInit);
    try {
      const tasks = [{ kind: 'eval' }, { kind: 'eval' }] as unknown as Task[];
      expect(await group.run<boolean | null>(tasks)).toEqual([false, false]);
    } finally {
      await group.destroy();
    }
  });
});
