import type { Activation, AdamHyper, ConvGeometry, Kernels, LossKind, OutputActivation, SgdHyper } from '../kernels.js';
import { winogradBuilt } from '../winograd.js';

/**
 * The WebAssembly kernels' signatures, one row per method: its arguments in the order of the `Kernels`
 * method (kernels.ts, the documented contract), each with its dtype and, for a typed-array view, the
 * number of elements the call needs as a JavaScript expression of the scalar arguments (what the adapter
 * checks before the WebAssembly code may touch the view); then the call of the module's export, written
 * as the export's parameter list. From this table derive:
 *  - the adapter (./adapter.ts), which checks each view (a view of the shared memory, long enough), each
 *    size, record and activation, and passes the views' byteOffsets to the export, in code compiled once
 *    per row, so that a call costs what a hand-written adapter's does;
 *  - the TypeScript types: `AdapterMethods` (the type checker proves in adapter.ts that the rows match
 *    `Kernels` exactly) and `WasmExports`, the module's exports.
 *
 * The export call `name(p1, p2: expr, …)` lists the export's parameters in order (the names of the
 * function in the generator, src/kernels/wasm/*.mjs; test/kernels-signatures.test.ts compares them):
 *   p         the argument p: a view's checked byteOffset, or a scalar's value
 *   p: @v     the checked byteOffset of view v (0 when a nullable view is null)
 *   p: expr   any JavaScript expression (no commas) of the raw arguments and of ACTIVATION_CODE, slopeOf,
 *             LOSS_CODE, batchNormScratchWords and Math
 * Every view is passed exactly once; names in an expression must be arguments or those helpers (checked
 * when the rows are compiled).
 */

// ── Argument kinds ─────────────────────────────────────────────────────────────────────────────────────

/** What the adapter knows of one argument; `T` is its TypeScript type (only the types use it). */
export interface Arg<T = unknown> {
  readonly name: string;
  readonly kind: 'view' | 'size' | 'float' | 'flag' | 'activation' | 'output' | 'loss' | 'record' | 'geometry';
  /** Views: the elements the call needs, an expression of the scalar arguments. */
  readonly length?: string;
  /** Views: null allowed (passed as byteOffset 0). */
  readonly nullable?: boolean;
  /** Phantom: carries T. */
  readonly type?: T;
}

const view = <T>(name: string, length: string, nullable = false): Arg<T> => ({ name, kind: 'view', length, nullable });
/** A Float32Array view of the shared memory with at least `length` elements. */
export const f32 = (name: string, length: string) => view<Float32Array>(name, length);
/** The same, or null (the export gets byteOffset 0 and, by its own parameter, that there is none). */
export const f32OrNull = (name: string, length: string) => view<Float32Array | null>(name, length, true);
/** An Int32Array view of the shared memory with at least `length` elements. */
export const i32 = (name: string, length: string) => view<Int32Array>(name, length);
/** A Uint8Array view of the shared memory with at least `length` elements. */
export const u8 = (name: string, length: string) => view<Uint8Array>(name, length);
/** A count or an index: an integer in [0, 2³¹) (an i32 parameter of the export). */
export const size = (name: string): Arg<number> => ({ name, kind: 'size' });
/** A float32 or float64 scalar, passed as it is (the export's parameter type rounds it). */
export const float = (name: string): Arg<number> => ({ name, kind: 'float' });
/** A boolean (the export takes 0 or 1). */
export const flag = (name: string): Arg<boolean> => ({ name, kind: 'flag' });
/** A hidden-layer activation: identity, relu or sigmoid (checked). */
export const activation = (name: string): Arg<Activation> => ({ name, kind: 'activation' });
/** An output activation: those and softmax (checked). */
export const outputActivation = (name: string): Arg<OutputActivation> => ({ name, kind: 'output' });
/** A loss (checked). */
export const loss = (name: string): Arg<LossKind> => ({ name, kind: 'loss' });
/** A hyper-parameter record, read field by field in the export call. */
export const record = <T>(name: string): Arg<T> => ({ name, kind: 'record' });
/** A convolution's geometry (its numbers checked as sizes, and its positions o·stride − pad + k as int32). */
export const geometry = (name: string): Arg<ConvGeometry> => ({ name, kind: 'geometry' });

/** The parameters of a method from its argument list. */
export type ParamsOf<A extends readonly Arg[]> = { -readonly [I in keyof A]: A[I] extends Arg<infer T> ? T : never };

