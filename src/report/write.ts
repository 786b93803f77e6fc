import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { writeFileAtomic } from '../atomic-write.js';
import { loadCheckpoint } from '../checkpoint.js';
import { mistakeOverlap } from '../model/ensemble.js';
import type { Evaluation } from '../evaluate.js';
import { renderPng } from './charts.js';
import { buildReport, digitGalleryPng, type RunRecord } from './report.js';

/** The run's record beside its checkpoint (`models/mnist-best.ckpt.json`), if there is one that reads. */
function readRecord(file: string): RunRecord | null {
  const json = `${file}.json`;
  if (!existsSync(json)) return null;
  try {
    return JSON.parse(readFileSync(json, 'utf8')) as RunRecord;
  } catch {
    return null; // a record is extra: the checkpoint has what the report needs
  }
}

/** What a report shows of the test set: the models evaluated (one, or an ensemble), and what evaluateModels found there. */
export interface EvaluatedModels {
  files: string[];
  tta: boolean;
  evaluation: Evaluation;
}

/**
 * Writes the HTML report of the runs `runFiles` (their curves overlaid) and of an evaluation already made
 * (`mnist-dp report`, and a sweep's report of its trials and its chosen one), atomically; with `pngDir`
 * also every chart and the gallery of mistakes as PNG. `evaluated` null: the training curves alone (a
 * search that keeps the test set for its finalists). Returns the files written.
 */
export async function writeReport(runFiles: readonly string[], evaluated: EvaluatedModels | null, out: string, pngDir?: string): Promise<string[]> {
  const labels = runFiles.map((f) => basename(f).replace(/\.ckpt$/, ''));
  const runs = [];
  for (const [i, file] of runFiles.entries()) {
    // Two runs of the same name in different folders keep their paths apart.
    const label = labels.indexOf(labels[i]) === labels.lastIndexOf(labels[i]) ? labels[i] : file;
    runs.push({ file, label, checkpoint: await loadCheckpoint(file), record: readRecord(file) });
  }
  const e = evaluated?.evaluation;
  const report = await buildReport(runs, evaluated && e ? {
    files: evaluated.files, tta: evaluated.tta, confusion: e.confusion, misclassified: e.misclassified, testAccuracy: e.accuracy,
    memberAccuracies: evaluated.files.length > 1 ? e.memberCorrect.map((n) => n / e.images.count) : null, test: e.images,
    overlap: evaluated.files.length > 1 ? mistakeOverlap(e.memberMistakes, e.images.count) : null,
  } : null);
  await writeFileAtomic(out, report.html);
  const written = [out];
  if (pngDir) {
    await mkdir(pngDir, { recursive: true });
    for (const chart of report.charts) {
      const file = join(pngDir, `${chart.name}.png`);
      await writeFileAtomic(file, await renderPng(chart.svg));
      written.push(file);
    }
    const mistakes = e ? digitGalleryPng(e.misclassified, e.images) : null;
    if (mistakes) {
      await writeFileAtomic(join(pngDir, 'mistakes.png'), mistakes);
      written.push(join(pngDir, 'mistakes.png'));
    }
  }
  return written;
}
