import { basename, dirname } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultMnistDir, loadIdxDataset } from '../src/data/dataset.js';
import { predictEnsemble } from '../src/model/ensemble.js';
import { loadModel } from '../src/checkpoint.js';
import { mostProbable } from '../src/model/model.js';
import { makeSpec, parseCnnSpec } from '../src/model/spec.js';
import { committeeRecord, type SelectionEval } from '../src/sweep/committee.js';
import { cliTempDir, runCli } from './helpers/cli.js';
import { trainTinyMlp, untrainedCheckpoint } from './helpers/tiny-models.js';

/**
 * `mnist-dp eval --model a --model b [--tta]` on real MNIST, against the built dist/: each member's
 * accuracy, then the ensemble's (the mean of their probabilities), the same numbers as the library's;
 * a single --model prints what it always did; members that do not fit are refused in one line.
 */

const work = cliTempDir('mnist-dp-cli-ensemble-');
const cli = (...args: string[]) => runCli(work(), args, 60_000);

let a: string;
let b: string;

const dataset = loadIdxDataset(defaultMnistDir());

/** The library's test accuracy of these checkpoints' ensemble. */
async function libraryAccuracy(files: string[], tta: boolean): Promise<number> {
  const { test } = await dataset;
  const models = await Promise.all(files.map((f) => loadModel(f)));
  const labels = mostProbable(predictEnsemble(models, test.images, { tta }), 10);
  return labels.reduce((n, l, i) => n + (l === test.labels[i] ? 1 : 0), 0) / test.count;
}

/** The library's log loss of these checkpoints' ensemble on the test set: the mean −ln of the true class's probability, in float64. */
async function libraryLogLoss(files: string[]): Promise<number> {
  const { test } = await dataset;
  const models = await Promise.all(files.map((f) => loadModel(f)));
  const p = predictEnsemble(models, test.images, { tta: false });
  let sum = 0;
  for (let i = 0; i < test.count; i++) sum += -Math.log(Math.max(p[i * 10 + test.labels[i]], 1e-15));
  return sum / test.count;
}

/** An error line naming every `names`, and nothing on stdout. */
function expectError(r: ReturnType<typeof cli>, code: number, ...names: string[]) {
  expect(r.code, r.stderr).toBe(code);
  expect(r.lines, r.stderr).toHaveLength(1);
  expect(r.lines[0]).toMatch(/^mnist-dp: error: /);
  for (const n of names) expect(r.lines[0]).toContain(n);
  expect(r.stdout).toBe('');
}

beforeAll(async () => {
  a = await trainTinyMlp(work(), 1);
  b = await trainTinyMlp(work(), 2);
});