/** One kernel's row. */
export interface Row<A extends readonly Arg[] = readonly Arg[], Call extends string = string, R = void> {
  readonly args: A;
  readonly call: Call;
  /** Returns early, before the views are checked, when this condition of the arguments holds (empty ranges). */
  readonly emptyWhen?: string;
  /** A further check of the raw arguments (after the sizes): a message naming what is wrong, or undefined. */
  readonly check?: (...args: ParamsOf<A>) => string | undefined;
  /** For an export that returns a status: a message for a failed one (no state was written), or undefined. */
  readonly status?: (status: number, ...args: ParamsOf<A>) => string | undefined;
  /** The method returns the export's number (else nothing). */
  readonly returns?: 'number';
  /** Phantom: carries the method's return type. */
  readonly result?: R;
}

interface Options<A extends readonly Arg[]> {
  emptyWhen?: string;
  check?: (...args: ParamsOf<A>) => string | undefined;
  status?: (status: number, ...args: ParamsOf<A>) => string | undefined;
}

/** A row whose method returns nothing. */
const kernel = <const A extends readonly Arg[], const Call extends string, O extends Options<A> = object>(args: A, call: Call, options?: O): Row<A, Call> & O =>
  ({ args, call, ...options }) as Row<A, Call> & O;
/** A row whose method returns the export's number. */
const kernelReturningNumber = <const A extends readonly Arg[], const Call extends string>(args: A, call: Call): Row<A, Call, number> & { returns: 'number' } =>
  ({ args, call, returns: 'number' });

// ── The table ──────────────────────────────────────────────────────────────────────────────────────────

const BEGIN_END = [size('begin'), size('end')] as const;
/** α² · P: the floats per channel of a Winograd kernel's transformed tiles. */
const WINO_TILES = '(m + g.k - 1) ** 2 * M * Math.ceil(g.OH / m) * Math.ceil(g.OW / m)';
const GEMM_ABT = [f32('C', 'M * N'), f32('A', 'M * K'), f32('B', 'N * K'), f32OrNull('bias', 'N'), size('M'), size('N'), size('K')] as const;

