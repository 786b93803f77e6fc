import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { CLI } from './cli.js';

/** A CLI process running in the background, its stdout as lines, and a way to wait for a line. */
export interface Running {
  child: ChildProcess;
  lines: string[];
  stderr: () => string;
  /** Resolves with the first line (already printed or to come) that matches. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves with the exit code (or the signal's name). */
  exited: Promise<number | string>;
}

export function startCli(cwd: string, args: string[]): Running {
  // The process's temporary folders (a queue worker's scratch) go inside cwd, the test's own folder: one
  // killed with SIGKILL cannot remove them itself, and the test removes cwd.
  const tmp = join(cwd, 'tmp');
  mkdirSync(tmp, { recursive: true });
  const child = spawn(process.execPath, [CLI, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TMPDIR: tmp } });
  const lines: string[] = [];
  let err = '';
  let partial = '';
  const waiters: { pattern: RegExp; resolve: (l: string) => void }[] = [];
  child.stdout!.on('data', (d: Buffer) => {
    const parts = (partial + d.toString()).split('\n');
    partial = parts.pop()!;
    for (const line of parts) {
      lines.push(line);
      for (const w of [...waiters]) if (w.pattern.test(line)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(line); }
    }
  });
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  return {
    child, lines, stderr: () => err, exited,
    waitFor(pattern, timeoutMs = 60_000) {
      const seen = lines.find((l) => pattern.test(l));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no line matching ${pattern} in ${timeoutMs} ms; stdout:\n${lines.join('\n')}\nstderr:\n${err}`)), timeoutMs);
        waiters.push({ pattern, resolve: (l) => { clearTimeout(timer); resolve(l); } });
      });
    },
  };
}
