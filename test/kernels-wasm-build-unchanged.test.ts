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
// Updated again for issue 16's speed-up: the Winograd transforms load their inputs column by column (the
// same instructions on the same values, reordered: no result changes), and gemmAtBAcc, gemmABBatch and
// gemmAtBBatch appended at the module's end; the GEMMs' text and every other kernel's is unchanged.
const RECORDED: Record<string, string> = {
  'kernels.wat': 'eb978448e8b6e3112e6882c3015edca6dfebb5c6404ade153e47df263870b317',
  'kernels.wasm': '48f5300f0aba00c250dc76ce0036db9aa6a49a268a8bc9aeaca4970f8dee1cc7',
  'kernels-relaxed.wat': '7dcae5ba37ddc3a1831e70db0dd3c1aa33002683c84430aeac3fa083d8ae7c70',
  'kernels-relaxed.wasm': '18879c3e69ed0ae6e7b5fe1d5340ea9cbfd319e1f28006faee46a6513bfa5faa',
};

const out = mkdtempSync(join(tmpdir(), 'mnist-dp-wasm-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

it('the generator builds the same bytes as recorded, for both variants (text and binary)', () => {
  execFileSync(process.execPath, ['scripts/build-wasm.mjs', '--out', out, '--quiet'], { stdio: 'inherit' });
  const built = Object.fromEntries(Object.keys(RECORDED).map((file) =>
    [file, createHash('sha256').update(readFileSync(join(out, file))).digest('hex')]));
  expect(built).toEqual(RECORDED);
});
