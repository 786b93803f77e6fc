// @ts-check
/**
 * The elementwise family: expf, the activations, gather, colSum, reduceSlots, multiply and addTo.
 * (See generate.mjs for the conventions and the determinism every kernel keeps.)
 */
import { get, set, i32, add, mul, shl, f32, f32x4, ZERO, load, store, load1, store1, whileLoop, countUp, Func, elementwise } from './builder.mjs';

/** @typedef {import('./builder.mjs').Wat} Wat */
/** @typedef {import('./builder.mjs').Emitter} Emitter */

/** expf's constants (see expInline). */
const EXP_CONSTANTS = {
  hi: '(v128.const f32x4 150 150 150 150)',
  lo: '(v128.const f32x4 -150 -150 -150 -150)',
  magic: '(v128.const f32x4 12582912 12582912 12582912 12582912)', // 1.5 · 2²³
  magicBits: '(v128.const i32x4 0x4b400000 0x4b400000 0x4b400000 0x4b400000)',
  log2e: '(v128.const f32x4 1.44269504088896341 1.44269504088896341 1.44269504088896341 1.44269504088896341)',
  ln2hi: '(v128.const f32x4 0.693359375 0.693359375 0.693359375 0.693359375)',
  ln2lo: '(v128.const f32x4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4)',
  p0: '(v128.const f32x4 1.98756915e-4 1.98756915e-4 1.98756915e-4 1.98756915e-4)',
  p1: '(v128.const f32x4 1.39819995e-3 1.39819995e-3 1.39819995e-3 1.39819995e-3)',
  p2: '(v128.const f32x4 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3)',
  p3: '(v128.const f32x4 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2)',
  p4: '(v128.const f32x4 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1)',
  p5: '(v128.const f32x4 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1)',
  bias: '(v128.const i32x4 127 127 127 127)',
  one: '(v128.const f32x4 1 1 1 1)',
};

// ── exp ─────────────────────────────────────────────────────────────────────────────────────────────

/**
 * e^x on four lanes (Cephes expf): x = n·ln2 + r with n = round(x·log2 e) (by the 1.5·2²³ trick, which
 * yields n both as a float and, in the low mantissa bits, as an integer), r reduced with ln 2 split in
 * two (Cody–Waite), e^r ≈ 1 + r + r²·P(r) with a degree-5 P on |r| ≤ ½ ln 2, then scaled by 2^n as two
 * exact powers of two so that results from the normal range down through the subnormals into zero,
 * and up to overflow (+∞), come out right. x is first clamped to [−150, 150] (e^±150 is 0 / ∞ in
 * float32), which also keeps n in range; NaN stays NaN (pmin/pmax return their first operand then).
 * Measured: relative error < 8.3e-8 (under one ulp) over the normal range.
 *
 * Emitted inline (V8 does not inline wasm calls): statements that set local `out` from expression x,
 * with temporaries ex_*; the constants come from locals set once by expConstants(f) when `hoisted`
 * (V8 rebuilds a v128.const at every use), else are written in place.
 * @param {Emitter} g @param {Func} f @param {Wat} x @param {string} out @param {boolean} hoisted
 */
function expInline(g, f, x, out, hoisted) {
  f.localsV('ex_t', 'ex_n', 'ex_r', 'ex_p', 'ex_i');
  /** @param {keyof typeof EXP_CONSTANTS} name */
  const c = (name) => (hoisted ? get(f.local(`exc_${name}`, 'v128')) : EXP_CONSTANTS[name]);
  const t = get('ex_t'), n = get('ex_n'), r = get('ex_r'), p = get('ex_p'), ni = get('ex_i');
  let poly = c('p0');
  for (let q = 1; q <= 5; q++) poly = g.madd(c(/** @type {'p1' | 'p2' | 'p3' | 'p4' | 'p5'} */ (`p${q}`)), poly, r);
  /** @param {Wat} e */
  const pow2 = (e) => `(i32x4.shl (i32x4.add ${e} ${c('bias')}) (i32.const 23))`;
  return [
    set('ex_r', `(f32x4.pmax (f32x4.pmin ${x} ${c('hi')}) ${c('lo')})`), // x, clamped
    set('ex_t', g.madd(c('magic'), r, c('log2e'))),
    set('ex_n', `(f32x4.sub ${t} ${c('magic')})`),
    set('ex_i', `(i32x4.sub ${t} ${c('magicBits')})`),
    set('ex_r', g.nmadd(r, n, c('ln2hi'))),
    set('ex_r', g.nmadd(r, n, c('ln2lo'))),
    set('ex_p', poly),
    set('ex_p', `(f32x4.add ${g.madd(r, p, `(f32x4.mul ${r} ${r})`)} ${c('one')})`), // e^r = (P·r² + r) + 1
    set('ex_n', `(i32x4.shr_s ${ni} (i32.const 1))`), // n₁ = ⌊n/2⌋, n₂ = n − n₁: 2^n = 2^n₁ · 2^n₂, each exact
    set(out, `(f32x4.mul (f32x4.mul ${p} ${pow2(n)}) ${pow2(`(i32x4.sub ${ni} ${n})`)})`),
  ].join('\n');
}

