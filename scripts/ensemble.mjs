#!/usr/bin/env node
/**
 * `npm run ensemble`: an ensemble of the best recipe and its variants. Each member is RECIPE:SEED (a bare
 * seed means best:SEED); it is trained (as `npm run best -- --seed SEED` plus the recipe's flags) into
 * <dir>/<recipe>-seed<SEED>.ckpt unless that file is already there. Then the ensemble (the mean of the
 * members' probabilities) is evaluated on the test set, with and without test-time augmentation, and
 *   <dir>/ensemble.json   members, their test accuracy, the ensemble's
 *   <dir>/ensemble.md     the same as a Markdown table
 * are written.
 *
 *   npm run ensemble -- [--members 1,3,strided:12,elastic:21] [--dir models/ensemble] [--workers N]
 *
 * Without --members: the ten members of the best ensemble (99.76 %, BENCHMARKS.md), about 5½ hours on 2 cores.
 *
 * The recipes (RECIPES below): best (`--preset best`, 40 epochs, about 32 minutes on 2 cores), strided
 * (the network cnn-strided, 30 epochs, about 34 minutes), elastic (best with elastic distortion, about 33
 * minutes). The members are fixed by the list given before anything is evaluated; the test set only reports.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { percent as pct } from '../dist/src/cli/progress.js';
import { describeMachine, loadCheckpoint, resolveOptions } from '../dist/src/index.js';
import { kebab } from '../dist/src/options.js';

/** The variants of `--preset best` a member can be trained with (options beside the preset; npm run best's flags). */
const RECIPES = {
  best: {},
  strided: { model: 'cnn-strided', epochs: 30 },
  elastic: { augment: 'rotate=10,shift=2,scale=0.1,elastic=1.4,sigma=4' },
};
const flagsOf = (options) => Object.entries(options).flatMap(([k, v]) => [`--${kebab(k)}`, String(v)]);

/**
 * How a member's checkpoint was trained otherwise than RECIPE:SEED says (e.g. `--val-size 5000`), so that
 * a file trained by hand is reported as what it is. Kernels and run-only options (workers, --keep-best) do not count.
 */
function differences(saved, recipe, seed) {
  const expected = resolveOptions({ preset: 'best', seed, ...RECIPES[recipe] });
  return Object.keys(saved)
    .filter((k) => k !== 'kernels' && k !== 'keepBest' && k in expected && JSON.stringify(saved[k]) !== JSON.stringify(expected[k]))
    .map((k) => (typeof saved[k] === 'object' && saved[k] !== null ? `${k} differs` : `--${kebab(k)} ${saved[k]} (the recipe: ${expected[k]})`));
}

const argv = yargs(hideBin(process.argv))
  // The default is the ensemble of ten that reached 99.76 % (BENCHMARKS.md).
  .option('members', { type: 'string', default: '1,3,4,5,6,7,strided:11,elastic:21,strided:12,elastic:22', describe: `RECIPE:SEED,… (recipes: ${Object.keys(RECIPES).join(', ')}; a bare seed is best:SEED)` })
  .option('dir', { type: 'string', default: 'models/ensemble', describe: 'where the members are (or are trained to)' })
  .option('workers', { type: 'number' })
  .strict()
  .parseSync();

const parsed = argv.members.split(',').map((item) => {
  const m = /^(?:(\w+):)?(\d+)$/.exec(item.trim());
  return m && { recipe: m[1] ?? 'best', seed: Number(m[2]) };
});
if (parsed.length < 2 || parsed.some((m) => !m || !Object.hasOwn(RECIPES, m.recipe))) {
  console.error(`mnist-dp: error: --members "${argv.members}" must list two or more RECIPE:SEED (recipes: ${Object.keys(RECIPES).join(', ')}; seeds: non-negative integers), such as 1,3,strided:12`);
  process.exit(2);
}
const node = process.execPath;
const run = promisify(execFile);
const script = (name) => fileURLToPath(new URL(name, import.meta.url));
const cli = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));

await mkdir(argv.dir, { recursive: true });
const members = parsed.map(({ recipe, seed }) => join(argv.dir, `${recipe}-seed${seed}.ckpt`));
for (const [i, { recipe, seed }] of parsed.entries()) {
  if (existsSync(members[i])) {
    console.log(`member ${i + 1}: ${members[i]} is there`);
    continue;
  }
  const flags = ['--seed', String(seed), ...flagsOf(RECIPES[recipe]), '--out', members[i], ...(argv.workers ? ['--workers', String(argv.workers)] : [])];
  console.log(`member ${i + 1}: npm run best -- ${flags.join(' ')}`);
  execFileSync(node, [script('best.mjs'), ...flags], { stdio: 'inherit' });
}

const notes = [];
for (const [i, { recipe, seed }] of parsed.entries()) {
  const c = await loadCheckpoint(members[i]).catch((err) => {
    process.stderr.write(`mnist-dp: error: ${err.message}\n`);
    process.exit(1);
  });
  notes.push(differences(c.options, recipe, seed));
  if (notes[i].length > 0) console.log(`member ${i + 1}: ${members[i]} was trained otherwise than ${recipe}:${seed}: ${notes[i].join(', ')}`);
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

const machine = describeMachine();
const command = `npm run ensemble -- --members ${argv.members} --dir ${argv.dir}`;
const rows = members.map((model, i) => ({
  model, ...parsed[i], differences: notes[i], testAccuracy: plain.members[i].testAccuracy, testAccuracyTta: withTta.members[i].testAccuracy,
}));
await writeFile(join(argv.dir, 'ensemble.json'), `${JSON.stringify({
  command, machine, members: rows, testAccuracy: plain.testAccuracy, testAccuracyTta: withTta.testAccuracy,
}, null, 2)}\n`);
await writeFile(join(argv.dir, 'ensemble.md'), [
  `# Ensemble of ${members.length} (\`${command}\`, ${machine})`,
  '',
  '| member | recipe | seed | trained otherwise | test accuracy | with TTA |',
  '| --- | --- | ---: | --- | ---: | ---: |',
  ...rows.map((r) => `| ${r.model} | ${r.recipe} | ${r.seed} | ${r.differences.join(', ')} | ${pct(r.testAccuracy)} | ${pct(r.testAccuracyTta)} |`),
  `| **ensemble** | | | | **${pct(plain.testAccuracy)}** | **${pct(withTta.testAccuracy)}** |`,
  '',
].join('\n'));
console.log(`ensemble of ${members.length}: test accuracy ${pct(plain.testAccuracy)} (with TTA ${pct(withTta.testAccuracy)}); written to ${join(argv.dir, 'ensemble.md')}`);
