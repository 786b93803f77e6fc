#!/usr/bin/env node
/**
 * `npm run ensemble`: an ensemble of the best recipe and its variants, run as a sweep of fixed trials
 * (`mnist-dp sweep`, README "Sweeps"). Each member is RECIPE:SEED (a bare seed means best:SEED), the trial
 * `<recipe>-seed<SEED>` with `--preset best` and the recipe's flags; the sweep trains the members that
 * <dir>/trials/ does not hold finished already, then evaluates the ensemble (the mean of the members'
 * probabilities) once on the test set. This script then adds the members' and the ensemble's test accuracy
 * with and without test-time augmentation, for the record:
 *   <dir>/sweep-spec.json   the sweep spec (mnist-dp sweep <dir>/sweep-spec.json --dir <dir> runs the same)
 *   <dir>/results.md/.json  the sweep's table
 *   <dir>/ensemble.json     members, their test accuracy, the ensemble's
 *   <dir>/ensemble.md       the same as a Markdown table
 *
 *   npm run ensemble -- [--members 1,3,strided:12,elastic:21] [--dir models/ensemble] [--workers N] [--conv auto|winograd|im2col] [--print-spec]
 *   npm run ensemble -- --select [--max-members 10] [--select-by accuracy|log-loss] --members LIST [--dir models/pool] …
 *
 * With --select the members are *candidates*, not an ensemble: each is trained with `--val-size 5000` (the
 * same 5,000 held-out images for all) and nothing sees the test set; then `mnist-dp eval --split val
 * --select N` chooses a committee among them greedily, in the order listed (README "eval"), and writes
 *   <dir>/selection.json/.md   the candidates' validation accuracy, their mistakes in common, the steps
 * and the chosen RECIPE:SEED list, to be trained on all 60,000 images by `npm run ensemble -- --members LIST`.
 * --recalibrate-bn: the evaluations run with every member's batch norm statistics recomputed on its own
 * training images (eval --recalibrate-bn); with --select the selection runs both plain and so, and the one
 * ending higher on validation is kept (ties: plain; selection.md shows both). --select-by log-loss: each step
 * adds the candidate that lowers the ensemble's validation log loss the most, and the selection stops when none
 * lowers it (eval --select-by; plain against recalibrated is then decided by the lower final log loss).
 *
 * Without --members: the ten members of the best ensemble (99.76 %, BENCHMARKS.md), about 5½ hours on 2 cores.
 *
 * The recipes (RECIPES below), with their time on 2 cores: best (`--preset best`: the network cnn-wide-res,
 * 40 epochs, about 49 minutes; wideres is the same), wide (`--preset best` up to issue 16: cnn-wide, about 34
 * minutes), strided (the network cnn-strided, 30 epochs, about 34 minutes), elastic (wide with elastic
 * distortion, about 35 minutes), best30 (wide in 30 epochs, about 26 minutes; best30 and wideres are issue
 * 17's stage-2 recipes, and issue 17's committee is best30:1,best30:2,best30:3,wideres:1,wideres:2,wideres:3,wide:1),
 * reselastic (wide-res with elastic distortion; untried, a candidate of issue 17's pool).
 * The members are fixed by the list given before anything is evaluated; the test set only reports.
 * --conv is how the members' 3×3 convolutions run (default auto: Winograd); the ensembles in BENCHMARKS.md
 * up to issue 16 were trained before Winograd, and `--conv im2col` trains exactly those.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { percent as pct } from '../dist/src/cli/progress.js';
import { describeMachine, loadCheckpoint, resolveOptions } from '../dist/src/index.js';
import { integer, kebab } from '../dist/src/options.js';
import { SELECT_BY } from '../dist/src/model/ensemble.js';
import { committeeRecord } from '../dist/src/sweep/committee.js';
import { runLocalSweep } from '../dist/src/sweep/local.js';
import { parseSweepSpec } from '../dist/src/sweep/spec.js';

/** The variants of `--preset best` a member can be trained with (options beside the preset; npm run best's flags). */
const RECIPES = {
  best: {}, // --preset best itself: the network cnn-wide-res since issue 17
  wide: { model: 'cnn-wide' }, // --preset best up to issue 16 (six members of the ensemble of ten)
  strided: { model: 'cnn-strided', epochs: 30 },
  elastic: { model: 'cnn-wide', augment: 'rotate=10,shift=2,scale=0.1,elastic=1.4,sigma=4' },
  best30: { model: 'cnn-wide', epochs: 30 }, // issue 17's stage-2 runner-up: wide in 30 epochs
  wideres: { model: 'cnn-wide-res' }, // = best; the name issue 17's committee was written down with
  reselastic: { model: 'cnn-wide-res', augment: 'rotate=10,shift=2,scale=0.1,elastic=1.4,sigma=4' }, // wide-res with elastic's augmentation: a pool candidate
  // Issue 17's stage 3 (BENCHMARKS.md, "Issue 17 on the 2-core Zen 5 VM"): wide-res at widths 48/96, with two residual blocks a stage, in 60 epochs.
  wideres48: { model: 'c48k3-bn-relu-c48k3-bn-relu-mp2-res(c48k3p1-bn-relu-c48k3p1-bn)-relu-c96k3-bn-relu-c96k3-bn-relu-mp2-res(c96k3p1-bn-relu-c96k3p1-bn)-relu-fc256-bn-relu-do0.3-fc10' },
  wideres2: { model: 'c32k3-bn-relu-c32k3-bn-relu-mp2-res(c32k3p1-bn-relu-c32k3p1-bn)-relu-res(c32k3p1-bn-relu-c32k3p1-bn)-relu-c64k3-bn-relu-c64k3-bn-relu-mp2-res(c64k3p1-bn-relu-c64k3p1-bn)-relu-res(c64k3p1-bn-relu-c64k3p1-bn)-relu-fc256-bn-relu-do0.3-fc10' },
  wideres60: { model: 'cnn-wide-res', epochs: 60 },
};
/** A recipe's options as sweep-spec flags: `{ model: 'cnn-strided' }` → `{ "model": "cnn-strided" }` (kebab-case keys). */
const specFlagsOf = (options) => Object.fromEntries(Object.entries(options).map(([k, v]) => [kebab(k), v]));

