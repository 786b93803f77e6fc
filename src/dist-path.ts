import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Path of a file of the build output (dist/): worker entry files and the assembled WebAssembly. From the
 * compiled dist/src/dist-path.js it is the folder above; from src/dist-path.ts (vitest runs the source)
 * it is ../dist, because workers and .wasm files exist only as built.
 */
export function distPath(...parts: string[]): string {
  const here = fileURLToPath(import.meta.url);
  const dist = here.endsWith('.ts') ? resolve(dirname(here), '../dist') : resolve(dirname(here), '..');
  return join(dist, ...parts);
}
