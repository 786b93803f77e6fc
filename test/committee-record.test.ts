import { describe, expect, it } from 'vitest';
import { mistakeOverlap } from '../src/model/ensemble.js';
import { committeeRecord, type CommitteeCandidate, type SelectionEval } from '../src/sweep/committee.js';

/**
 * selection.json / selection.md of `npm run ensemble -- --select` (src/sweep/committee.ts) from a canned
 * `eval --split val --select N --json` of three candidates, chosen in another order than given: each
 * figure lands on its own candidate's row, the chosen list and the next command follow the selection's
 * order, and an eval that does not fit the candidates is refused. (cli-eval-ensemble.test.ts feeds it
 * the real eval's JSON.)
 */

const candidates: CommitteeCandidate[] = [
  { model: 'pool/trials/wideres-seed1.ckpt', member: 'wideres:1', differences: [], bestFlags: ' --model cnn-wide-res --seed 1' },
  { model: 'pool/trials/strided-seed1.ckpt', member: 'strided:1', differences: ['--epochs 25 (the recipe: 30)'], bestFlags: ' --model cnn-strided --epochs 30 --seed 1' },
  { model: 'pool/trials/elastic-seed2.ckpt', member: 'elastic:2', differences: [], bestFlags: ' --model cnn-wide --augment rotate=10 --seed 2' },
];
// Candidate 2 (strided) is best alone, then candidate 3 (elastic) adds two images; wideres adds none.
// The candidates' mistakes as eval collects them (ascending indices): 4 images wrong by all three, 5
// by wideres and strided only, 3 by wideres and elastic only, 2 by strided and elastic only, the rest
// by one alone (13, 12 and 28 in all).
const run = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);
const byAll = run(10, 4);
const mistakes = [
  [...byAll, ...run(20, 5), ...run(30, 3), 40],
  [...byAll, ...run(20, 5), ...run(50, 2), 60],
  [...byAll, ...run(30, 3), ...run(50, 2), ...run(70, 19)],
];
const overlap = mistakeOverlap(mistakes, 5000);
const evaluation: SelectionEval = {
  valSize: 5000,
  members: mistakes.map((m) => ({ valAccuracy: (5000 - m.length) / 5000, misclassified: m })),
  sharedMistakes: overlap.shared,
  wrongByAll: overlap.wrongByAll,
  selection: [
    { model: 'pool/trials/strided-seed1.ckpt', valAccuracy: 4988 / 5000, wrongByAll: 12 },
    { model: 'pool/trials/elastic-seed2.ckpt', valAccuracy: 4990 / 5000, wrongByAll: 6 },
  ],
};
const options = { maxMembers: 10, command: 'npm run ensemble -- --select --max-members 10 --members wideres:1,strided:1,elastic:2 --dir pool', machine: 'a machine' };