describe('mnist-dp eval with several --model', () => {
  it("prints each member's accuracy, then the ensemble's, then the ensemble's per class", async () => {
    const r = cli('eval', '--model', a, '--model', b);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^member 1 {2}test accuracy \d+\.\d\d% \([\d,]+\/10,000\) · mlp 784-32-10 .* · .*mlp-1\.ckpt$/);
    expect(lines[1]).toMatch(/^member 2 {2}test accuracy \d+\.\d\d% \([\d,]+\/10,000\) · mlp 784-32-10 .* · .*mlp-2\.ckpt$/);
    expect(lines[2]).toMatch(/^ensemble {2}test accuracy \d+\.\d\d% \([\d,]+\/10,000\) · mean of 2 models$/);
    expect(lines[3]).toBe('mistakes in common (both members wrong; the diagonal: each member alone):');
    expect(lines[4]).toMatch(/^ +1 +2$/);
    // The table's cells: each member's own mistakes on the diagonal, the shared ones (the same both ways) off it.
    const [own1, both12] = lines[5].replace(/,/g, '').trim().split(/ +/).slice(1).map(Number);
    const [both21, own2] = lines[6].replace(/,/g, '').trim().split(/ +/).slice(1).map(Number);
    const single = [a, b].map((f) => JSON.parse(cli('eval', '--model', f, '--json').stdout) as { misclassified: number[] });
    expect([own1, own2]).toEqual(single.map((s) => s.misclassified.length));
    const common = single[0].misclassified.filter((i) => single[1].misclassified.includes(i)).length;
    expect([both12, both21]).toEqual([common, common]);
    expect(lines[7]).toBe(`wrong by every member: ${common.toLocaleString('en-US')} · right by at least one: ${(100 - common / 100).toFixed(2)}% (${(10000 - common).toLocaleString('en-US')}/10,000)`);
    expect(lines[8]).toBe('per class (ensemble):');
    expect(lines.slice(9, 19).every((l) => /^ +\d +\d+\.\d\d% +\(/.test(l))).toBe(true);
    expect(lines[19]).toMatch(/^most frequent mistakes \(true → predicted\): /);
    expect(lines).toHaveLength(20);
  });

  it('--json gives the ensemble accuracy the library computes, each member, and tta', async () => {
    const r = cli('eval', '--model', a, '--model', b, '--json');
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { testAccuracy: number; testLogLoss: number; confusion: number[][]; misclassified: number[] };
    const single = [a, b].map((f) => JSON.parse(cli('eval', '--model', f, '--json').stdout) as { testAccuracy: number; testLogLoss: number; misclassified: number[] });
    const { confusion, misclassified, testLogLoss, ...rest } = out;
    const common = single[0].misclassified.filter((i) => single[1].misclassified.includes(i)).length;
    expect(testLogLoss).toBeCloseTo(await libraryLogLoss([a, b]), 12);
    // The mean of the probabilities, not of the members' log losses: by Jensen's inequality it is lower than theirs on average.
    expect(testLogLoss).toBeLessThan((single[0].testLogLoss + single[1].testLogLoss) / 2);
    expect(rest).toEqual({
      testAccuracy: await libraryAccuracy([a, b], false),
      testSize: 10000,
      tta: false,
      // Each member's own mistakes and log loss, the same as its own eval's, and how many mistakes the two share.
      members: single.map((s, i) => ({ model: [a, b][i], testAccuracy: s.testAccuracy, testLogLoss: s.testLogLoss, misclassified: s.misclassified })),
      sharedMistakes: [[single[0].misclassified.length, common], [common, single[1].misclassified.length]],
      wrongByAll: common,
    });
    expect(common).toBeGreaterThan(0); // two seeds of one tiny MLP share mistakes: the count is not trivially 0
    // The confusion matrix and the mistakes are the ensemble's, not a member's.
    expect(confusion.reduce((s, row, c) => s + row[c], 0)).toBe(Math.round(out.testAccuracy * 10000));
    expect(misclassified).toHaveLength(10000 - Math.round(out.testAccuracy * 10000));
    expect(misclassified).not.toEqual(single[0].misclassified);
  });

  it('--tta averages every member over the same views', async () => {
    const r = cli('eval', '--model', a, '--model', b, '--tta', '--json');
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { testAccuracy: number; members: { testAccuracy: number }[]; tta: boolean };
    expect(out.tta).toBe(true);
    expect(out.testAccuracy).toBe(await libraryAccuracy([a, b], true));
    expect(out.members[0].testAccuracy).toBe(await libraryAccuracy([a], true));
    const text = cli('eval', '--model', a, '--model', b, '--tta');
    expect(text.stdout).toMatch(/^ensemble {2}test accuracy .* · mean of 2 models · test-time augmentation \(5 views\)$/m);
  });
});