/**
 * How a member's checkpoint was trained otherwise than RECIPE:SEED says (e.g. `--val-size 5000`), so that
 * a file trained by hand is reported as what it is. Kernels and run-only options (workers, --keep-best) do not count.
 */
function differences(saved, recipe, seed) {
  const expected = resolveOptions({ preset: 'best', seed, ...RECIPES[recipe], ...conv, ...heldOut });
  return Object.keys(saved)
    .filter((k) => k !== 'kernels' && k !== 'keepBest' && k in expected && JSON.stringify(saved[k]) !== JSON.stringify(expected[k]))
    .map((k) => (typeof saved[k] === 'object' && saved[k] !== null ? `${k} differs` : `--${kebab(k)} ${saved[k]} (the recipe: ${expected[k]})`));
}

const argv = yargs(hideBin(process.argv))
  // The default is the ensemble of ten that reached 99.76 % (BENCHMARKS.md).
  .option('members', { type: 'string', default: 'wide:1,wide:3,wide:4,wide:5,wide:6,wide:7,strided:11,elastic:21,strided:12,elastic:22', describe: `RECIPE:SEED,… (recipes: ${Object.keys(RECIPES).join(', ')}; a bare seed is best:SEED)` })
  .option('dir', { type: 'string', describe: 'where the members are (or are trained to)', defaultDescription: 'models/ensemble; with --select models/pool' })
  .option('workers', { type: 'number', describe: 'worker threads per member (default: one per core)' })
  .option('conv', { type: 'string', describe: 'how 3×3 convolutions run (mnist-dp train --conv; default auto)' })
  .option('select', { type: 'boolean', describe: 'train the members as candidates on a validation split (--val-size 5000, no test set) and choose a committee among them (eval --select)' })
  .option('max-members', { type: 'number', describe: 'with --select: the most members the committee may have (at least 2)', defaultDescription: '10' })
  .option('select-by', { type: 'string', choices: SELECT_BY, describe: "with --select: what the greedy selection maximises (eval --select-by): images right, or the ensemble's validation log loss lowered", defaultDescription: 'accuracy' })
  .option('recalibrate-bn', { type: 'boolean', describe: "evaluate with every member's batch norm statistics recomputed on its own training images (eval --recalibrate-bn); with --select, also select so and keep the better selection (ties: plain)" })
  .option('print-spec', { type: 'boolean', describe: 'print the sweep spec of these members and exit' })
  .strict()
  .parseSync();
