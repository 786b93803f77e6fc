import { batchNormScratchWords, type ConvGeometry, type Kernels, type OutputActivation } from '../kernels.js';
import { tsKernels } from '../ts.js';
import type { WasmKernels, WasmVariant } from '../wasm.js';
import { KERNEL_SIGNATURES, TS_REFERENCE_KERNELS, type AdapterMethods, type Arg, type Row, type WasmExports } from './signatures.js';

/**
 * The adapter between the `Kernels` methods and the WebAssembly module's exports, derived from the rows
 * of ./signatures.ts. Each row is compiled, once per process, into the JavaScript a careful hand would
 * write (checks in argument order, then the export call with the views' byteOffsets inline), so that a
 * call costs what the hand-written adapter did: no allocation, no loop over arguments. For sgdStep:
 *
 *   function sgdStep(params, grad, velocity, begin, end, hp) {
 *     $size(begin, 'sgdStep'); $size(end, 'sgdStep');
 *     if (end <= begin) return;
 *     $x.sgdStep($ptr(params, end, 'params', 'sgdStep'), $ptr(grad, end, 'grad', 'sgdStep'),
 *       $ptr(velocity, end, 'velocity', 'sgdStep'), begin, end, hp.lr, hp.momentum, hp.nesterov ? 1 : 0, hp.weightDecay);
 *   }
 *
 * ($ptr checks that a view lies in the shared memory and holds the elements the call needs.)
 */

// ── What the rows' expressions may use ─────────────────────────────────────────────────────────────────

const ACTIVATION_CODE = { identity: 0, relu: 1, sigmoid: 2, softmax: 3 } as const;
const LOSS_CODE = { 'cross-entropy': 0, 'squared-error': 1 } as const;
const slopeOf = (act: OutputActivation) => (act.kind === 'sigmoid' ? act.slope : 1);
const HELPERS = { ACTIVATION_CODE, LOSS_CODE, slopeOf, batchNormScratchWords, Math };

// ── Compiling a row ────────────────────────────────────────────────────────────────────────────────────

/** A row as the compiler reads it (its argument types erased). */
export interface UntypedRow extends Omit<Row<readonly Arg[], string, unknown>, 'check' | 'status'> {
  readonly check?: (...args: never[]) => string | undefined;
  readonly status?: (status: number, ...args: never[]) => string | undefined;
}

/** The export a row calls, and the source of each of its parameters. */
interface ExportCall {
  name: string;
  params: { name: string; source: string }[];
}

const IDENTIFIER = /^[A-Za-z_][\w]*$/;

/** Splits `name(p, q: expr, …)` (a malformed row is a programming error: it throws at start-up). */
function parseCall(method: string, row: UntypedRow): ExportCall {
  const m = /^(\w+)\((.*)\)$/s.exec(row.call);
  if (!m) throw new Error(`kernel signatures, ${method}: the export call "${row.call}" is not name(parameters)`);
  const params = m[2].split(', ').map((entry) => {
    const colon = entry.indexOf(': ');
    const [name, source] = colon < 0 ? [entry, entry] : [entry.slice(0, colon), entry.slice(colon + 2)];
    if (!IDENTIFIER.test(name) || source.includes(',')) throw new Error(`kernel signatures, ${method}: bad export parameter "${entry}"`);
    return { name, source };
  });
  return { name: m[1], params };
}

/** Throws unless every name the expression reads is an argument of the row or a helper. */
function checkNames(method: string, expression: string, args: readonly Arg[]): void {
  for (const [, name] of expression.matchAll(/(?<![\w.$@])([A-Za-z_][\w]*)/g)) {
    if (!args.some((a) => a.name === name) && !(name in HELPERS)) {
      throw new Error(`kernel signatures, ${method}: "${expression}" reads ${name}, which is neither an argument nor a helper`);
    }
  }
}

