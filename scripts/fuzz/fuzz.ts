import { fork, type ChildProcess } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { distPath } from '../../src/dist-path.js';
import { FAILURES, TARGETS, type Outcome } from './targets.js';

/**
 * The parent side of the fuzzers: runs the cases of an input kind in child processes (case-runner.ts),
 * watching each case under a time limit and a memory cap. A child that dies, runs past the limit or
 * grows past the cap is killed, the case in progress is blamed (crash, hang, oversized), and a new
 * child carries on with the next case. Failing cases can be kept for replay (`--keep DIR`).
 */

export interface FuzzOptions {
  kind: string;
  cases: number;
  seed: number;
  /** Resident memory a child may reach (MB), its startup included. */
  memoryMb?: number;
  /** Time one case may take (ms). */
  timeLimitMs?: number;
  /** Copy failing cases here. */
  keepDir?: string;
}

export interface CaseFailure {
  index: number;
  outcome: Outcome;
  message: string;
}

export interface FuzzReport {
  kind: string;
  seed: number;
  cases: number;
  outcomes: Record<Outcome, number>;
  failures: CaseFailure[];
  /** The largest resident memory seen in a child (MB). */
  maxRssMb: number;
  seconds: number;
}

const RUNNER = distPath('scripts', 'fuzz', 'case-runner.js');

/** The resident memory of a process in MB, from /proc (0 where there is none). */
async function rssMb(pid: number): Promise<number> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

interface ChildResult {
  /** The index of the first case not run. */
  next: number;
  maxRssMb: number;
}

/**
 * Runs cases [from, to) in one child, reporting each outcome to `record`, until they are done or the
 * child dies; a case that kills it (or is killed) is recorded too, and the run resumes after it.
 */
function runChild(args: string[], from: number, o: Required<Omit<FuzzOptions, 'keepDir'>>, record: (index: number, outcome: Outcome, message: string, file?: string) => void): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = fork(RUNNER, args, { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], execArgv: [`--max-old-space-size=${o.memoryMb}`] });
    let current: { index: number; file: string } | null = null;
    let verdict: Outcome | null = null; // set when the parent kills the child
    let next = from;
    let maxRss = 0;
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
    const kill = (why: Outcome) => {
      verdict ??= why;
      child.kill('SIGKILL');
    };
    const poll = setInterval(async () => {
      const rss = await rssMb(child.pid!);
      maxRss = Math.max(maxRss, rss);
      if (rss > o.memoryMb) kill('oversized');
    }, 20);
    child.on('message', (m: { type: string; index: number; file: string; outcome: Outcome; message: string; maxRssMb?: number }) => {
      if (m.type === 'start') {
        current = { index: m.index, file: m.file };
        clearTimeout(timer);
        timer = setTimeout(() => kill('hang'), o.timeLimitMs);
      } else {
        clearTimeout(timer);
        if (m.maxRssMb !== undefined) maxRss = Math.max(maxRss, m.maxRssMb);
        record(m.index, m.outcome, m.message, current?.file);
        current = null;
        next = m.index + 1;
      }
    });
    child.on('exit', (code, signal) => {
      clearInterval(poll);
      clearTimeout(timer);
      if (current !== null) {
        const outOfMemory = /heap out of memory|Allocation failed|RangeError: Array buffer allocation/.test(stderr);
        const outcome = verdict ?? (outOfMemory ? 'oversized' : 'crash');
        record(current.index, outcome, `${outcome}: exit ${code ?? signal}; ${stderr.trim().split('\n').slice(-3).join(' | ')}`.slice(0, 400), current.file);
        next = current.index + 1;
      } else if (code !== 0 && next === from) {
        reject(new Error(`the fuzzing child failed before its first case (exit ${code ?? signal}): ${stderr}`));
        return;
      }
      resolve({ next, maxRssMb: maxRss });
    });
  });
}

const emptyOutcomes = (): Record<Outcome, number> => ({ accepted: 0, refused: 0, unclear: 0, 'accepted-corrupt': 0, crash: 0, hang: 0, oversized: 0 });

/** Runs `cases` fuzzed cases of one input kind and says how each ended. */
export async function fuzz(options: FuzzOptions): Promise<FuzzReport> {
  if (!TARGETS[options.kind]) throw new Error(`unknown input kind ${options.kind}; use ${Object.keys(TARGETS).join(', ')}`);
  const o = { memoryMb: 300, timeLimitMs: 10_000, ...options };
  const started = performance.now();
  const dir = await mkdtemp(join(tmpdir(), `mnist-dp-fuzz-${o.kind}-`));
  const report: FuzzReport = { kind: o.kind, seed: o.seed, cases: o.cases, outcomes: emptyOutcomes(), failures: [], maxRssMb: 0, seconds: 0 };
  const kept: Promise<void>[] = [];
  const record = (index: number, outcome: Outcome, message: string, file?: string) => {
    report.outcomes[outcome]++;
    if (!FAILURES.includes(outcome)) return;
    report.failures.push({ index, outcome, message });
    if (o.keepDir && file) kept.push(mkdir(o.keepDir, { recursive: true }).then(() => copyFile(file, join(o.keepDir!, `${o.kind}-seed${o.seed}-${outcome}-${basename(file)}`))).catch(() => {}));
  };
  try {
    let next = 0;
    while (next < o.cases) {
      const r = await runChild([o.kind, String(o.seed), String(next), String(o.cases), dir], next, o, record);
      report.maxRssMb = Math.max(report.maxRssMb, r.maxRssMb);
      next = r.next;
    }
    await Promise.all(kept);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  report.seconds = (performance.now() - started) / 1000;
  return report;
}

/** Reads one file (a crafted bomb) in a fresh child under the same watch: its outcome and the child's peak memory. */
export async function readInChild(kind: string, file: string, memoryMb = 300, timeLimitMs = 30_000): Promise<{ outcome: Outcome; message: string; maxRssMb: number }> {
  let result = { outcome: 'crash' as Outcome, message: '' };
  const r = await runChild([kind, '--file', file], 0, { kind, cases: 1, seed: 0, memoryMb, timeLimitMs }, (_, outcome, message) => (result = { outcome, message }));
  return { ...result, maxRssMb: r.maxRssMb };
}