/** --conv, when given, as an option of every member. */
const conv = argv.conv === undefined ? {} : { conv: argv.conv };
/** A bad flag or file: its one line, exit 2 (or `code`). */
const refuse = (message, code = 2) => {
  console.error(`mnist-dp: error: ${message}`);
  process.exit(code);
};
if (argv.maxMembers !== undefined && !argv.select) refuse('--max-members only applies with --select (the most members of the committee chosen)');
if (argv.selectBy !== undefined && !argv.select) refuse('--select-by only applies with --select (what the selection of the committee maximises)');
/** eval's flags for --select-by. */
const selectBy = argv.selectBy === undefined ? [] : ['--select-by', argv.selectBy];
const maxMembers = (() => {
  try {
    return integer('max-members', argv.maxMembers ?? 10, 2);
  } catch (err) {
    return refuse(err.message);
  }
})();
// Candidates and an ensemble's members share names (RECIPE-seedN): each kind has its own folder.
const dir = argv.dir ?? (argv.select ? 'models/pool' : 'models/ensemble');
/** With --select: every candidate holds out the same validation images, the last 5,000 of the training file. */
const VAL_SIZE = 5000;
const heldOut = argv.select ? { valSize: VAL_SIZE } : {};
/** This run's command, for the record and for continuing it. */
const command = `npm run ensemble -- ${argv.select ? `--select --max-members ${maxMembers} ${selectBy.length > 0 ? `${selectBy.join(' ')} ` : ''}` : ''}--members ${argv.members} --dir ${dir}${argv.conv === undefined ? '' : ` --conv ${argv.conv}`}${argv.recalibrateBn ? ' --recalibrate-bn' : ''}`;
/** eval's flag for --recalibrate-bn. */
const recalibrate = argv.recalibrateBn ? ['--recalibrate-bn'] : [];

