/**
 * `npm run fuzz`: bounded fuzzing of mnist-dp's readers of outside input (IDX data, checkpoints, PNG
 * pictures), each case in a child process under a memory cap and a time limit (fuzz.ts), then the
 * crafted bombs of each kind (bombs.ts) with their peak memory. Prints one table; exits 1 on any failure.
 *
 *   npm run fuzz -- [--kinds idx,checkpoint,png] [--cases 3000] [--seed 1] [--memory-mb 300]
 *                   [--time-limit-ms 10000] [--keep DIR] [--no-bombs]
 */
import { parseArgs } from 'node:util';
import { runBombs } from './bombs.js';
import { fuzz } from './fuzz.js';
import { FAILURES, TARGETS } from './targets.js';

const { values } = parseArgs({
  options: {
    kinds: { type: 'string', default: Object.keys(TARGETS).join(',') },
    cases: { type: 'string', default: '3000' },
    seed: { type: 'string', default: '1' },
    'memory-mb': { type: 'string', default: '300' },
    'time-limit-ms': { type: 'string', default: '10000' },
    keep: { type: 'string' },
    'no-bombs': { type: 'boolean', default: false },
  },
});

const memoryMb = Number(values['memory-mb']);
let failed = 0;
console.log('kind        cases  accepted  refused  unclear  accepted-corrupt  crash  hang  oversized  max RSS   seconds');
for (const kind of values.kinds!.split(',')) {
  const r = await fuzz({ kind, cases: Number(values.cases), seed: Number(values.seed), memoryMb, timeLimitMs: Number(values['time-limit-ms']), keepDir: values.keep });
  const o = r.outcomes;
  console.log(`${kind.padEnd(10)} ${String(r.cases).padStart(6)} ${String(o.accepted).padStart(9)} ${String(o.refused).padStart(8)} ${String(o.unclear).padStart(8)} ` +
    `${String(o['accepted-corrupt']).padStart(17)} ${String(o.crash).padStart(6)} ${String(o.hang).padStart(5)} ${String(o.oversized).padStart(10)} ${r.maxRssMb.toFixed(0).padStart(5)} MB ${r.seconds.toFixed(1).padStart(8)}`);
  failed += r.failures.length;
  const shown = new Set<string>();
  for (const f of r.failures) {
    const key = `${f.outcome}: ${f.message.replace(/\/\S+/g, 'FILE').replace(/\d+/g, 'N')}`;
    if (shown.has(key) || shown.size >= 8) continue;
    shown.add(key);
    console.log(`    case ${f.index} ${f.outcome}: ${f.message}`);
  }
}
if (!values['no-bombs']) {
  console.log('\nbomb                                              file size   outcome   peak RSS   message');
  for (const b of await runBombs(memoryMb)) {
    console.log(`${b.name.padEnd(48)} ${b.fileSize.padStart(10)}   ${b.outcome.padEnd(8)} ${b.maxRssMb.toFixed(0).padStart(6)} MB   ${b.message.slice(0, 160)}`);
    if (FAILURES.includes(b.outcome)) failed++;
  }
}
if (failed > 0) {
  console.log(`\n${failed} failure(s)`);
  process.exitCode = 1;
}
