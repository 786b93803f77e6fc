#!/usr/bin/env node
// @ts-check
/**
 * Builds the WebAssembly kernels from source: src/kernels/wasm/generate.mjs (with the family files beside
 * it) writes WebAssembly text, wabt (the npm package: the wabt C++ tools compiled to WebAssembly, so this
 * works offline) assembles it. The generator is JavaScript checked by tsc (`// @ts-check`, in
 * `npm run typecheck`), so that this script runs it from source with no compile step.
 *
 *   dist/wasm/kernels.wasm           plain SIMD                (+ kernels.wat, the text, for reading)
 *   dist/wasm/kernels-relaxed.wasm   relaxed SIMD (fused madd) (+ kernels-relaxed.wat)
 *
 * Run by `npm run build:wasm` (and so by `npm run build` and `npm install`). Usage:
 *   node scripts/build-wasm.mjs [--out DIR] [--quiet] [--if-stale]
 * --if-stale does nothing when every output is newer than the sources (what the tests use).
 */
import { existsSync, mkdirSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import wabtInit from 'wabt';
import { generateWat } from '../src/kernels/wasm/generate.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const outIdx = args.indexOf('--out');
const outDir = outIdx >= 0 ? resolve(args[outIdx + 1]) : join(root, 'dist', 'wasm');
const quiet = args.includes('--quiet');
const generatorDir = join(root, 'src', 'kernels', 'wasm');
const SOURCES = [fileURLToPath(import.meta.url), ...readdirSync(generatorDir).filter((f) => f.endsWith('.mjs')).map((f) => join(generatorDir, f))];

const FEATURES = { simd: true, relaxed_simd: true, threads: true };
const VARIANTS = [
  { file: 'kernels', relaxed: false },
  { file: 'kernels-relaxed', relaxed: true },
];

if (args.includes('--if-stale')) {
  const newest = Math.max(...SOURCES.map((p) => statSync(p).mtimeMs));
  const outputs = VARIANTS.map(({ file }) => join(outDir, `${file}.wasm`));
  if (outputs.every((p) => existsSync(p) && statSync(p).mtimeMs > newest)) process.exit(0);
}

const wabt = await wabtInit();
mkdirSync(outDir, { recursive: true });

/**
 * Writes through a temporary name, so that a reader never sees half a file.
 * @param {string} path @param {string | Uint8Array} data
 */
function writeAtomic(path, data) {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

for (const { file, relaxed } of VARIANTS) {
  const wat = generateWat({ relaxed });
  let mod;
  try {
    mod = wabt.parseWat(`${file}.wat`, wat, FEATURES);
    mod.resolveNames();
    // @ts-expect-error wabt's index.d.ts leaves out validate's features argument, which its JavaScript reads
    mod.validate(FEATURES);
  } catch (err) {
    // wabt's message names lines of the generated text: keep it to look at.
    writeFileSync(join(outDir, `${file}.wat`), wat);
    console.error(`build-wasm: ${file}.wat (written to ${outDir}) does not assemble:\n${err instanceof Error ? err.message : err}`);
    process.exit(1);
  }
  const { buffer } = mod.toBinary({ log: false, write_debug_names: true });
  mod.destroy();
  if (/\(data\b/.test(wat)) throw new Error('build-wasm: the kernels must not have data segments (they would overwrite the shared memory)');
  if (!relaxed && /relaxed/.test(wat)) throw new Error('build-wasm: the plain SIMD module uses a relaxed SIMD instruction');
  writeAtomic(join(outDir, `${file}.wat`), wat);
  writeAtomic(join(outDir, `${file}.wasm`), buffer);
  if (!quiet) console.log(`build-wasm: ${join(outDir, `${file}.wasm`)} (${buffer.length} bytes)`);
}
