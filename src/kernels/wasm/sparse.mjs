// @ts-check
/**
 * The sparse family: the first layer, its weight stored input-major, skipping zero inputs.
 * (See generate.mjs for the conventions and the determinism every kernel keeps.)
 */
import { get, set, i32, add, mul, shl, f32, ZERO, off, load, store, load1, store1, whileLoop, countUp, Func } from './builder.mjs';

/** @typedef {import('./builder.mjs').Wat} Wat */
/** @typedef {import('./builder.mjs').Emitter} Emitter */

// ── The first layer, weight stored input-major: skip zero inputs ──────────────────────────────────────

/**
 * Column stages over [j, OUT): blocks of 8 vectors (32 columns: 8 accumulators), then single vectors,
 * then single columns in lane 0; `block(V)` emits one block of V vectors (0: one column) at column j.
 * Every stage runs the same madd per element, so an element's bits do not depend on its block.
 * @param {Func} f @param {string} label @param {(V: number) => Wat} block
 */
function sparseColumns(f, label, block) {
  const out = [set('j', i32(0))];
  for (const V of [8, 1, 0]) {
    const w = V === 0 ? 1 : 4 * V;
    out.push(whileLoop(`${label}_${V}`, `(i32.le_s ${add(get('j'), i32(w))} ${get('OUT')})`,
      block(V) + '\n' + set('j', add(get('j'), i32(w)))));
  }
  return out.join('\n');
}

/**
 * One output block from a list of nonzeros [S, pl): entries of two words, (byte offset of the row of
 * the operand to scale, relative to `base`; the float to scale it by), in the order summed. V vectors
 * (0: one column in lane 0) of accumulators from zero, acc ← acc + x · row[block], then `finish(c, v)`
 * stores accumulator c. Every block shape runs the same madd per element.
 * @param {Emitter} g @param {Func} f @param {number} V @param {Wat} base @param {(c: number, v: Wat) => Wat} finish @param {string} label
 */
function listBlock(g, f, V, base, finish, label) {
  f.locals32('pb', 'pw', 'e');
  const cols = Math.max(V, 1);
  /** @param {number} c */
  const acc = (c) => f.local(`c${c}`, 'v128');
  /** @param {Wat} addr @param {number} c */
  const ld = (addr, c) => (V === 0 ? load1(addr) : load(addr, 16 * c));
  const out = [];
  for (let c = 0; c < cols; c++) out.push(set(acc(c), ZERO));
  out.push(set('e', get('S')), set('pb', base));
  /** One list entry at e + o: acc ← acc + x · row[block]. @param {number} o */
  const entry = (o) => [
    set('xs', `(v128.load32_splat offset=${o + 4} ${get('e')})`),
    set('pw', add(get('pb'), `(i32.load${off(o)} ${get('e')})`)),
    ...Array.from({ length: cols }, (_, c) => set(acc(c), g.madd(get(acc(c)), get('xs'), ld(get('pw'), c)))),
  ].join('\n');
  out.push(whileLoop(`${label}_${V}`, `(i32.lt_u ${get('e')} ${get('pl')})`, entry(0) + '\n' + set('e', add(get('e'), i32(8)))));
  for (let c = 0; c < cols; c++) out.push(finish(c, get(acc(c))));
  return out.join('\n');
}

/**
 * sparseForward(Y, X, WT, bias, hasBias, relu, M, OUT, IN, S): Y (M, OUT) = X (M, IN) · WT (IN, OUT)
 * (+ bias) (then ReLU), S a scratch of 2·IN words. Per row: first the row's nonzero inputs are listed
 * in S, in ascending i, without branching per input (each is written, and the list end advances only
 * past nonzero ones; four inputs that are all zero are skipped at once); the test is f32.ne 0, so −0
 * counts as zero and NaN does not, as in the TypeScript `x === 0`. Then per block of 32 columns, 8
 * accumulators run down the list, each entry adding x · WT[i, block] (8 loads, 8 multiply-adds).
 * Element (r, j) = (Σ_{i: x ≠ 0} x_i · WT[i, j], i ascending, from 0) + bias, ReLU.
 * @param {Emitter} g
 */
