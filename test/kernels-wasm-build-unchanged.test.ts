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
// Updated for F(2×2, 5×5) (session of 2026-12-03 18:48): the six Winograd kernels take the window r beside
// m and hold a third variant's code; the 3×3 variants' instructions are those of before (a 3×3 training
// and the shipped model's probabilities give the same bits: BENCHMARKS.md), every other kernel unchanged.
const RECORDED: Record<string, string> = {
  'kernels.wat': 'b66dc907718ac8273901a86308a1a7ab56f06746b5aeffabdf3d9d7f1abe3167',
  'kernels.wasm': 'a608c7ce7c8ca3410070de6f6e5f462804b3afa218a6f09b39703249ed802dfe',
  'kernels-relaxed.wat': '6d8ef8fdafd5e5d4c0088e008753e173206b81363b39feb0b0bf36a688af67e0',
  'kernels-relaxed.wasm': '7fa50bb378f0239c6aff675ae6c5902f46ab0950146e4994da9e5373a394e600',
};

const out = mkdtempSync(join(tmpdir(), 'mnist-dp-wasm-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

it('the generator builds the same bytes as recorded, for both variants (text and binary)', () => {
  execFileSync(process.execPath, ['scripts/build-wasm.mjs', '--out', out, '--quiet'], { stdio: 'inherit' });
  const built = Object.fromEntries(Object.keys(RECORDED).map((file) =>
    [file, createHash('sha256').update(readFileSync(join(out, file))).digest('hex')]));
  expect(built).toEqual(RECORDED);
});
