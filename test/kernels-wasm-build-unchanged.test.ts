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
const RECORDED: Record<string, string> = {
  'kernels.wat': '9da87e1e876ff31af15cc68923ab031eb86087657167fc4e7295b32127e18273',
  'kernels.wasm': 'b7dbe9246212e8a7270c495b6960e5ee1916d5040f274662d307afbe174774d6',
  'kernels-relaxed.wat': 'cfa50bead06610587aa125c15f31f0ba33f3a2663f439a9867eb3eb9f5838a09',
  'kernels-relaxed.wasm': '0b7a6658d1e39368138109891a00dfd2682dacb7cf809e8b1afe447ad577078a',
};

const out = mkdtempSync(join(tmpdir(), 'mnist-dp-wasm-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

it('the generator builds the same bytes as recorded, for both variants (text and binary)', () => {
  execFileSync(process.execPath, ['scripts/build-wasm.mjs', '--out', out, '--quiet'], { stdio: 'inherit' });
  const built = Object.fromEntries(Object.keys(RECORDED).map((file) =>
    [file, createHash('sha256').update(readFileSync(join(out, file))).digest('hex')]));
  expect(built).toEqual(RECORDED);
});
