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
const RECORDED: Record<string, string> = {
  'kernels.wat': '96b7625732a58c616a8af3e7044ce35a05cb087627c903755283692c0d5dad25',
  'kernels.wasm': '99b3f4b7f165ad84037cd57f305f68cfec070e27dbd4a81ef70ec6459ad5040f',
  'kernels-relaxed.wat': '04b5a78439ec906bcaf4847c9b6874daecff0d0cf3f310f98179dac0a47ffc17',
  'kernels-relaxed.wasm': '175deddd27ae4a02f381342328cdd38e93449a607b4db3f52bbab0944bcc86db',
};

const out = mkdtempSync(join(tmpdir(), 'mnist-dp-wasm-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

it('the generator builds the same bytes as recorded, for both variants (text and binary)', () => {
  execFileSync(process.execPath, ['scripts/build-wasm.mjs', '--out', out, '--quiet'], { stdio: 'inherit' });
  const built = Object.fromEntries(Object.keys(RECORDED).map((file) =>
    [file, createHash('sha256').update(readFileSync(join(out, file))).digest('hex')]));
  expect(built).toEqual(RECORDED);
});