describe('mnist-dp eval --select N', () => {
  let c: string;
  beforeAll(async () => {
    c = await trainTinyMlp(work(), 5); // beside seed 1 (the best alone), seed 5 adds a validation image: seed 2 or 3 would not
  });

  it('chooses members greedily on the validation split; the chosen ensemble evaluates to the figure it printed', async () => {
    const r = cli('eval', '--split', 'val', '--select', '3', '--model', a, '--model', b, '--model', c, '--json');
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { valSize: number; members: { model: string; valAccuracy: number; valLogLoss: number }[]; selection: { model: string; valAccuracy: number; valLogLoss: number; wrongByAll: number }[] };
    // Three seeds of a tiny MLP (89-92 % alone); the selection has at least two steps (see c).
    expect(out.selection.length).toBeGreaterThanOrEqual(2);
    // The first step is the member with the most validation images right (ties: the first given).
    const best = out.members.reduce((x, y) => (y.valAccuracy > x.valAccuracy ? y : x));
    expect(out.selection[0]).toEqual({ model: best.model, valAccuracy: best.valAccuracy, valLogLoss: best.valLogLoss, wrongByAll: Math.round((1 - best.valAccuracy) * out.valSize) });
    // Each step's figure is what eval, by its own path, says of the members chosen so far in that order.
    const chosen = out.selection.map((s) => s.model);
    for (let k = 2; k <= chosen.length; k++) {
      const again = JSON.parse(cli('eval', '--split', 'val', ...chosen.slice(0, k).flatMap((m) => ['--model', m]), '--json').stdout) as { valAccuracy: number; valLogLoss: number; wrongByAll: number };
      expect(out.selection[k - 1].valAccuracy).toBe(again.valAccuracy);
      expect(out.selection[k - 1].valLogLoss).toBeCloseTo(again.valLogLoss, 12);
      expect(out.selection[k - 1].wrongByAll).toBe(again.wrongByAll);
      expect(out.selection[k - 1].valAccuracy).toBeGreaterThan(out.selection[k - 2].valAccuracy); // each step adds an image
    }

    // npm run ensemble -- --select reads this JSON (committeeRecord): the chosen files, by their members' names.
    const names = [a, b, c].map((m, i) => ({ model: m, member: `tiny:${i + 1}`, differences: [], bestFlags: '' }));
    const record = committeeRecord(out as unknown as SelectionEval, names, { maxMembers: 3, command: 'test', machine: 'test' });
    expect(record.chosen).toBe(chosen.map((m) => `tiny:${[a, b, c].indexOf(m) + 1}`).join(','));

    const text = cli('eval', '--split', 'val', '--select', '3', '--model', a, '--model', b, '--model', c).stdout.split('\n');
    const at = text.indexOf('greedy selection (at most 3 members, equal weights; each figure the ensemble of the members so far, in this order):');
    expect(at).toBeGreaterThan(0);
    expect(text[at + 1].startsWith(`   1  + ${chosen[0]}  validation accuracy `), text[at + 1]).toBe(true);
    expect(text[at + 1]).toMatch(/ validation accuracy \d+\.\d\d% \([\d,]+\/500\) · wrong by every member chosen: \d+$/);
    expect(text[at + 1 + chosen.length]).toMatch(/^stopped: (every candidate chosen|no other candidate adds an image)$/);
    expect(text[at + 2 + chosen.length]).toBe(`chosen: mnist-dp eval --split val ${chosen.map((m) => `--model ${m}`).join(' ')}`);
  });

  it('--select-by log-loss: each step lowers the ensemble\'s validation log loss the most, and it stops when none does', () => {
    const models = [a, b, c];
    const r = cli('eval', '--split', 'val', '--select', '3', '--select-by', 'log-loss', ...models.flatMap((m) => ['--model', m]), '--json');
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { members: { model: string; valLogLoss: number }[]; selection: { model: string; valLogLoss: number }[] };
    const lossOf = (members: string[]) => (JSON.parse(cli('eval', '--split', 'val', ...members.flatMap((m) => ['--model', m]), '--json').stdout) as { valLogLoss: number }).valLogLoss;
    // The start: the lowest log loss alone.
    const start = out.members.reduce((x, y) => (y.valLogLoss < x.valLogLoss ? y : x));
    expect(out.selection[0].model).toBe(start.model);
    const chosen: string[] = [out.selection[0].model];
    for (const step of out.selection.slice(1)) {
      const others = models.filter((m) => !chosen.includes(m));
      const losses = others.map((m) => lossOf([...chosen, m]));
      expect(step.model).toBe(others[losses.indexOf(Math.min(...losses))]);
      expect(step.valLogLoss).toBeLessThan(out.selection[chosen.length - 1].valLogLoss);
      chosen.push(step.model);
    }
    // Two seeds of the tiny MLP always lower each other's log loss (averaging unsure models): at least two steps.
    expect(chosen.length).toBeGreaterThanOrEqual(2);
    for (const m of models.filter((x) => !chosen.includes(x))) expect(lossOf([...chosen, m])).toBeGreaterThanOrEqual(out.selection[chosen.length - 1].valLogLoss);
    const text = cli('eval', '--split', 'val', '--select', '3', '--select-by', 'log-loss', ...models.flatMap((m) => ['--model', m])).stdout.split('\n');
    const at = text.indexOf('greedy selection by log loss (at most 3 members, equal weights; each figure the ensemble of the members so far, in this order):');
    expect(at).toBeGreaterThan(0);
    expect(text[at + 1]).toMatch(/ validation accuracy \d+\.\d\d% \([\d,]+\/500\) · log loss \d\.\d{5} · wrong by every member chosen: \d+$/);
    expect(text[at + 1 + chosen.length]).toMatch(/^stopped: (every candidate chosen|no other candidate lowers the log loss)$/);
  });

  it('stops at N members', () => {
    const text = cli('eval', '--split', 'val', '--select', '1', '--model', a, '--model', b, '--model', c).stdout.split('\n');
    const at = text.indexOf('greedy selection (at most 1 member, equal weights; each figure the ensemble of the members so far, in this order):');
    expect(at).toBeGreaterThan(0);
    expect(text[at + 2]).toBe('stopped: 1 member, the most --select allows');
  });

  it('refuses the test set, one candidate, a candidate given twice, and a count that is not a whole number ≥ 1, in one line', () => {
    expectError(cli('eval', '--select', '2', '--model', a, '--model', b), 2, '--select', '--split val');
    expectError(cli('eval', '--split', 'val', '--select', '2', '--model', a), 2, '--select chooses among two or more --model candidates');
    expectError(cli('eval', '--split', 'val', '--select', '2', '--model', a, '--model', b, '--model', a), 2, `--select: ${a} is given twice`);
    const sameFile = `${dirname(a)}/./${basename(a)}`; // another spelling of a's path
    expectError(cli('eval', '--split', 'val', '--select', '2', '--model', a, '--model', b, '--model', sameFile), 2, `--select: ${sameFile} is given twice`);
    expectError(cli('eval', '--split', 'val', '--select', '0', '--model', a, '--model', b), 2, '--select must be an integer ≥ 1, got 0');
    expectError(cli('eval', '--split', 'val', '--select-by', 'log-loss', '--model', a, '--model', b), 2, '--select-by only applies with --select');
    expectError(cli('eval', '--split', 'val', '--select', '2', '--select-by', 'loss', '--model', a, '--model', b), 2, '--select-by must be accuracy or log-loss, got "loss"');
  });
});