/** Sets the exc_* locals that expInline(…, hoisted) reads. @param {Func} f */
function expConstants(f) {
  return Object.entries(EXP_CONSTANTS).map(([name, v]) => set(f.local(`exc_${name}`, 'v128'), v));
}

/** e^x as a function (for the scalar loss code, lane 0). @param {Emitter} g */
export function expv(g) {
  const f = new Func('expv', [['x', 'v128']], 'v128');
  f.localsV('y');
  return f.emit(expInline(g, f, get('x'), 'y', false) + '\n' + get('y'), false);
}

/** exp(out, x, n): out[i] = e^x[i] (what activationForward's sigmoid uses; exported for tests). @param {Emitter} g */
export function expExport(g) {
  return elementwise('exp', [['out', 'i32'], ['x', 'i32'], ['n', 'i32']], (ld, st, f) =>
    expInline(g, f, ld('x'), 'y', true) + '\n' + st('out', get('y')),
  { locals: [['y', 'v128']], prologue: (f) => expConstants(f) });
}

// ── Small kernels ───────────────────────────────────────────────────────────────────────────────────

/** out (N) = Σ_i A (M,N)[i, ·], i ascending from 0 (bitwise what the TypeScript loop computes). @param {Emitter} g */
export function colSum(g) {
  const f = new Func('colSum', [['out', 'i32'], ['A', 'i32'], ['M', 'i32'], ['N', 'i32']]);
  f.locals32('j', 'p', 'pe', 'N4', 'MN4');
  f.localsV('s0', 's1', 's2', 's3');
  /** @param {number} V @param {string} label */
  const block = (V, label) => {
    const out = [];
    const cols = Math.max(V, 1);
    for (let c = 0; c < cols; c++) out.push(set(`s${c}`, ZERO));
    out.push(set('p', add(get('A'), shl(get('j'), 2))));
    out.push(set('pe', add(get('p'), get('MN4'))));
    const k = [];
    for (let c = 0; c < cols; c++) k.push(set(`s${c}`, `(f32x4.add ${get(`s${c}`)} ${V === 0 ? load1(get('p')) : load(get('p'), 16 * c)})`));
    k.push(set('p', add(get('p'), get('N4'))));
    out.push(whileLoop(label, `(i32.lt_u ${get('p')} ${get('pe')})`, k.join('\n')));
    for (let c = 0; c < cols; c++) {
      const addr = add(get('out'), shl(get('j'), 2));
      out.push(V === 0 ? store1(addr, get('s0')) : store(addr, get(`s${c}`), 16 * c));
    }
    return out.join('\n');
  };
  /** @param {number} V @param {string} label */
  const stage = (V, label) => {
    const w = V === 0 ? 1 : 4 * V;
    return whileLoop(label, `(i32.le_s ${add(get('j'), i32(w))} ${get('N')})`, block(V, `${label}_i`) + '\n' + set('j', add(get('j'), i32(w))));
  };
  return f.emit([
    set('N4', shl(get('N'), 2)), set('MN4', mul(get('M'), get('N4'))), set('j', i32(0)),
    stage(4, 'cs16'), stage(1, 'cs4'), stage(0, 'cs1'),
  ].join('\n'));
}