export const KERNEL_SIGNATURES = {
  // GEMM
  gemmABt: kernel(GEMM_ABT, 'gemmABt(C, A, B, bias, hasBias: bias ? 1 : 0, relu: 0, M, N, K)'),
  gemmABtRelu: kernel(GEMM_ABT, 'gemmABt(C, A, B, bias, hasBias: bias ? 1 : 0, relu: 1, M, N, K)'),
  gemmAB: kernel([f32('C', 'M * N'), f32('A', 'M * K'), f32('B', 'K * N'), size('M'), size('N'), size('K')], 'gemmAB(C, A, B, M, N, K)'),
  gemmAtB: kernel([f32('C', 'M * N'), f32('A', 'K * M'), f32('B', 'K * N'), size('M'), size('N'), size('K')], 'gemmAtB(C, A, B, M, N, K)'),
  gemmAtBAcc: kernel([f32('C', 'M * N'), f32('A', 'K * M'), f32('B', 'K * N'), size('M'), size('N'), size('K')], 'gemmAtBAcc(C, A, B, M, N, K)'),
  gemmABBatch: kernel([f32('C', 'count * M * N'), f32('A', 'count * M * K'), f32('B', 'count * K * N'), size('M'), size('N'), size('K'), size('count')],
    'gemmABBatch(C, A, B, M, N, K, count)'),
  gemmAtBBatch: kernel([f32('C', 'count * M * N'), f32('A', 'count * K * M'), f32('B', 'count * K * N'), size('M'), size('N'), size('K'), size('count'), flag('acc')],
    'gemmAtBBatch(C, A, B, M, N, K, count, acc: acc ? 1 : 0)'),

  // The sparse first layer
  sparseForward: kernel([f32('Y', 'M * OUT'), f32('X', 'M * IN'), f32('WT', 'IN * OUT'), f32OrNull('bias', 'OUT'), size('M'), size('OUT'), size('IN'),
    flag('relu'), i32('scratch', 'M > 0 ? 2 * IN : 0')],
  'sparseForward(Y, X, WT, bias, hasBias: bias ? 1 : 0, relu: relu ? 1 : 0, M, OUT, IN, S: @scratch)'),
  sparseWeightGrad: kernel([f32('dWT', 'IN * OUT'), f32('X', 'K * IN'), f32('dZ', 'K * OUT'), size('K'), size('IN'), size('OUT'), i32('scratch', 'IN > 0 ? 2 * K : 0')],
    'sparseWeightGrad(dWT, X, dZ, K, IN, OUT, S: @scratch)'),

  // Elementwise, reductions, data
  colSum: kernel([f32('out', 'N'), f32('A', 'M * N'), size('M'), size('N')], 'colSum(out, A, M, N)'),
  activationForward: kernel([f32('x', 'n'), size('n'), activation('act')], 'activationForward(x, n, kind: ACTIVATION_CODE[act.kind], slope: slopeOf(act))'),
  activationBackward: kernel([f32('dz', 'n'), f32('a', 'n'), size('n'), activation('act')],
    'activationBackward(dz, a, n, kind: ACTIVATION_CODE[act.kind], slope: slopeOf(act))'),
  gather: kernel([f32('X', 'M * D'), i32('y', 'M'), u8('pixels', '0'), u8('labels', '0'), i32('index', 'M'), size('M'), size('D')],
    'gather(X, y, pixels, labels, index, M, D)', { check: indicesInsideImages }),
  lossForwardBackward: kernelReturningNumber([f32('z', 'M * C'), f32('dz', 'M * C'), i32('y', 'M'), size('M'), size('C'), outputActivation('out'), loss('loss')],
    'lossForwardBackward(z, dz, y, M, C, out: ACTIVATION_CODE[out.kind], loss: LOSS_CODE[loss], slope: slopeOf(out))'),
  reduceSlots: kernel([f32('grad', 'end'), f32('slots', 'count > 0 ? (count - 1) * stride + end : 0'), size('count'), size('stride'), ...BEGIN_END, float('scale')],
    'reduceSlots(grad, slots, count, stride, begin, end, scale)', { emptyWhen: 'end <= begin' }),
  multiply: kernel([f32('y', 'n'), f32('x', 'n'), f32('mask', 'n'), size('n')], 'multiply(y, x, mask, n)'),
  addTo: kernel([f32('dst', 'n'), f32('src', 'n'), size('n')], 'addTo(dst, src, n)'),
  exp: kernel([f32('out', 'n'), f32('x', 'n'), size('n')], 'exp(out, x, n)'),

  // Convolution and pooling
  im2col: kernel([f32('cols', 'M * g.OH * g.OW * g.k * g.k * g.C'), f32('x', 'M * g.H * g.W * g.C'), size('M'), geometry('g')],
    'im2col(cols, x, M, H: g.H, W: g.W, C: g.C, k: g.k, stride: g.stride, pad: g.pad, OH: g.OH, OW: g.OW)'),
  col2im: kernel([f32('dx', 'M * g.H * g.W * g.C'), f32('dcols', 'M * g.OH * g.OW * g.k * g.k * g.C'), size('M'), geometry('g')],
    'col2im(dx, dcols, M, H: g.H, W: g.W, C: g.C, k: g.k, stride: g.stride, pad: g.pad, OH: g.OH, OW: g.OW)'),
  maxPoolForward: kernel([f32('y', 'M * Math.floor(H / size) * Math.floor(W / size) * C'), i32('argmax', 'M * Math.floor(H / size) * Math.floor(W / size) * C'),
    f32('x', 'M * H * W * C'), size('M'), size('H'), size('W'), size('C'), size('size')],
  'maxPoolForward(y, argmax, x, M, H, W, C, size)', { check: windowOfOneOrMore }),
  maxPoolBackward: kernel([f32('dx', 'dxLength'), f32('dy', 'n'), i32('argmax', 'n'), size('n'), size('dxLength')],
    'maxPoolBackward(dx, dy, argmax, n, len: dxLength)', { status: argmaxOutsideDx }),

  // Winograd F(m×m, r×r) (α = m + r − 1, r = g.k for the tile kernels; tiles P = M·⌈OH/m⌉·⌈OW/m⌉)
  winogradFilter: kernel([f32('U', '(m + r - 1) ** 2 * F * C'), f32('w', 'F * r * r * C'), size('F'), size('C'), size('m'), size('r'), flag('cf')],
    'winogradFilter(U, w, F, C, m, r, cf: cf ? 1 : 0)',
    { check: filterTile }),
  winogradFilterGrad: kernel([f32('dw', 'F * r * r * C'), f32('dU', '(m + r - 1) ** 2 * F * C'), size('F'), size('C'), size('m'), size('r')],
    'winogradFilterGrad(dw, dU, F, C, m, r)', { check: filterTile }),
  winogradInput: kernel([f32('V', WINO_TILES + ' * g.C'), f32('x', 'M * g.H * g.W * g.C'), size('M'), geometry('g'), size('m')],
    'winogradInput(V, x, M, H: g.H, W: g.W, C: g.C, pad: g.pad, OH: g.OH, OW: g.OW, m, r: g.k)', { check: inputTiles }),
  winogradInputGrad: kernel([f32('dx', 'M * g.H * g.W * g.C'), f32('dV', WINO_TILES + ' * g.C'), size('M'), geometry('g'), size('m')],
    'winogradInputGrad(dx, dV, M, H: g.H, W: g.W, C: g.C, pad: g.pad, OH: g.OH, OW: g.OW, m, r: g.k)', { check: inputTiles }),
  winogradOutput: kernel([f32('out', 'M * g.OH * g.OW * F'), f32('Mt', WINO_TILES + ' * F'), f32OrNull('bias', 'F'), size('M'), geometry('g'), size('F'), size('m'),
    flag('relu')],
  'winogradOutput(out, Mt, bias, hasBias: bias ? 1 : 0, relu: relu ? 1 : 0, M, OH: g.OH, OW: g.OW, F, m, r: g.k)',
  { check: outputTiles }),
  winogradOutputGrad: kernel([f32('dMt', WINO_TILES + ' * F'), f32('dout', 'M * g.OH * g.OW * F'), size('M'), geometry('g'), size('F'), size('m')],
    'winogradOutputGrad(dMt, dout, M, OH: g.OH, OW: g.OW, F, m, r: g.k)', { check: outputGradTiles }),

  // Normalisation
  batchNormForward: kernel([f32('y', 'R * C'), f32('xhat', 'R * C'), f32('stats', '3 * C'), f32('x', 'R * C'), f32('gamma', 'C'), f32('beta', 'C'),
    size('R'), size('C'), float('eps'), i32('scratch', 'batchNormScratchWords(C)')],
  'batchNormForward(y, xhat, stats, x, gamma, beta, R, C, eps, scratch)'),
  batchNormBackward: kernel([f32('dx', 'R * C'), f32('dgamma', 'C'), f32('dbeta', 'C'), f32('dy', 'R * C'), f32('xhat', 'R * C'), f32('gamma', 'C'),
    f32('invstd', 'C'), size('R'), size('C'), i32('scratch', 'batchNormScratchWords(C)')],
  'batchNormBackward(dx, dgamma, dbeta, dy, xhat, gamma, invstd, R, C, scratch)'),
  scaleShift: kernel([f32('y', 'R * C'), f32('x', 'R * C'), f32('scale', 'C'), f32('shift', 'C'), size('R'), size('C')], 'scaleShift(y, x, scale, shift, R, C)'),

  // Optimisers
  sgdStep: kernel([f32('params', 'end'), f32('grad', 'end'), f32('velocity', 'end'), ...BEGIN_END, record<SgdHyper>('hp')],
    'sgdStep(params, grad, vel: @velocity, begin, end, lr: hp.lr, mom: hp.momentum, nesterov: hp.nesterov ? 1 : 0, wd: hp.weightDecay)',
    { emptyWhen: 'end <= begin' }),
  adamStep: kernel([f32('params', 'end'), f32('grad', 'end'), f32('m', 'end'), f32('v', 'end'), ...BEGIN_END, record<AdamHyper>('hp')],
    'adamStep(params, grad, m, v, begin, end, lr: hp.lr, b1: hp.beta1, omb1: 1 - hp.beta1, b2: hp.beta2, omb2: 1 - hp.beta2, eps: hp.eps, wd: hp.weightDecay, c1: 1 / (1 - hp.beta1 ** hp.step), c2: 1 / (1 - hp.beta2 ** hp.step), decoupled: hp.decoupled ? 1 : 0)',
    { emptyWhen: 'end <= begin' }),
  emaUpdate: kernel([f32('avg', 'end'), f32('x', 'end'), ...BEGIN_END, float('decay')], 'emaUpdate(avg, x, begin, end, decay, omd: 1 - decay)',
    { emptyWhen: 'end <= begin' }),
} as const;