describe('committeeRecord: the record of a committee chosen on validation', () => {
  it('names the chosen members in the order chosen, and the command that trains them on all images', () => {
    expect(evaluation.sharedMistakes).toEqual([[13, 9, 7], [9, 12, 6], [7, 6, 28]]); // the fixture is what it says
    expect(evaluation.wrongByAll).toBe(4);
    const r = committeeRecord(evaluation, candidates, options);
    expect(r.chosen).toBe('strided:1,elastic:2');
    expect(r.next).toBe('npm run ensemble -- --members strided:1,elastic:2 --dir NEW-DIR');
    expect(committeeRecord(evaluation, candidates, { ...options, conv: 'im2col' }).next).toBe('npm run ensemble -- --members strided:1,elastic:2 --conv im2col --dir NEW-DIR');
    expect(r.json).toEqual({
      command: options.command, machine: 'a machine', valSize: 5000, selectBy: 'accuracy', recalibrateBn: false,
      candidates: candidates.map((c, i) => ({ model: c.model, member: c.member, differences: c.differences, valAccuracy: evaluation.members[i].valAccuracy, misclassified: evaluation.members[i].misclassified })),
      sharedMistakes: evaluation.sharedMistakes, wrongByAll: 4,
      selection: [{ ...evaluation.selection[0], member: 'strided:1' }, { ...evaluation.selection[1], member: 'elastic:2' }],
      chosen: 'strided:1,elastic:2', next: r.next,
    });
  });

  it('writes each candidate, the overlap and each step as Markdown tables', () => {
    const lines = committeeRecord(evaluation, candidates, options).markdown.split('\n');
    expect(lines[0]).toBe(`# A committee chosen on 5,000 validation images (\`${options.command}\`, a machine)`);
    expect(lines).toContain('| wideres:1 |  | 99.74% | 13 |');
    expect(lines).toContain('| strided:1 | --epochs 25 (the recipe: 30) | 99.76% | 12 |');
    expect(lines).toContain('| elastic:2 |  | 99.44% | 28 |');
    expect(lines).toContain('| | wideres:1 | strided:1 | elastic:2 |');
    expect(lines).toContain('| strided:1 | 9 | 12 | 6 |');
    expect(lines).toContain('Mistakes in common (both wrong; the diagonal: each alone), in the order above; 4 images every candidate gets wrong:');
    const steps = lines.indexOf('| step | added | ensemble validation accuracy | wrong by every member chosen |');
    expect(lines.slice(steps + 2, steps + 4)).toEqual(['| 1 | strided:1 | 99.76% | 12 |', '| 2 | elastic:2 | 99.80% | 6 |']);
    expect(lines).toContain('Chosen: `strided:1,elastic:2`. Trained on all 60,000 images and tested once: `npm run ensemble -- --members strided:1,elastic:2 --dir NEW-DIR`.');
  });

  it('a single member chosen (no other adds an image) is trained by npm run best with its recipe', () => {
    const single = { ...evaluation, selection: evaluation.selection.slice(0, 1) };
    expect(committeeRecord(single, candidates, options).next).toBe('npm run best -- --model cnn-strided --epochs 30 --seed 1 --out NEW.ckpt (no other candidate adds an image: a single model)');
  });

  it('with a recalibrated eval beside the plain one, uses the selection that ends higher (ties: plain), and says so', () => {
    // The same candidates with batch norm recalibrated: elastic:2 alone improves, and wideres:1 joins.
    const recalibrated: SelectionEval = {
      ...evaluation,
      members: [evaluation.members[0], evaluation.members[1], { valAccuracy: 4980 / 5000, misclassified: mistakes[2].slice(8) }],
      selection: [
        { model: 'pool/trials/strided-seed1.ckpt', valAccuracy: 4988 / 5000, wrongByAll: 12 },
        { model: 'pool/trials/elastic-seed2.ckpt', valAccuracy: 4991 / 5000, wrongByAll: 6 },
        { model: 'pool/trials/wideres-seed1.ckpt', valAccuracy: 4992 / 5000, wrongByAll: 4 },
      ],
    };
    const r = committeeRecord(evaluation, candidates, options, recalibrated);
    expect([r.chosen, r.recalibrateBn]).toEqual(['strided:1,elastic:2,wideres:1', true]);
    expect(r.next).toBe('npm run ensemble -- --members strided:1,elastic:2,wideres:1 --recalibrate-bn --dir NEW-DIR');
    expect(r.json).toMatchObject({
      recalibrateBn: true, chosen: r.chosen,
      other: { recalibrateBn: false, chosen: 'strided:1,elastic:2', valAccuracy: 4990 / 5000 },
      candidates: [{ valAccuracy: 4987 / 5000, valAccuracyRecalibrated: 4987 / 5000 }, {}, { valAccuracy: 4972 / 5000, valAccuracyRecalibrated: 4980 / 5000, misclassified: mistakes[2].slice(8) }],
    });
    const lines = r.markdown.split('\n');
    expect(lines).toContain('| elastic:2 |  | 99.44% | 28 | 99.60% | 20 |');
    expect(lines).toContain('| 3 | wideres:1 | 99.84% | 4 |');
    expect(lines).toContain('The selection plain ends at 99.80% with `strided:1,elastic:2`; the one above is used (the higher; ties: plain).');

    // A tie keeps the plain selection.
    const tie = { ...recalibrated, selection: recalibrated.selection.map((st) => ({ ...st, valAccuracy: 4990 / 5000 })) };
    const t = committeeRecord(evaluation, candidates, options, tie);
    expect([t.chosen, t.recalibrateBn, t.next]).toEqual(['strided:1,elastic:2', false, 'npm run ensemble -- --members strided:1,elastic:2 --dir NEW-DIR']);
    expect(t.json).toMatchObject({ other: { recalibrateBn: true, chosen: 'strided:1,elastic:2,wideres:1', valAccuracy: 4990 / 5000 } });
    // A single recalibrated member: npm run best, then eval with its batch norm recalibrated.
    const single = { ...recalibrated, selection: [{ model: 'pool/trials/elastic-seed2.ckpt', valAccuracy: 4995 / 5000, wrongByAll: 5 }] };
    expect(committeeRecord(evaluation, candidates, options, single).next)
      .toBe('npm run best -- --model cnn-wide --augment rotate=10 --seed 2 --out NEW.ckpt, then mnist-dp eval --recalibrate-bn --model NEW.ckpt (no other candidate adds an image: a single model)');
  });

  it('by log loss: uses the selection whose final log loss is lower, even at fewer images right, and shows each step\'s', () => {
    const withLoss = (e: SelectionEval, losses: number[]): SelectionEval => ({ ...e, selection: e.selection.map((st, k) => ({ ...st, valLogLoss: losses[k] })) });
    const plain = withLoss(evaluation, [0.0312, 0.0287]);
    // Recalibrated: one image fewer right at the end, but a lower log loss.
    const recalibrated = withLoss({ ...evaluation, selection: [evaluation.selection[0], { ...evaluation.selection[1], valAccuracy: 4989 / 5000 }] }, [0.0301, 0.0270]);
    const byLoss = { ...options, selectBy: 'log-loss' as const };
    const r = committeeRecord(plain, candidates, byLoss, recalibrated);
    expect([r.chosen, r.recalibrateBn]).toEqual(['strided:1,elastic:2', true]);
    expect(r.json).toMatchObject({ selectBy: 'log-loss', other: { recalibrateBn: false, valAccuracy: 4990 / 5000, valLogLoss: 0.0287 } });
    const lines = r.markdown.split('\n');
    const steps = lines.indexOf('| step | added | ensemble validation accuracy | log loss | wrong by every member chosen |');
    expect(lines.slice(steps + 2, steps + 4)).toEqual(['| 1 | strided:1 | 99.76% | 0.03010 | 12 |', '| 2 | elastic:2 | 99.78% | 0.02700 | 6 |']);
    expect(lines).toContain('The selection plain ends at 99.80% (log loss 0.02870) with `strided:1,elastic:2`; the one above is used (the lower log loss; ties: plain).');
    // By accuracy the same two evaluations keep the plain one (99.80 against 99.78 %).
    expect(committeeRecord(plain, candidates, options, recalibrated).recalibrateBn).toBe(false);
    // A tie in log loss keeps plain; a single member says why it is alone.
    expect(committeeRecord(plain, candidates, byLoss, withLoss(recalibrated, [0.0301, 0.0287])).recalibrateBn).toBe(false);
    expect(committeeRecord({ ...plain, selection: plain.selection.slice(0, 1) }, candidates, byLoss).next).toMatch(/\(no other candidate lowers the log loss: a single model\)$/);
    // An eval without log losses cannot be compared by them.
    expect(() => committeeRecord(evaluation, candidates, byLoss, recalibrated)).toThrow(/reported no validation log loss/);
  });

  it('refuses an eval that does not fit the candidates', () => {
    expect(() => committeeRecord(evaluation, candidates.slice(0, 2), options)).toThrow('committeeRecord: eval reports 3 candidates, 2 were given');
    expect(() => committeeRecord({ ...evaluation, selection: [] }, candidates, options)).toThrow('eval chose no candidate (was it run with --select?)');
    const stranger = { ...evaluation, selection: [{ model: 'elsewhere.ckpt', valAccuracy: 0.99, wrongByAll: 50 }] };
    expect(() => committeeRecord(stranger, candidates, options)).toThrow('committeeRecord: eval chose elsewhere.ckpt, which is no candidate given');
  });
});
