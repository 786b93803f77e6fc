/**
 * The child process of the fuzzer (see fuzz.ts): plumbing only. It runs cases [from, to) of one input
 * kind, each written to a file in `dir` and read by mnist-dp's own reader, and tells the parent over IPC
 * when each case starts and how it ended, so that the parent can blame a crash, a hang or an oversized
 * allocation on the case in progress. Arguments: kind seed from to dir; or `kind --file FILE`, which
 * reads one given file (a crafted bomb) and reports its outcome with the process's peak memory.
 */
import { readFileSync, statSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { caseRandom, below } from './mutate.js';
import { classifyError, TARGETS } from './targets.js';

const [kind, seedText, fromText, toText, dir] = process.argv.slice(2);
const target = TARGETS[kind];
const seed = Number(seedText);
const send = (message: object) => new Promise<void>((resolve) => process.send!(message, () => resolve()));

/** Runs one case's file through the reader: its outcome and, when it threw, what it said. */
async function run(file: string, bytes: Buffer): Promise<{ outcome: string; message: string }> {
  try {
    return { outcome: await target.use(file, bytes), message: '' };
  } catch (err) {
    return { outcome: classifyError(err, file, target.code), message: (err instanceof Error ? `${err.name}: ${err.message}` : String(err)).slice(0, 400) };
  }
}

if (seedText === '--file') {
  const file = fromText;
  await send({ type: 'start', index: 0, file });
  // Only a small regular file is read here first (for the PNG structure check): `use` reads it the way mnist-dp does.
  const stats = statSync(file);
  const result = await run(file, stats.isFile() && stats.size < 2 ** 24 ? readFileSync(file) : Buffer.alloc(0));
  await send({ type: 'done', index: 0, ...result, maxRssMb: process.resourceUsage().maxRSS / 1024 });
  process.exit(0);
}

const seeds = await target.seeds(dir);
for (let i = Number(fromText); i < Number(toText); i++) {
  const file = join(dir, `case-${i}.${target.extension}`);
  await send({ type: 'start', index: i, file }); // before the mutation too: a fuzzer that fails is blamed on its case, not hidden
  const r = caseRandom(seed, i);
  const bytes = target.mutate(seeds[below(r, seeds.length)], r);
  await writeFile(file, bytes);
  const { outcome, message } = await run(file, bytes);
  await send({ type: 'done', index: i, outcome, message });
  if (outcome === 'accepted' || outcome === 'refused') await rm(file, { force: true });
}