/**
 * The kernels the WebAssembly set takes from the TypeScript reference (src/kernels/ts.ts) as they are:
 * a kernel added to `Kernels` gets a row above once it has a WebAssembly export, and until then its name
 * here (the type checker in adapter.ts names any kernel that has neither).
 */
export const TS_REFERENCE_KERNELS = [
  'sumSquares', 'scale', 'axpy', 'lambDirection', // the optimisers' per-tensor work
  'avgPoolForward', 'avgPoolBackward', 'globalAvgPoolForward', 'globalAvgPoolBackward', // average pooling
] as const satisfies readonly (keyof Kernels)[];

// ── Checks that need a loop or a search (called with the raw arguments) ───────────────────────────────

/** gather: every index names one of the images (which the kernel would otherwise read past). */
function indicesInsideImages(_X: Float32Array, _y: Int32Array, pixels: Uint8Array, labels: Uint8Array, index: Int32Array, M: number, D: number): string | undefined {
  const images = D > 0 ? Math.min(Math.floor(pixels.length / D), labels.length) : labels.length;
  for (let r = 0; r < Math.min(M, index.length); r++) { // (a short index is refused by its length check)
    const i = index[r];
    if (!(i >= 0 && i < images)) return `index[${r}] = ${i} is outside the ${images} images`;
  }
  return undefined;
}