/** activationForward(x, n, kind, slope): kind 0 identity, 1 ReLU, 2 sigmoid with slope a. @param {Emitter} g */
export function activationForward(g) {
  const relu = elementwise('reluForward', [['x', 'i32'], ['n', 'i32']], (ld, st) =>
    set('v', ld('x')) + '\n' + st('x', `(v128.andnot ${get('v')} (f32x4.lt ${get('v')} ${ZERO}))`),
  { exported: false, locals: [['v', 'v128']] });
  // 1 / (1 + e^(−slope·x))
  const sigmoid = elementwise('sigmoidForward', [['x', 'i32'], ['n', 'i32'], ['slope', 'f32']], (ld, st, f) =>
    expInline(g, f, `(f32x4.mul ${ld('x')} ${get('ns')})`, 'y', true) + '\n' +
    st('x', `(f32x4.div ${get('exc_one')} (f32x4.add ${get('exc_one')} ${get('y')}))`),
  { exported: false, locals: [['ns', 'v128'], ['y', 'v128']],
    prologue: (f) => [set('ns', `(f32x4.splat (f32.neg ${get('slope')}))`), ...expConstants(f)] });
  return [relu, sigmoid, `(func $activationForward (export "activationForward") (param $x i32) (param $n i32) (param $kind i32) (param $slope f32)
(if (i32.eq ${get('kind')} ${i32(1)}) (then (call $reluForward ${get('x')} ${get('n')})))
(if (i32.eq ${get('kind')} ${i32(2)}) (then (call $sigmoidForward ${get('x')} ${get('n')} ${get('slope')}))))`].join('\n');
}

/** activationBackward(dz, a, n, kind, slope): dz ← dz ⊙ φ'(z) written with a = φ(z). @param {Emitter} g */
export function activationBackward(g) {
  const relu = elementwise('reluBackward', [['dz', 'i32'], ['a', 'i32'], ['n', 'i32']], (ld, st) =>
    st('dz', `(v128.andnot ${ld('dz')} (f32x4.le ${ld('a')} ${ZERO}))`), { exported: false });
  // (a·S)·(1 − S), then times dz: the order of the TypeScript reference
  const sigmoid = elementwise('sigmoidBackward', [['dz', 'i32'], ['a', 'i32'], ['n', 'i32'], ['slope', 'f32']], (ld, st) =>
    set('v', ld('a')) + '\n' +
    st('dz', `(f32x4.mul ${ld('dz')} (f32x4.mul (f32x4.mul ${get('sv')} ${get('v')}) (f32x4.sub ${f32x4(1)} ${get('v')})))`),
  { exported: false, locals: [['v', 'v128'], ['sv', 'v128']], prologue: [set('sv', `(f32x4.splat ${get('slope')})`)] });
  return [relu, sigmoid, `(func $activationBackward (export "activationBackward") (param $dz i32) (param $a i32) (param $n i32) (param $kind i32) (param $slope f32)
(if (i32.eq ${get('kind')} ${i32(1)}) (then (call $reluBackward ${get('dz')} ${get('a')} ${get('n')})))
(if (i32.eq ${get('kind')} ${i32(2)}) (then (call $sigmoidBackward ${get('dz')} ${get('a')} ${get('n')} ${get('slope')}))))`].join('\n');
}

/**
 * gather(X, y, pixels, labels, index, M, D): X[r, k] = pixels[index[r]·D + k] / 255 (a correctly
 * rounded division, which is what the TypeScript reference's f64 multiply rounds to), y[r] = label.
 * @param {Emitter} g
 */