describe('mnist-dp eval with one --model', () => {
  it('prints the fields it always did, and its log loss', async () => {
    const r = cli('eval', '--model', a, '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ testAccuracy: await libraryAccuracy([a], false), testSize: 10000, model: a });
    expect(Object.keys(JSON.parse(r.stdout))).toEqual(['testAccuracy', 'testLogLoss', 'testSize', 'model', 'confusion', 'misclassified']);
    const loss = (JSON.parse(r.stdout) as { testLogLoss: number }).testLogLoss;
    expect(loss).toBeCloseTo(await libraryLogLoss([a]), 12);
    expect(loss).toBeGreaterThan(0.05); // a tiny MLP at ~90 %: far from confident on every image
    const text = cli('eval', '--model', a).stdout.trim().split('\n');
    expect(text[0]).toMatch(/^test accuracy \d+\.\d\d% \([\d,]+\/10,000\) · mlp 784-32-10 .* · .*mlp-1\.ckpt$/);
    expect(text[1]).toBe('per class:');
  });

  it('--tta adds "tta": true and the accuracy with TTA', async () => {
    const r = cli('eval', '--model', a, '--tta', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ testAccuracy: await libraryAccuracy([a], true), testSize: 10000, model: a, tta: true });
  });
});

describe('mnist-dp eval: members that do not fit are refused in one line naming the file', () => {
  it('a missing member (exit 1)', () => {
    expectError(cli('eval', '--model', a, '--model', '/nonexistent.ckpt'), 1, '/nonexistent.ckpt');
  });

  it('a member with more classes than the others (exit 2)', async () => {
    const other = await untrainedCheckpoint(work(), 'twelve.ckpt', makeSpec([784, 12], { kind: 'relu' }, 'cross-entropy'));
    expectError(cli('eval', '--model', a, '--model', other), 2, other, '12 classes', a);
  });

  it('a member that does not read the images (exit 2)', async () => {
    const other = await untrainedCheckpoint(work(), 'small.ckpt', makeSpec([16, 10], { kind: 'relu' }, 'cross-entropy'));
    expectError(cli('eval', '--model', a, '--model', other), 2, other, '16 inputs', '28×28');
  });

  it('--tta with a CNN whose images have another shape than the data (exit 2)', async () => {
    const other = await untrainedCheckpoint(work(), 'wide.ckpt', parseCnnSpec('c2k3-relu-fc10', { height: 14, width: 56, channels: 1 }));
    expectError(cli('eval', '--model', other, '--tta'), 2, '--tta', other, '14×56', '28×28');
  });
});
