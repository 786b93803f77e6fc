import { describe, expect, expectTypeOf, it } from 'vitest';
import { generateWat } from '../src/kernels/wasm/generate.mjs';
import { bindAdapter, exportArities, methodSource, type UntypedRow } from '../src/kernels/wasm/adapter.js';
import { f32, KERNEL_SIGNATURES, size, type WasmExports } from '../src/kernels/wasm/signatures.js';
import { SharedArena } from '../src/kernels/wasm.js';

/**
 * The signature table (src/kernels/wasm/signatures.ts) against the two things it must agree with: the
 * generated module's exports, and the rules its rows are compiled by. (That every row's argument types
 * are exactly the Kernels method's is proved by the type checker in adapter.ts; that the derived
 * adapter checks views and computes what the kernels should, by kernels-wasm.test.ts and the reference
 * tests.)
 */

/** Every exported function of the generated text: its parameters' names and types. */
function exportedFunctions(wat: string): Map<string, [string, string][]> {
  const out = new Map<string, [string, string][]>();
  for (const m of wat.matchAll(/\(func \$(\w+) \(export "(\w+)"\)((?:\s*\(param \$\w+ \w+\))*)/g)) {
    out.set(m[2], [...m[3].matchAll(/\(param \$(\w+) (\w+)\)/g)].map((p): [string, string] => [p[1], p[2]]));
  }
  return out;
}

describe.each([false, true])('the generated module (relaxed %s)', (relaxed) => {
  const exported = exportedFunctions(generateWat({ relaxed }));

  it('exports exactly the functions the rows call, 33 of them', () => {
    expect([...exported.keys()].sort()).toEqual([...exportArities().keys()].sort());
    expect(exported.size).toBe(33);
  });

  it('has, for every row, the parameters its export call names, in that order', () => {
    for (const [method, row] of Object.entries(KERNEL_SIGNATURES)) {
      const [, name, list] = /^(\w+)\((.*)\)$/.exec(row.call)!;
      const names = list.split(', ').map((entry) => entry.split(': ')[0]);
      expect(exported.get(name)?.map(([n]) => n), method).toEqual(names);
    }
  });
});

it('derives the type of the exports from the rows (checked by npm run typecheck)', () => {
  expectTypeOf<Parameters<WasmExports['gemmABt']>>().toEqualTypeOf<[number, number, number, number, number, number, number, number, number]>();
  expectTypeOf<ReturnType<WasmExports['lossForwardBackward']>>().toEqualTypeOf<number>();
  expectTypeOf<ReturnType<WasmExports['maxPoolBackward']>>().toEqualTypeOf<number>(); // its status
  expectTypeOf<ReturnType<WasmExports['gemmAB']>>().toEqualTypeOf<void>();
  expectTypeOf<Parameters<WasmExports['adamStep']>['length']>().toEqualTypeOf<16>();
  expect(exportArities().get('adamStep')).toBe(16);
});

describe('binding the adapter', () => {
  it('refuses a module whose exports are not the ones the table calls, naming the first missing one', () => {
    const memory = new SharedArena(65536).memory;
    const fake = (exports: Record<string, unknown>) => ({ exports }) as unknown as WebAssembly.Instance;
    expect(() => bindAdapter(fake({}), memory, 'wasm')).toThrow(/module has no export gemmABt of 9 parameters.*npm run build:wasm/);
    const twoParams = (a: number, b: number) => a + b;
    expect(() => bindAdapter(fake({ gemmABt: twoParams }), memory, 'wasm')).toThrow(/no export gemmABt of 9 parameters/);
  });
});

describe('compiling a row', () => {
  const row = (args: UntypedRow['args'], call: string, more: Partial<UntypedRow> = {}): UntypedRow => ({ args, call, ...more });

  it('writes the checks in argument order, then the export call with the views\' byteOffsets', () => {
    const source = methodSource('scaleRows', row([f32('y', 'R * C'), f32('x', 'R * C'), size('R'), size('C')], 'scale(y, src: @x, R, C, twice: 2 * C)'));
    expect(source).toBe([
      'return function scaleRows(y, x, R, C) {',
      '  $size(R, "scaleRows");',
      '  $size(C, "scaleRows");',
      '  $x.scale($ptr(y, R * C, "y", "scaleRows"), $ptr(x, R * C, "x", "scaleRows"), R, C, 2 * C);',
      '};',
    ].join('\n'));
  });

  it('refuses an expression that reads a name that is neither an argument nor a helper', () => {
    expect(() => methodSource('k', row([f32('y', 'n * m'), size('n')], 'k(y, n)'))).toThrow(/"n \* m" reads m, which is neither an argument nor a helper/);
    expect(() => methodSource('k', row([f32('y', 'n'), size('n')], 'k(y, n, flag: on ? 1 : 0)'))).toThrow(/reads on/);
  });

  it('refuses a view that is not passed, or passed twice, and @ of something that is not a view', () => {
    expect(() => methodSource('k', row([f32('y', 'n'), f32('x', 'n'), size('n')], 'k(y, n)'))).toThrow(/view x is not passed/);
    expect(() => methodSource('k', row([f32('y', 'n'), size('n')], 'k(y, again: @y, n)'))).toThrow(/view y is passed twice/);
    expect(() => methodSource('k', row([f32('y', 'n'), size('n')], 'k(y, m: @n)'))).toThrow(/@n names no view/);
  });

  it('refuses an argument named like a helper, and an export call that is not name(parameters)', () => {
    expect(() => methodSource('k', row([f32('Math', 'n'), size('n')], 'k(Math, n)'))).toThrow(/bad argument name Math/);
    expect(() => methodSource('k', row([size('n')], 'k n'))).toThrow(/is not name\(parameters\)/);
  });
});
