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
  'kernels.wat': 'ab5c8e1f46e09f5574996773c4cfcb71e82f70571a262d3d9319d3cc00ff8e7a',
  'kernels.wasm': '71112c4cc0daf444fab2465ff07a1eb787808f5935e8bb4acc3cdf82b5bd1023',
  'kernels-relaxed.wat': '802204f6ba4dd77d85625ae658b4af846311d5f5e038f64db9421cfb742f5d0b',
  'kernels-relaxed.wasm': '7786a8ea703c5059fbd098886bdbada9cab53a138ae26b6e7e189744f8ba512f',
};

const out = mkdtempSync(join(tmpdir(), 'mnist-dp-wasm-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

it('the generator builds the same bytes as recorded, for both variants (text and binary)', () => {
  execFileSync(process.execPath, ['scripts/build-wasm.mjs', '--out', out, '--quiet'], { stdio: 'inherit' });
  const built = Object.fromEntries(Object.keys(RECORDED).map((file) =>
    [file, createHash('sha256').update(readFileSync(join(out, file))).digest('hex')]));
  expect(built).toEqual(RECORDED);
});