const parsed = argv.members.split(',').map((item) => {
  const m = /^(?:(\w+):)?(\d+)$/.exec(item.trim());
  return m && { recipe: m[1] ?? 'best', seed: Number(m[2]) };
});
if (parsed.length < 2 || parsed.some((m) => !m || !Object.hasOwn(RECIPES, m.recipe))) {
  refuse(`--members "${argv.members}" must list two or more RECIPE:SEED (recipes: ${Object.keys(RECIPES).join(', ')}; seeds: non-negative integers), such as 1,3,strided:12`);
}
// The members as a sweep spec of fixed trials: the sweep trains (or finds) them and tests their ensemble once.
const names = parsed.map(({ recipe, seed }) => `${recipe}-seed${seed}`);
const raw = {
  trials: parsed.map(({ recipe, seed }, i) => ({ name: names[i], preset: 'best', ...specFlagsOf(RECIPES[recipe]), ...conv, ...specFlagsOf(heldOut), seed })),
  epochs: 40, workers: argv.workers ?? availableParallelism(), concurrency: 1,
  // Candidates (--select) never see the test set: the committee chosen among them is tested after it is trained on all images.
  ...(argv.select ? { ensemble: false, test: false } : { ensemble: true }),
};
if (argv.printSpec) {
  process.stdout.write(`${JSON.stringify(raw, null, 2)}\n`);
  process.exit(0);
}
const specFile = join(dir, 'sweep-spec.json');
const spec = parseSweepSpec(raw, specFile);
// A member found is taken as it is, so a candidate must hold out the pool's validation images, and an
// ensemble's member must not come from a pool (a committee is trained again on all images): checked
// before anything in the folder is written or moved.
if (!argv.select) {
  const poolSpec = existsSync(specFile) && (() => {
    try {
      return JSON.parse(readFileSync(specFile, 'utf8')).test === false;
    } catch {
      return false; // not a spec this script wrote: the sweep's own check of the folder has its say
    }
  })();
  const sign = existsSync(join(dir, 'selection.json')) ? 'selection.json' : poolSpec ? `${specFile} with "test": false` : null;
  if (sign) refuse(`${dir} holds a pool of candidates (${sign}), trained without their validation images: give the committee another --dir`);
}
/** Where member NAME's checkpoint is, if anywhere: in trials/, or beside it (trained before this script ran them as a sweep). */
const found = (name) => [join(dir, 'trials', `${name}.ckpt`), join(dir, `${name}.ckpt`)].find((f) => existsSync(f));
for (const name of argv.select ? names : []) {
  const file = found(name);
  if (file === undefined) continue;
  const { valSize } = (await loadCheckpoint(file).catch((err) => refuse(err.message))).options;
  if (valSize !== VAL_SIZE) refuse(`${file} holds out ${valSize} validation images, not ${VAL_SIZE}: it is no candidate of this pool; give another --dir`);
}
await mkdir(join(dir, 'trials'), { recursive: true });
await writeFile(specFile, `${JSON.stringify(raw, null, 2)}\n`);
for (const name of names) {
  // Members found beside trials/ are finished trials: moved in.
  const file = found(name);
  if (file !== undefined && file !== join(dir, 'trials', `${name}.ckpt`)) {
    await rename(file, join(dir, 'trials', `${name}.ckpt`));
    console.log(`${name}: moved ${file} into ${join(dir, 'trials')}/`);
  }
}
// Another list of members is another sweep; its trained members are found again by name in trials/.
const record = join(dir, 'sweep.json');
const resume = existsSync(record) && JSON.parse(await readFile(record, 'utf8')).id === spec.id;
if (!resume) await rm(record, { force: true });
const interrupt = new AbortController();
process.once('SIGINT', () => {
  process.stderr.write('mnist-dp: stopping the member in training after this step (Ctrl-C again to quit at once)\n');
  interrupt.abort();
  process.once('SIGINT', () => process.exit(130));
});
const sweep = await runLocalSweep(spec, specFile, dir, resume, { onLine: (l) => console.log(l), signal: interrupt.signal })
  .catch((err) => refuse(err.message, err.exitCode ?? 1));
if (!sweep) {
  process.stderr.write(`interrupted: the members' checkpoints are kept; the same command continues (${command})\n`);
  process.exit(130);
}
const failed = sweep.trials.filter((t) => t.status !== 'completed');
if (failed.length > 0) refuse(failed.map((t) => `${t.name} ${t.status}: ${t.reason}`).join('; '), 1);
const members = names.map((n) => join(dir, 'trials', `${n}.ckpt`));
const node = process.execPath;
const run = promisify(execFile);
const cli = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));

const notes = [];
for (const [i, { recipe, seed }] of parsed.entries()) {
  const c = await loadCheckpoint(members[i]).catch((err) => refuse(err.message, 1));
  notes.push(differences(c.options, recipe, seed));
  if (notes[i].length > 0) console.log(`member ${i + 1}: ${members[i]} was trained otherwise than ${recipe}:${seed}: ${notes[i].join(', ')}`);
}

if (argv.select) {
  await chooseCommittee();
  process.exit(0);
}

