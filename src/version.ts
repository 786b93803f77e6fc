import { readFileSync } from 'node:fs';

/** mnist-dp's version, from its package.json (found from the source tree or the build); 'unknown' if it cannot be read. */
export function packageVersion(): string {
  for (const rel of ['../../package.json', '../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'mnist-dp' && pkg.version) return pkg.version;
    } catch {
      // try the next
    }
  }
  return 'unknown';
}
