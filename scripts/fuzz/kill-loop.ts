/**
 * The `kill -9` loop of issue 12: a run that saves a 15 MB checkpoint every few steps is killed with
 * SIGKILL at a random moment, N times, each time resumed from what it left. Counts the kills, the
 * temporary files each left (a kill during a save), whether the checkpoint still loads after every
 * kill, and what is left beside it after a last run ends normally (the temporary files and the stale
 * lock are removed by the next start; only the checkpoint must remain).
 *
 *   node dist/scripts/fuzz/kill-loop.js [--kills 30] [--seed 1]
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadCheckpoint } from '../../src/checkpoint.js';
import { distPath } from '../../src/dist-path.js';
import { below, random } from './mutate.js';

export interface KillLoopReport {
  kills: number;
  /** Kills that left a temporary file of a save behind. */
  killsDuringSave: number;
  /** Checkpoints that loaded after a kill. */
  loadable: number;
  /** Files beside the checkpoint after the last, normal run: none expected. */
  leftBehind: string[];
}

const CLI = distPath('src', 'cli', 'main.js');
// Small epochs of a wide MLP: a 15 MB save every two steps, so that many kills land inside one.
const FLAGS = ['--layers', '784-1024-1024-10', '--train-size', '256', '--batch-size', '128', '--val-size', '0', '--workers', '1', '--json'];

/** Runs the CLI with `args` until it ends by itself or, with `killAfterMs`, that long after its first epoch. */
function runTrain(cwd: string, args: string[], killAfterMs: number | null): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'train', ...FLAGS, ...args], { cwd, stdio: ['ignore', 'pipe', 'ignore'] });
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on('data', (d: Buffer) => {
      if (killAfterMs !== null && timer === undefined && d.toString().includes('"type":"epoch"')) timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    });
    child.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

export async function killLoop(kills: number, seed = 1): Promise<KillLoopReport> {
  const dir = await mkdtemp(join(tmpdir(), 'mnist-dp-kill-loop-'));
  const r = random(seed);
  const report: KillLoopReport = { kills: 0, killsDuringSave: 0, loadable: 0, leftBehind: [] };
  try {
    await runTrain(dir, ['--epochs', '100000', '--out', 'run.ckpt'], below(r, 400));
    for (let k = 0; k < kills; k++) {
      if (k > 0) await runTrain(dir, ['--resume', 'run.ckpt', '--epochs', '100000'], below(r, 400));
      report.kills++;
      if ((await readdir(dir)).some((name) => name.startsWith('.run.ckpt.tmp-'))) report.killsDuringSave++;
      if (await loadCheckpoint(join(dir, 'run.ckpt')).then(() => true, () => false)) report.loadable++;
    }
    // A last run to its end: one more epoch than the checkpoint holds.
    const done = (await loadCheckpoint(join(dir, 'run.ckpt'))).position.epoch;
    await runTrain(dir, ['--resume', 'run.ckpt', '--epochs', String(done + 1)], null);
    report.leftBehind = (await readdir(dir)).filter((name) => name !== 'run.ckpt');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return report;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { kills: { type: 'string', default: '30' }, seed: { type: 'string', default: '1' } } });
  const r = await killLoop(Number(values.kills), Number(values.seed));
  console.log(`kill -9 loop: ${r.kills} kills, ${r.killsDuringSave} during a save (a temporary file left), ${r.loadable} of ${r.kills} checkpoints loadable, ` +
    `${r.leftBehind.length} files left behind after the next run${r.leftBehind.length ? `: ${r.leftBehind.join(', ')}` : ''}`);
  if (r.loadable !== r.kills || r.leftBehind.length > 0) process.exitCode = 1;
}