/** The JavaScript source of the method of one row (see the comment at the top); exported for the tests. */
export function methodSource(method: string, row: UntypedRow): string {
  const { args } = row;
  const call = parseCall(method, row);
  const names = args.map((a) => a.name);
  for (const n of names) if (!IDENTIFIER.test(n) || n in HELPERS) throw new Error(`kernel signatures, ${method}: bad argument name ${n}`);
  const q = (s: string) => JSON.stringify(s);
  const lines: string[] = [];
  for (const a of args) {
    if (a.kind === 'size') lines.push(`$size(${a.name}, ${q(method)});`);
    if (a.kind === 'geometry') lines.push(`$geometry(${a.name}, ${q(method)});`);
    if (a.kind === 'activation' || a.kind === 'output') lines.push(`$activation(${a.name}, ${q(method)}, ${a.kind === 'output'});`);
    if (a.kind === 'loss') lines.push(`$loss(${a.name}, ${q(method)});`);
  }
  if (row.check) lines.push(`{ const problem = $check(${names.join(', ')}); if (problem !== undefined) $fail(${q(method)}, problem); }`);
  if (row.emptyWhen) {
    checkNames(method, row.emptyWhen, args);
    lines.push(`if (${row.emptyWhen}) return;`);
  }
  const passed = new Set<string>();
  const pointer = (v: Arg) => {
    if (passed.has(v.name)) throw new Error(`kernel signatures, ${method}: view ${v.name} is passed twice`);
    passed.add(v.name);
    checkNames(method, v.length!, args);
    const p = `$ptr(${v.name}, ${v.length}, ${q(v.name)}, ${q(method)})`;
    return v.nullable ? `(${v.name} ? ${p} : 0)` : p;
  };
  const values = call.params.map(({ source }) => {
    const ref = args.find((a) => a.name === source.replace(/^@/, ''));
    if (source.startsWith('@') && ref?.kind !== 'view') throw new Error(`kernel signatures, ${method}: ${source} names no view`);
    if (ref?.kind === 'view') return pointer(ref);
    checkNames(method, source, args);
    return source;
  });
  for (const v of args) if (v.kind === 'view' && !passed.has(v.name)) throw new Error(`kernel signatures, ${method}: view ${v.name} is not passed`);
  const invoke = `$x.${call.name}(${values.join(', ')})`;
  if (row.status) lines.push(`{ const problem = $status(${invoke}, ${names.join(', ')}); if (problem !== undefined) $fail(${q(method)}, problem); }`);
  else lines.push(row.returns === 'number' ? `return ${invoke};` : `${invoke};`);
  return `return function ${method}(${names.join(', ')}) {\n  ${lines.join('\n  ')}\n};`;
}

/** What a compiled row is given when it is bound to an instance. */
interface Binding {
  $x: WasmExports;
  $ptr(v: ArrayBufferView & { length: number }, need: number, what: string, method: string): number;
  $size(n: number, method: string): void;
  $geometry(g: ConvGeometry, method: string): void;
  $activation(act: OutputActivation, method: string, allowSoftmax: boolean): void;
  $loss(loss: string, method: string): void;
  $fail(method: string, problem: string): never;
}
const BINDING_NAMES = ['$x', '$ptr', '$size', '$geometry', '$activation', '$loss', '$fail'] as const satisfies readonly (keyof Binding)[];

type Method = (...args: never[]) => unknown;
type Factory = (...env: unknown[]) => Method;

const METHODS = Object.keys(KERNEL_SIGNATURES) as (keyof typeof KERNEL_SIGNATURES)[];
let factories: Map<string, Factory> | undefined;

/** Compiles every row (once per process; a malformed row throws here, at the first kernels made). */
function compiledRows(): Map<string, Factory> {
  if (!factories) {
    factories = new Map();
    const exportParams = new Map<string, string>();
    for (const method of METHODS) {
      const row: UntypedRow = KERNEL_SIGNATURES[method];
      const call = parseCall(method, row);
      const params = call.params.map((p) => p.name).join(', ');
      if ((exportParams.get(call.name) ?? params) !== params) throw new Error(`kernel signatures, ${method}: export ${call.name} is called with other parameters elsewhere`);
      exportParams.set(call.name, params);
      factories.set(method, new Function(...BINDING_NAMES, '$check', '$status', ...Object.keys(HELPERS), methodSource(method, row)) as Factory);
    }
  }
  return factories;
}

/** The export names and parameter counts the rows call (what a module must have). */
export function exportArities(): Map<string, number> {
  return new Map(METHODS.map((m) => {
    const call = parseCall(m, KERNEL_SIGNATURES[m]);
    return [call.name, call.params.length];
  }));
}

// ── Binding to an instance ─────────────────────────────────────────────────────────────────────────────

/**
 * The Kernels methods over one instance of the module in `memory`: the rows' methods, and the kernels
 * taken from the TypeScript reference (TS_REFERENCE_KERNELS).
 */
