#!/usr/bin/env node
/**
 * `npm run ensemble`: the ensemble of the best recipe over several seeds. For each seed it trains
 * `--preset best` (as `npm run best -- --seed N`) into <dir>/seed<N>.ckpt unless that file is already
 * there, then evaluates the ensemble (the mean of the members' probabilities) on the test set, with and
 * without test-time augmentation, and writes
 *   <dir>/ensemble.json   members, their test accuracy, the ensemble's
 *   <dir>/ensemble.md     the same as a Markdown table
 *
 *   npm run ensemble -- [--seeds 1,3,4,5,6,7] [--dir models/ensemble] [--workers N]
 *
 * The members are fixed by the seeds given before anything is evaluated; the test set only reports.
 * Each member takes about 32 minutes on 2 cores.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';

const argv = yargs(hideBin(process.argv))
  .option('seeds', { type: 'string', default: '1,3,4,5,6,7', describe: 'one member per seed' })
  .option('dir', { type: 'string', default: 'models/ensemble', describe: 'where the members are (or are trained to)' })
  .option('workers', { type: 'number' })
  .strict()
  .parseSync();

const seeds = argv.seeds.split(',').map(Number);
if (seeds.length < 2 || seeds.some((s) => !Number.isInteger(s) || s < 0)) {
  console.error(`mnist-dp: --seeds "${argv.seeds}" must be two or more non-negative integers, such as 1,3,4`);
  process.exit(2);
}
const node = process.execPath;
const run = promisify(execFile);
const script = (name) => fileURLToPath(new URL(name, import.meta.url));
const cli = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));

await mkdir(argv.dir, { recursive: true });
const members = seeds.map((seed) => join(argv.dir, `seed${seed}.ckpt`));
for (const [i, seed] of seeds.entries()) {
  if (existsSync(members[i])) {
    console.log(`member ${i + 1}: ${members[i]} is there`);
    continue;
  }
  console.log(`member ${i + 1}: training --preset best --seed ${seed} into ${members[i]}`);
  execFileSync(node, [script('best.mjs'), '--seed', String(seed), '--out', members[i], ...(argv.workers ? ['--workers', String(argv.workers)] : [])],
    { stdio: 'inherit' });
}

// The two evaluations run side by side, as two processes (each predicts on one thread).
const evaluate = async (tta) => {
  const { stdout } = await run(node, [cli, 'eval', ...members.flatMap((m) => ['--model', m]), '--json', ...(tta ? ['--tta'] : [])], { maxBuffer: 1 << 20 });
  return JSON.parse(stdout.trim());
};
const [plain, withTta] = await Promise.all([evaluate(false), evaluate(true)]).catch((err) => {
  process.stderr.write(err.stderr || `${err.message}\n`); // the CLI's own message, naming the file at fault
  process.exit(1);
});

const machine = `${availableParallelism()} cores (${cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}`;
const command = `npm run ensemble -- --seeds ${argv.seeds} --dir ${argv.dir}`;
const pct = (p) => `${(100 * p).toFixed(2)} %`;
const rows = members.map((model, i) => ({ model, seed: seeds[i], testAccuracy: plain.members[i].testAccuracy, testAccuracyTta: withTta.members[i].testAccuracy }));
await writeFile(join(argv.dir, 'ensemble.json'), `${JSON.stringify({
  command, machine, members: rows, testAccuracy: plain.testAccuracy, testAccuracyTta: withTta.testAccuracy,
}, null, 2)}\n`);
await writeFile(join(argv.dir, 'ensemble.md'), [
  `# Ensemble of ${members.length} (\`${command}\`, ${machine})`,
  '',
  '| member | seed | test accuracy | with TTA |',
  '| --- | ---: | ---: | ---: |',
  ...rows.map((r) => `| ${r.model} | ${r.seed} | ${pct(r.testAccuracy)} | ${pct(r.testAccuracyTta)} |`),
  `| **ensemble** | | **${pct(plain.testAccuracy)}** | **${pct(withTta.testAccuracy)}** |`,
  '',
].join('\n'));
console.log(`ensemble of ${members.length}: test accuracy ${pct(plain.testAccuracy)} (with TTA ${pct(withTta.testAccuracy)}); written to ${join(argv.dir, 'ensemble.md')}`);
