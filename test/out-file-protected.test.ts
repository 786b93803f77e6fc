import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../src/checkpoint.js';
import { CLI, cliTempDir, runCli } from './helpers/cli.js';

/**
 * A run never destroys what `--out` holds without being asked, never shares it with another run, and
 * finds out that it cannot write there before it trains (issue 12, items 3, 6 and 7). Signals other than
 * Ctrl-C stop a run with a checkpoint too (item 4).
 */

const work = cliTempDir('mnist-dp-out-');
const quick = ['--epochs', '1', '--train-size', '500', '--val-size', '0', '--layers', '784-16-10', '--workers', '1'];
const train = (cwd: string, ...args: string[]) => runCli(cwd, ['train', ...quick, ...args]);

/** A pid that no process has: that of a child that has already exited. */
const deadPid = (): number => spawnSync(process.execPath, ['-e', '0']).pid!;

describe('--out is protected', () => {
  it('lets `npm start` run twice: the default file taken, the second run writes mnist-dp-2.ckpt and the first model stays', async () => {
    const cwd = join(work(), 'default');
    await mkdir(cwd);
    expect(train(cwd).code).toBe(0);
    const first = await readFile(join(cwd, 'mnist-dp.ckpt'));
    const second = train(cwd);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain('→ mnist-dp-2.ckpt');
    expect(second.stdout).toContain('checkpoint saved to mnist-dp-2.ckpt');
    expect((await readFile(join(cwd, 'mnist-dp.ckpt'))).equals(first)).toBe(true);
    expect(readdirSync(cwd).sort()).toEqual(['mnist-dp-2.ckpt', 'mnist-dp.ckpt']); // no lock or temporary file left
  });

  it('refuses a new run on a given --out that holds a finished model, naming it and the ways out; --force overwrites', async () => {
    const out = join(work(), 'model.ckpt');
    expect(train(work(), '--out', out).code).toBe(0);
    const before = await readFile(out);
    const r = train(work(), '--out', out, '--seed', '2');
    expect(r.code).toBe(2);
    expect(r.lines).toEqual([expect.stringMatching(new RegExp(`^mnist-dp: error: --out ${out} already holds a finished model \\(mlp 784-16-10.*test accuracy [\\d.]+ %\\); a new run would overwrite it: pick another --out, continue that run with --resume ${out}, or give --force to overwrite it$`))]);
    expect((await readFile(out)).equals(before)).toBe(true);
    const forced = train(work(), '--out', out, '--seed', '2', '--force');
    expect(forced.code, forced.stderr).toBe(0);
    expect((await readFile(out)).equals(before)).toBe(false);
  });

  it("refuses a new run on an unfinished run's resume point, and on a file that is not a checkpoint", async () => {
    const out = join(work(), 'notes.txt');
    await writeFile(out, 'my notes');
    const r = train(work(), '--out', out);
    expect(r.code).toBe(2);
    expect(r.lines[0]).toContain(`--out ${out} already holds a file that is not a mnist-dp checkpoint`);
    expect(await readFile(out, 'utf8')).toBe('my notes');
  });

  it('refuses an --out in use by another live process, naming it, and takes over the lock of a dead one', async () => {
    const out = join(work(), 'locked.ckpt');
    const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    try {
      await writeFile(`${out}.lock`, `${sleeper.pid}\n`);
      const r = train(work(), '--out', out);
      expect(r.code).toBe(2);
      expect(r.lines).toEqual([`mnist-dp: error: --out ${out} is in use by process ${sleeper.pid} (lock file ${out}.lock); wait for that run to end, or pick another --out`]);
    } finally {
      sleeper.kill();
    }
    await writeFile(`${out}.lock`, `${deadPid()}\n`);
    const r = train(work(), '--out', out);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(`${out}.lock`)).toBe(false);
    await loadCheckpoint(out);
  });

  it('removes the temporary files that killed saves left, on the next start', async () => {
    const dir = join(work(), 'stale');
    await mkdir(dir);
    const out = join(dir, 'run.ckpt');
    const stale = [`.run.ckpt.tmp-${deadPid()}-0badc0de`, `.run.ckpt.tmp-${deadPid()}-deadbeef`];
    for (const name of stale) await writeFile(join(dir, name), Buffer.alloc(1000));
    await writeFile(join(dir, '.other.ckpt.tmp-1-12345678'), 'not ours');
    expect(train(dir, '--out', out).code).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(['.other.ckpt.tmp-1-12345678', 'run.ckpt']);
  });

  it('finds a missing or unwritable --out folder before training, not after the first epoch', async () => {
    const file = join(work(), 'plain-file');
    await writeFile(file, 'x');
    const missing = train(work(), '--out', join(work(), 'no-such-folder', 'run.ckpt'));
    expect(missing.code).toBe(2);
    expect(missing.lines).toEqual([`mnist-dp: error: --out ${join(work(), 'no-such-folder', 'run.ckpt')}: the folder ${join(work(), 'no-such-folder')} does not exist; create it or pick another --out`]);
    expect(missing.stdout).toBe(''); // no start line: nothing was loaded or trained
    const underFile = train(work(), '--out', join(file, 'run.ckpt'));
    expect(underFile.code).toBe(2);
    expect(underFile.lines[0]).toContain(`${file} is not a folder`);
  });
});

describe('SIGTERM and SIGHUP stop a run like Ctrl-C', () => {
  it.each([['SIGTERM', 143], ['SIGHUP', 129]] as const)('%s: a checkpoint, the resume command and exit %i', async (signal, status) => {
    const out = join(work(), `${signal}.ckpt`);
    const child = spawn(process.execPath, [CLI, 'train', '--epochs', '3', '--train-size', '3000', '--val-size', '0', '--workers', '2', '--json', '--out', out], { cwd: work() });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.once('data', () => child.kill(signal));
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(code, stderr).toBe(status);
    expect(stderr).toContain(`mnist-dp: received ${signal}: stopping after this step`);
    expect(stderr).toContain(`stopped by ${signal}: checkpoint saved to ${out}; continue with: mnist-dp train --resume ${out}`);
    const saved = await loadCheckpoint(out);
    expect(saved.position.epoch * 100 + saved.position.step).toBeGreaterThanOrEqual(0);
    expect(existsSync(`${out}.lock`)).toBe(false);
  });
});
