import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';

// The sha256 of every file scripts/build-wasm.mjs writes, recorded on 2026-12-01 at commit 798bcb5, before
// the WAT generator was split by family and the adapter derived from a table (issue 11, item 4). That
// refactoring had to give byte-identical modules; this test guards against an accidental change of the
// generated kernels since. A deliberate change of a kernel updates these digests in its own commit, with
// its reason (and, when the numbers move, new digests in test/behaviour-kept.test.ts).
// Updated for issue 16: the Winograd family (winograd.mjs) appended at the module's end; the text of every
// earlier kernel is unchanged (the new text starts with the old module's, byte for byte).
// Updated for issue 17 (a faster --preset fast): im2col has a path for unpadded convolutions (the first
// layer of most networks), pure copies of the same bytes; the numbers do not move (behaviour-kept passes).
// Updated again for issue 16's speed-up: the Winograd transforms load their inputs column by column (the
// same instructions on the same values, reordered: no result changes), and gemmAtBAcc, gemmABBatch and
// gemmAtBBatch appended at the module's end; the GEMMs' text and every other kernel's is unchanged.
const RECORDED: Record<string, string> = {
  'kernels.wat': '2d8edf7bd8c15270e5c0f364f72f0c54c0c8ba0467b2c1bf762e7a3a83dcf267',
  'kernels.wasm': '6017cf821d754435838ff11abfc3b2d8186eb25fbb2cecf24e94a37de68b3619',
  'kernels-relaxed.wat': 'e6b9798a7435e6042e2a181da454db5c9e69d596df1988a9e2fdd7220966d75b',
  'kernels-relaxed.wasm': '17b2719a2526392a975785f19d2f51a4f8e6145bdc32b0caf496050e8a79b57d',
};

const out = mkdtempSync(join(tmpdir(), 'mnist-dp-wasm-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

it('the generator builds the same bytes as recorded, for both variants (text and binary)', () => {
  execFileSync(process.execPath, ['scripts/build-wasm.mjs', '--out', out, '--quiet'], { stdio: 'inherit' });
  const built = Object.fromEntries(Object.keys(RECORDED).map((file) =>
    [file, createHash('sha256').update(readFileSync(join(out, file))).digest('hex')]));
  expect(built).toEqual(RECORDED);
});