export function sparseForward(g) {
  const f = new Func('sparseForward', [['Y', 'i32'], ['X', 'i32'], ['WT', 'i32'], ['bias', 'i32'], ['hasBias', 'i32'], ['relu', 'i32'],
    ['M', 'i32'], ['OUT', 'i32'], ['IN', 'i32'], ['S', 'i32']]);
  f.locals32('r', 'j', 'px', 'py', 'p', 'pe4', 'pe', 'pw', 'wo', 'pl', 'e', 'OUT4', 'IN4', 'mask');
  f.localsV('xv', 'xs', 's');
  /** Lists input q of the four at p (vector xv, nonzero lanes in mask), weight row offset wo + q·OUT4. @param {number} q */
  const list4 = (q) => [
    `(i32.store ${get('pl')} ${q === 0 ? get('wo') : add(get('wo'), q === 1 ? get('OUT4') : mul(get('OUT4'), i32(q)))})`,
    `(f32.store offset=4 ${get('pl')} (f32x4.extract_lane ${q} ${get('xv')}))`,
    set('pl', add(get('pl'), shl(`(i32.and (i32.shr_u ${get('mask')} ${i32(q)}) ${i32(1)})`, 3))),
  ].join('\n');
  /** @param {number} V @returns {(c: number, v: Wat) => Wat} */
  const finish = (V) => (c, v) => {
    const at = add(get('py'), shl(get('j'), 2));
    const biasAt = add(get('bias'), shl(get('j'), 2));
    return [
      set('s', v),
      `(if ${get('hasBias')} (then ${set('s', `(f32x4.add ${get('s')} ${V === 0 ? load1(biasAt) : load(biasAt, 16 * c)})`)}))`,
      `(if ${get('relu')} (then ${set('s', `(v128.andnot ${get('s')} (f32x4.lt ${get('s')} ${ZERO}))`)}))`,
      V === 0 ? store1(at, get('s')) : store(at, get('s'), 16 * c),
    ].join('\n');
  };
  return f.emit([
    set('OUT4', shl(get('OUT'), 2)), set('IN4', shl(get('IN'), 2)),
    set('r', i32(0)),
    countUp('sf_r', 'r', get('M'), [
      set('px', add(get('X'), mul(get('r'), get('IN4')))),
      set('py', add(get('Y'), mul(get('r'), get('OUT4')))),
      set('pe4', add(get('px'), shl(`(i32.and ${get('IN')} ${i32(~3)})`, 2))),
      set('pe', add(get('px'), get('IN4'))),
      // the row's nonzeros, listed
      set('p', get('px')), set('wo', i32(0)), set('pl', get('S')),
      whileLoop('sf_l4', `(i32.lt_u ${get('p')} ${get('pe4')})`, [
        set('xv', load(get('p'))),
        set('mask', `(i32x4.bitmask (f32x4.ne ${get('xv')} ${ZERO}))`),
        `(if ${get('mask')} (then\n${[0, 1, 2, 3].map(list4).join('\n')}))`,
        set('p', add(get('p'), i32(16))),
        set('wo', add(get('wo'), shl(get('OUT4'), 2))),
      ].join('\n')),
      whileLoop('sf_l1', `(i32.lt_u ${get('p')} ${get('pe')})`, [
        set('xv', load1(get('p'))),
        set('mask', `(i32x4.bitmask (f32x4.ne ${get('xv')} ${ZERO}))`),
        list4(0),
        set('p', add(get('p'), i32(4))),
        set('wo', add(get('wo'), get('OUT4'))),
      ].join('\n')),
      // the columns, block by block
      sparseColumns(f, 'sf_j', (V) => listBlock(g, f, V, add(get('WT'), shl(get('j'), 2)), finish(V), 'sf_e')),
    ]),
  ].join('\n'));
}

/**
 * sparseWeightGrad(dWT, X, dZ, K, IN, OUT, S): dWT (IN, OUT) = X (K, IN)ᵀ · dZ (K, OUT), S a scratch of
 * 2·K words. Per input i: the rows where X[r, i] ≠ 0 are listed in S in ascending r (branch-free, as in
 * sparseForward), then per block of 32 columns 8 accumulators run down the list, adding X[r, i] ·
 * dZ[r, block]; every element is stored (0 where no row has input i set).
 * @param {Emitter} g
 */
export function sparseWeightGrad(g) {
  const f = new Func('sparseWeightGrad', [['dWT', 'i32'], ['X', 'i32'], ['dZ', 'i32'], ['K', 'i32'], ['IN', 'i32'], ['OUT', 'i32'], ['S', 'i32']]);
  f.locals32('i', 'j', 'pc', 'px', 'pxe', 'zo', 'pw', 'pl', 'e', 'OUT4', 'IN4', 'KIN4');
  f.local('x', 'f32');
  f.localsV('xs');
  /** @param {number} V @returns {(c: number, v: Wat) => Wat} */
  const finish = (V) => (c, v) => {
    const at = add(get('pc'), shl(get('j'), 2));
    return V === 0 ? store1(at, v) : store(at, v, 16 * c);
  };
  return f.emit([
    set('OUT4', shl(get('OUT'), 2)), set('IN4', shl(get('IN'), 2)), set('KIN4', mul(get('K'), get('IN4'))),
    set('i', i32(0)),
    countUp('sw_i', 'i', get('IN'), [
      set('pc', add(get('dWT'), mul(get('i'), get('OUT4')))),
      set('px', add(get('X'), shl(get('i'), 2))), set('pxe', add(get('px'), get('KIN4'))),
      set('zo', i32(0)), set('pl', get('S')),
      whileLoop('sw_l', `(i32.lt_u ${get('px')} ${get('pxe')})`, [
        set('x', `(f32.load ${get('px')})`),
        `(i32.store ${get('pl')} ${get('zo')})`,
        `(f32.store offset=4 ${get('pl')} ${get('x')})`,
        set('pl', add(get('pl'), shl(`(f32.ne ${get('x')} ${f32(0)})`, 3))),
        set('px', add(get('px'), get('IN4'))),
        set('zo', add(get('zo'), get('OUT4'))),
      ].join('\n')),
      sparseColumns(f, 'sw_j', (V) => listBlock(g, f, V, add(get('dZ'), shl(get('j'), 2)), finish(V), 'sw_e')),
    ]),
  ].join('\n'));
}