export function gather(g) {
  const f = new Func('gather', [['X', 'i32'], ['y', 'i32'], ['pixels', 'i32'], ['labels', 'i32'], ['index', 'i32'], ['M', 'i32'], ['D', 'i32']]);
  f.locals32('r', 'k', 'src', 'dst', 'idx');
  f.localsV('v', 'h');
  /** @param {Wat} ints */
  const cvt = (ints) => `(f32x4.div (f32x4.convert_i32x4_s ${ints}) ${f32x4(255)})`;
  const dst = add(get('dst'), shl(get('k'), 2));
  const src = add(get('src'), get('k'));
  const s16 = [
    set('v', load(src)),
    set('h', `(i16x8.extend_low_i8x16_u ${get('v')})`),
    store(dst, cvt(`(i32x4.extend_low_i16x8_u ${get('h')})`), 0),
    store(dst, cvt(`(i32x4.extend_high_i16x8_u ${get('h')})`), 16),
    set('h', `(i16x8.extend_high_i8x16_u ${get('v')})`),
    store(dst, cvt(`(i32x4.extend_low_i16x8_u ${get('h')})`), 32),
    store(dst, cvt(`(i32x4.extend_high_i16x8_u ${get('h')})`), 48),
    set('k', add(get('k'), i32(16))),
  ].join('\n');
  const s4 = [
    store(dst, cvt(`(i32x4.extend_low_i16x8_u (i16x8.extend_low_i8x16_u (v128.load32_zero ${src})))`)),
    set('k', add(get('k'), i32(4))),
  ].join('\n');
  const s1 = [
    `(f32.store ${dst} (f32.div (f32.convert_i32_s (i32.load8_u ${src})) ${f32(255)}))`,
    set('k', add(get('k'), i32(1))),
  ].join('\n');
  return f.emit([
    set('r', i32(0)),
    countUp('gather_r', 'r', get('M'), [
      set('idx', `(i32.load ${add(get('index'), shl(get('r'), 2))})`),
      set('src', add(get('pixels'), mul(get('idx'), get('D')))),
      set('dst', add(get('X'), shl(mul(get('r'), get('D')), 2))),
      set('k', i32(0)),
      whileLoop('gather_16', `(i32.le_s ${add(get('k'), i32(16))} ${get('D')})`, s16),
      whileLoop('gather_4', `(i32.le_s ${add(get('k'), i32(4))} ${get('D')})`, s4),
      whileLoop('gather_1', `(i32.lt_s ${get('k')} ${get('D')})`, s1),
      `(i32.store ${add(get('y'), shl(get('r'), 2))} (i32.load8_u ${add(get('labels'), get('idx'))}))`,
    ]),
  ].join('\n'));
}


/** reduceSlots(grad, slots, count, stride, begin, end, scale): grad[p] = (Σ_s slots[s·stride + p]) · scale. @param {Emitter} g */
export function reduceSlots(g) {
  const f = new Func('reduceSlots', [['grad', 'i32'], ['slots', 'i32'], ['count', 'i32'], ['stride', 'i32'], ['begin', 'i32'], ['end', 'i32'], ['scale', 'f32']]);
  f.locals32('p', 'q', 'qe', 'S4', 'CS4');
  f.localsV('sv', 's0', 's1', 's2', 's3');
  /** @param {number} V @param {string} label */
  const block = (V, label) => {
    const cols = Math.max(V, 1);
    const out = [];
    for (let c = 0; c < cols; c++) out.push(set(`s${c}`, ZERO));
    out.push(set('q', add(get('slots'), shl(get('p'), 2))));
    out.push(set('qe', add(get('q'), get('CS4'))));
    const k = [];
    for (let c = 0; c < cols; c++) k.push(set(`s${c}`, `(f32x4.add ${get(`s${c}`)} ${V === 0 ? load1(get('q')) : load(get('q'), 16 * c)})`));
    k.push(set('q', add(get('q'), get('S4'))));
    out.push(whileLoop(label, `(i32.lt_u ${get('q')} ${get('qe')})`, k.join('\n')));
    const addr = add(get('grad'), shl(get('p'), 2));
    for (let c = 0; c < cols; c++) {
      const v = `(f32x4.mul ${get(`s${c}`)} ${get('sv')})`;
      out.push(V === 0 ? store1(addr, v) : store(addr, v, 16 * c));
    }
    return out.join('\n');
  };
  /** @param {number} V @param {string} label */
  const stage = (V, label) => {
    const w = V === 0 ? 1 : 4 * V;
    return whileLoop(label, `(i32.le_s ${add(get('p'), i32(w))} ${get('end')})`, block(V, `${label}_s`) + '\n' + set('p', add(get('p'), i32(w))));
  };
  return f.emit([
    set('sv', `(f32x4.splat ${get('scale')})`),
    set('S4', shl(get('stride'), 2)), set('CS4', mul(get('count'), get('S4'))), set('p', get('begin')),
    stage(4, 'rs16'), stage(1, 'rs4'), stage(0, 'rs1'),
  ].join('\n'));
}

/** multiply(y, x, mask, n): y = x ⊙ mask; addTo(dst, src, n): dst += src. @param {Emitter} g */
export function multiplyAddTo(g) {
  return [
    elementwise('multiply', [['y', 'i32'], ['x', 'i32'], ['mask', 'i32'], ['n', 'i32']], (ld, st) =>
      st('y', `(f32x4.mul ${ld('x')} ${ld('mask')})`)),
    elementwise('addTo', [['dst', 'i32'], ['src', 'i32'], ['n', 'i32']], (ld, st) =>
      st('dst', `(f32x4.add ${ld('dst')} ${ld('src')})`)),
  ].join('\n');
}
