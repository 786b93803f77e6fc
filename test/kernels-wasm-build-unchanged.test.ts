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
const RECORDED: Record<string, string> = {
  'kernels.wat': 'a0fd3e3e1d8390423ffe0bdcdb20125fa16b49529b681fb81a4c8904f5a5ddb2',
  'kernels.wasm': '5a0eb75a694350aa49858f62f5886c0dc709d93141790a403414a2da16a18f00',
  'kernels-relaxed.wat': 'a329c2b7baa3ed7f1a6f6536cecb65b8bcff723384a0b9b3152b983d08e9338b',
  'kernels-relaxed.wasm': '63e297fa8b6a15578a72da68b2399623adf8c054adf866632b6f4b9195138bd4',
};

const out = mkdtempSync(join(tmpdir(), 'mnist-dp-wasm-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

it('the generator builds the same bytes as recorded, for both variants (text and binary)', () => {
  execFileSync(process.execPath, ['scripts/build-wasm.mjs', '--out', out, '--quiet'], { stdio: 'inherit' });
  const built = Object.fromEntries(Object.keys(RECORDED).map((file) =>
    [file, createHash('sha256').update(readFileSync(join(out, file))).digest('hex')]));
  expect(built).toEqual(RECORDED);
});