/** --select: the committee chosen among the candidates on validation, written to <dir>/selection.json and .md. */
async function chooseCommittee() {
  // Plain, and with --recalibrate-bn also recalibrated: two processes side by side (each predicts on one thread).
  const select = async (flags) => JSON.parse((await run(node, [cli, 'eval', '--split', 'val', '--select', String(maxMembers), ...selectBy, ...members.flatMap((m) => ['--model', m]), '--json', ...flags], { maxBuffer: 1 << 24 })).stdout.trim());
  const [plain, recalibrated] = await Promise.all([select([]), recalibrate.length > 0 ? select(recalibrate) : undefined]).catch((err) => {
    process.stderr.write(err.stderr || `${err.message}\n`);
    process.exit(1);
  });
  const candidates = members.map((model, i) => ({
    model, member: `${parsed[i].recipe}:${parsed[i].seed}`, differences: notes[i],
    bestFlags: `${Object.entries(specFlagsOf({ ...RECIPES[parsed[i].recipe], ...conv })).map(([k, v]) => ` --${k} ${v}`).join('')} --seed ${parsed[i].seed}`,
  }));
  const { chosen, recalibrateBn, next, json, markdown } = committeeRecord(plain, candidates, { maxMembers, command, machine: describeMachine(), conv: argv.conv, selectBy: argv.selectBy }, recalibrated);
  await writeFile(join(dir, 'selection.json'), `${JSON.stringify(json, null, 2)}\n`);
  await writeFile(join(dir, 'selection.md'), markdown);
  const last = json.selection[json.selection.length - 1];
  console.log(`committee chosen on validation: ${chosen} (${pct(last.valAccuracy)} on ${json.valSize} validation images${recalibrateBn ? ', batch norm recalibrated' : ''}); written to ${join(dir, 'selection.md')}; next: ${next}`);
}

// For the record (no decision rests on them): each member's test accuracy and the ensemble's with TTA, two
// evaluations side by side as two processes (each predicts on one thread).
const evaluate = async (tta) => {
  const { stdout } = await run(node, [cli, 'eval', ...members.flatMap((m) => ['--model', m]), '--json', ...(tta ? ['--tta'] : []), ...recalibrate], { maxBuffer: 1 << 20 });
  return JSON.parse(stdout.trim());
};
const [plain, withTta] = await Promise.all([evaluate(false), evaluate(true)]).catch((err) => {
  process.stderr.write(err.stderr || `${err.message}\n`); // the CLI's own message, naming the file at fault
  process.exit(1);
});

const machine = describeMachine();
const rows = members.map((model, i) => ({
  model, ...parsed[i], differences: notes[i], testAccuracy: plain.members[i].testAccuracy, testAccuracyTta: withTta.members[i].testAccuracy,
}));
await writeFile(join(dir, 'ensemble.json'), `${JSON.stringify({
  command, machine, recalibrateBn: recalibrate.length > 0, members: rows, testAccuracy: plain.testAccuracy, testAccuracyTta: withTta.testAccuracy,
}, null, 2)}\n`);
await writeFile(join(dir, 'ensemble.md'), [
  `# Ensemble of ${members.length} (\`${command}\`, ${machine})`,
  '',
  '| member | recipe | seed | trained otherwise | test accuracy | with TTA |',
  '| --- | --- | ---: | --- | ---: | ---: |',
  ...rows.map((r) => `| ${r.model} | ${r.recipe} | ${r.seed} | ${r.differences.join(', ')} | ${pct(r.testAccuracy)} | ${pct(r.testAccuracyTta)} |`),
  `| **ensemble** | | | | **${pct(plain.testAccuracy)}** | **${pct(withTta.testAccuracy)}** |`,
  '',
].join('\n'));
console.log(`ensemble of ${members.length}: test accuracy ${pct(plain.testAccuracy)} (with TTA ${pct(withTta.testAccuracy)}); written to ${join(dir, 'ensemble.md')}`);
