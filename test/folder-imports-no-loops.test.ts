import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The folders of src/ (kernels, model, engine, data, cli, …) and its top-level files (checkpoint.ts,
 * options.ts, events.ts, …) form a graph by their imports, type-only imports included. It must have no
 * loop: a folder that imports another, directly or through others, is not imported back. A loop means
 * neither side can be read, tested or changed alone (issue 11, item 6).
 */

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

/** Every .ts file under src/, as paths relative to it. */
function sourceFiles(dir = SRC): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith('.ts') ? [relative(SRC, path)] : [];
  });
}

/** The node a file belongs to: its folder under src/ (`model`), or itself for a top-level file (`checkpoint.ts`). */
const nodeOf = (file: string) => (file.includes('/') ? file.split('/')[0] : file);

/** Edges between nodes, `from → to`, each with one import that makes it (for the message). */
function importGraph(): Map<string, Map<string, string>> {
  const graph = new Map<string, Map<string, string>>();
  for (const file of sourceFiles()) {
    const text = readFileSync(join(SRC, file), 'utf8');
    const from = nodeOf(file);
    if (!graph.has(from)) graph.set(from, new Map());
    // `import … from '…'`, `export … from '…'`, `import '…'` and `import('…')`: every relative specifier.
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)) {
      const target = relative(SRC, resolve(dirname(join(SRC, file)), m[1])).replace(/\.js$/, '.ts');
      if (target.startsWith('..')) continue; // outside src/ (package.json and the like)
      const to = nodeOf(target);
      if (to !== from && !graph.get(from)!.has(to)) graph.get(from)!.set(to, `${file} imports ${m[1]}`);
    }
  }
  return graph;
}

/**
 * Loops that another branch of this round removes, each named by the edge that goes; the last test fails
 * once the edge is gone, so that the exception is deleted with it. (None left: kernels/ → model/ went
 * when the activation types moved into kernels/, contract 5 of the round's notes.)
 */
const PENDING: readonly [string, string][] = [];

/** One loop of the graph (a path that returns to its start), or null when there is none. */
function findLoop(graph: Map<string, Map<string, string>>, skip: readonly [string, string][]): string[] | null {
  const skipped = (a: string, b: string) => skip.some(([x, y]) => x === a && y === b);
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (n: string): string[] | null => {
    if (state.get(n) === 'done') return null;
    if (state.get(n) === 'open') return [...path.slice(path.indexOf(n)), n];
    state.set(n, 'open');
    path.push(n);
    for (const to of graph.get(n)?.keys() ?? []) {
      if (skipped(n, to)) continue;
      const loop = visit(to);
      if (loop) return loop;
    }
    path.pop();
    state.set(n, 'done');
    return null;
  };
  for (const n of [...graph.keys()].sort()) {
    const loop = visit(n);
    if (loop) return loop;
  }
  return null;
}

describe('the folders of src/ import each other without loops', () => {
  const graph = importGraph();

  it('sees the folders and top-level files it is meant to check', () => {
    for (const node of ['kernels', 'model', 'engine', 'data', 'cli', 'checkpoint.ts', 'options.ts', 'events.ts', 'api.ts']) {
      expect(graph.has(node), node).toBe(true);
    }
    expect(graph.get('engine')!.has('model')).toBe(true); // the parser finds real edges
  });

  it('no folder or top-level file imports itself back through others', () => {
    const loop = findLoop(graph, PENDING);
    const why = loop?.slice(1).map((to, i) => graph.get(loop[i])!.get(to)).join('; ');
    expect(loop, `loop ${loop?.join(' → ')}: ${why}`).toBeNull();
  });

  it('model/ does not import checkpoint.ts, and progress events depend on nothing of the checkpoint module', () => {
    expect(graph.get('model')!.has('checkpoint.ts'), graph.get('model')!.get('checkpoint.ts')).toBe(false);
    expect(graph.get('events.ts')!.has('checkpoint.ts'), graph.get('events.ts')!.get('checkpoint.ts')).toBe(false);
  });

  it('kernels/ imports nothing from model/', () => {
    expect(graph.get('kernels')!.has('model'), graph.get('kernels')!.get('model')).toBe(false);
  });

  it('the loops still excused here exist (delete an exception once its branch has removed the import)', () => {
    for (const [from, to] of PENDING) expect(graph.get(from)?.has(to), `${from} → ${to}`).toBe(true);
  });

  it('finds a loop when there is one', () => {
    const looped = new Map([['a', new Map([['b', 'x']])], ['b', new Map([['c', 'y']])], ['c', new Map([['a', 'z']])]]);
    expect(findLoop(looped, [])).toEqual(['a', 'b', 'c', 'a']);
    expect(findLoop(looped, [['c', 'a']])).toBeNull();
  });
});