export function bindAdapter(instance: WebAssembly.Instance, memory: WebAssembly.Memory, variant: WasmVariant): Omit<WasmKernels, 'name' | 'memory'> {
  const x = instance.exports as unknown as WasmExports & WebAssembly.Exports;
  for (const [name, arity] of exportArities()) {
    const f = x[name];
    if (typeof f !== 'function' || f.length !== arity) {
      throw new Error(`the ${variant} kernels' module has no export ${name} of ${arity} parameters (the signature table's); rebuild it with npm run build:wasm`);
    }
  }
  let buffer: ArrayBufferLike = memory.buffer;
  const prefix = (method: string) => `${variant} kernels, ${method}`;
  const binding: Binding = {
    $x: x,
    /** The view's byteOffset, after checking that it lies in the memory and holds at least `need` elements. */
    $ptr(v, need, what, method) {
      if (v.buffer !== buffer) {
        buffer = memory.buffer; // the memory may have grown (a new buffer object)
        if (v.buffer !== buffer) {
          throw new Error(
            `${prefix(method)}: ${what} is not a view of the kernels' shared WebAssembly.Memory; ` +
            'every buffer a WebAssembly kernel reads or writes must live in that memory (see the memory plan, or allocate with SharedArena)');
        }
      }
      if (v.length < need) throw new RangeError(`${prefix(method)}: ${what} has ${v.length} elements, the call needs ${need}`);
      return v.byteOffset;
    },
    $size(n, method) {
      if (!Number.isInteger(n) || n < 0 || n > 0x7fffffff) throw new RangeError(`${prefix(method)}: bad size ${n}`);
    },
    /** The geometry's numbers, and positions (o·stride − pad + k) that stay in int32. */
    $geometry(g, method) {
      const { $size } = binding;
      $size(g.H, method); $size(g.W, method); $size(g.C, method); $size(g.k, method);
      $size(g.stride, method); $size(g.pad, method); $size(g.OH, method); $size(g.OW, method);
      if (Math.max(g.OH * g.stride, g.OW * g.stride) + g.k + g.pad > 0x7fffffff) throw new RangeError(`${prefix(method)}: the geometry's positions overflow int32`);
    },
    $activation(act, method, allowSoftmax) {
      const code = (ACTIVATION_CODE as Record<string, number | undefined>)[act.kind];
      if (code === undefined || (code === ACTIVATION_CODE.softmax && !allowSoftmax)) throw new Error(`${method}: unsupported activation "${act.kind}"`);
    },
    $loss(loss, method) {
      if (!(loss in LOSS_CODE)) throw new Error(`${method}: unsupported loss "${String(loss)}"`);
    },
    $fail(method, problem) {
      throw new RangeError(`${prefix(method)}: ${problem}`);
    },
  };
  const env = BINDING_NAMES.map((n) => binding[n]);
  const methods: Record<string, Method> = {};
  for (const [method, factory] of compiledRows()) {
    const row: UntypedRow = KERNEL_SIGNATURES[method as keyof typeof KERNEL_SIGNATURES];
    methods[method] = factory(...env, row.check, row.status, ...Object.values(HELPERS));
  }
  for (const k of TS_REFERENCE_KERNELS as readonly (keyof Kernels)[]) methods[k] = tsKernels[k] as Method;
  return methods as unknown as AdapterMethods & TakenFromReference;
}

// ── What the type checker proves ───────────────────────────────────────────────────────────────────────

type TakenFromReference = Pick<Kernels, (typeof TS_REFERENCE_KERNELS)[number]>;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

/** The rows whose parameters or result differ from the WasmKernels method (exactly, not by method bivariance). */
type Mismatched = {
  [K in keyof AdapterMethods]: K extends keyof WasmKernels
    ? Same<Parameters<AdapterMethods[K]>, Parameters<WasmKernels[K]>> extends true
      ? Same<ReturnType<AdapterMethods[K]>, ReturnType<WasmKernels[K]>> extends true ? never : K
      : K
    : K;
}[keyof AdapterMethods];
/** The Kernels methods with neither a row nor a place in TS_REFERENCE_KERNELS. */
type Uncovered = Exclude<keyof WasmKernels, 'name' | 'memory' | keyof AdapterMethods | keyof TakenFromReference>;

// A type error on one of these lines names the kernel to mend in signatures.ts.
const rowsMatchKernels: [Mismatched] extends [never] ? true : Mismatched = true;
const everyKernelHasARow: [Uncovered] extends [never] ? true : Uncovered = true;
void rowsMatchKernels;
void everyKernelHasARow;