/** The Winograd kernels: a variant that is built, F(2×2, 3×3), F(4×4, 3×3) or F(2×2, 5×5). */
function variant(m: number, r: number): string | undefined {
  return winogradBuilt(m, r) ? undefined : `Winograd F(${m}×${m}, ${r}×${r}) is not built; the variants are F(2×2, 3×3), F(4×4, 3×3) and F(2×2, 5×5)`;
}

/** The Winograd kernels: a stride-1 layer of a built variant whose output has the size its input and padding give. */
function winogradShape(g: ConvGeometry, m: number): string | undefined {
  if (g.stride !== 1) return `Winograd computes stride-1 convolutions, got stride ${g.stride}`;
  if (g.OH !== g.H + 2 * g.pad - g.k + 1 || g.OW !== g.W + 2 * g.pad - g.k + 1) {
    return `output ${g.OH}×${g.OW} does not match input ${g.H}×${g.W} with a ${g.k}×${g.k} window and padding ${g.pad}`;
  }
  return variant(m, g.k);
}

function filterTile(_a: Float32Array, _b: Float32Array, _F: number, _C: number, m: number, r: number): string | undefined {
  return variant(m, r);
}
function inputTiles(_a: Float32Array, _b: Float32Array, _M: number, g: ConvGeometry, m: number): string | undefined {
  return winogradShape(g, m);
}
function outputTiles(_a: Float32Array, _b: Float32Array, _bias: Float32Array | null, _M: number, g: ConvGeometry, _F: number, m: number): string | undefined {
  return winogradShape(g, m);
}
function outputGradTiles(_a: Float32Array, _b: Float32Array, _M: number, g: ConvGeometry, _F: number, m: number): string | undefined {
  return winogradShape(g, m);
}

/** maxPoolForward: a window of at least one element. */
function windowOfOneOrMore(_y: Float32Array, _argmax: Int32Array, _x: Float32Array, _M: number, _H: number, _W: number, _C: number, size: number): string | undefined {
  return size < 1 ? `bad window size ${size}` : undefined;
}

/** maxPoolBackward's status 1: an index of argmax is outside dx (the kernel wrote nothing); which one. */
function argmaxOutsideDx(status: number, _dx: Float32Array, _dy: Float32Array, argmax: Int32Array, _n: number, dxLength: number): string | undefined {
  if (status === 0) return undefined;
  let i = 0;
  while (argmax[i] >= 0 && argmax[i] < dxLength) i++;
  return `argmax[${i}] = ${argmax[i]} is outside dx (${dxLength} elements)`;
}

// ── Derived types ──────────────────────────────────────────────────────────────────────────────────────

type Table = typeof KERNEL_SIGNATURES;

/** The adapter's methods, as the rows declare them. */
export type AdapterMethods = {
  [K in keyof Table]: Table[K] extends Row<infer A extends readonly Arg[], string, infer R> ? (...args: ParamsOf<A>) => R : never;
};

type Split<S extends string> = S extends `${infer Head}, ${infer Tail}` ? [Head, ...Split<Tail>] : [S];
type ExportNameOf<Call> = Call extends `${infer Name}(${string}` ? Name : never;
type Numbers<T extends unknown[]> = { [I in keyof T]: number };
type ExportParamsOf<Call> = Call extends `${string}(${infer List})` ? Numbers<Split<List>> : never;

/** The module's exports, from the rows' export calls: every parameter is a number (a byteOffset, an i32, f32 or f64). */
export type WasmExports = {
  [K in keyof Table as ExportNameOf<Table[K]['call']>]: (...args: ExportParamsOf<Table[K]['call']>) => ExportResultOf<Table[K]>;
};
/** A number for a row whose method returns one and for a row with a status (maxPoolBackward: 0, or 1 when an index is outside dx). */
type ExportResultOf<R> = R extends { returns: 'number' } ? number : R extends { status: (...args: never[]) => unknown } ? number : void;

type _Probe = [WasmExports['maxPoolBackward'], WasmExports['gemmABt'], AdapterMethods['sgdStep'], AdapterMethods['lossForwardBackward'], WasmExports['adamStep']];
