// @ts-check
/**
 * The normalisation family: batch normalisation (training) and scaleShift (its folded inference form).
 * (See generate.mjs for the conventions and the determinism every kernel keeps.)
 */
import { get, set, i32, add, mul, shl, ZERO, off, load, store, load1, store1, shuffle, whileLoop, Func, channelStages } from './builder.mjs';

/** @typedef {import('./builder.mjs').Wat} Wat */
/** @typedef {import('./builder.mjs').Emitter} Emitter */
/** @typedef {'L' | 'H'} Half  a float32 vector's channels 0, 1 (L) or 2, 3 (H), as one f64x2 */

/**
 * The per-channel sums of batch normalisation, in float64 (f64x2: two lanes of a float32 vector each,
 * V = 0 lane 0 alone), one accumulator per channel from 0 in ascending row: the sums, and so the
 * statistics, of the TypeScript kernel, bit for bit. Helpers: lo, a float32 vector's lanes 0 and 1 as
 * f64x2; demote, back.
 * @param {Wat} v
 */
const lo = (v) => `(f64x2.promote_low_f32x4 ${v})`;
/** A float32 vector of the block's four channels from their two f64x2 halves (V = 0: lane 0 from lo). @param {number} V @param {Wat} lo @param {Wat} hi */
const demote = (V, lo, hi) => (V === 0 ? `(f32x4.demote_f64x2_zero ${lo})`
  : shuffle(`(f32x4.demote_f64x2_zero ${lo})`, `(f32x4.demote_f64x2_zero ${hi})`, [0, 1, 4, 5]));

/**
 * The loops of batch normalisation over x (R, C), channels fastest. Every pass runs rows outer, so it
 * reads (and writes) its arrays front to back; the per-channel state lives in the caller's scratch
 * (a few doubles per channel, in L1), addressed by the channel's byte offset o. (With channel blocks
 * outer and rows inner, each block streamed the whole of x with a stride of a row, from memory for a
 * micro-shard's 2.7 MB, several times over; this way each pass reads its arrays once, in order: 3×
 * faster at R ≈ 20 000, C = 32, 4.5× at C = 64.) bnSetup sets the locals C4 (bytes per row), C4v
 * (bytes of a row's whole vectors), C8, C16 (2 and 4 rows), rs1…rsG (u rows), rEndG, rEnd.
 *
 * bnRows(label, body): rows G = BN_ROWS at a time (then one at a time); per row group the channels as
 * vectors of four (V = 1), then the last C mod 4 one at a time in lane 0 (V = 0), through
 * body(V, U, at): U rows, at(u) the byte offset of element (row + u, o) (local p = row·C4 + o). The
 * state is loaded once per channel vector and row group, so the U rows' updates run in registers, in
 * ascending row: the same sums for any R, C or grouping.
 * bnChannels(label, body): body(V) per channel vector, then per remaining channel (local o).
 */
const BN_ROWS = 8;

/** @param {Func} f */
function bnSetup(f) {
  const G = BN_ROWS;
  f.locals32('C4', 'C4v', 'C8', 'C16', 'o', 'p', 'row', 'rEndG', 'rEnd');
  for (let u = 1; u <= G; u++) f.local(`rs${u}`, 'i32');
  return [
    set('C4', shl(get('C'), 2)), set('C4v', `(i32.and ${get('C4')} ${i32(~15)})`),
    set('C8', shl(get('C4'), 1)), set('C16', shl(get('C4'), 2)),
    ...Array.from({ length: G }, (_, u) => set(`rs${u + 1}`, mul(get('C4'), i32(u + 1)))),
    set('rEndG', mul(`(i32.and ${get('R')} ${i32(-G)})`, get('C4'))), set('rEnd', mul(get('R'), get('C4'))),
  ].join('\n');
}

/** @param {string} label @param {(V: number, U: number, at: (u: number) => Wat) => Wat} body */
function bnRows(label, body) {
  const G = BN_ROWS;
  /** @param {number} u */
  const at = (u) => (u === 0 ? get('p') : add(get('p'), get(`rs${u}`)));
  /** @param {number} U */
  const group = (U) => [
    set('o', i32(0)),
    whileLoop(`${label}_${U}v`, `(i32.lt_u ${get('o')} ${get('C4v')})`,
      [set('p', add(get('row'), get('o'))), body(1, U, at), set('o', add(get('o'), i32(16)))].join('\n')),
    whileLoop(`${label}_${U}s`, `(i32.lt_u ${get('o')} ${get('C4')})`,
      [set('p', add(get('row'), get('o'))), body(0, U, at), set('o', add(get('o'), i32(4)))].join('\n')),
  ].join('\n');
  return [
    set('row', i32(0)),
    whileLoop(`${label}_rG`, `(i32.lt_u ${get('row')} ${get('rEndG')})`, group(G) + '\n' + set('row', add(get('row'), get(`rs${G}`)))),
    whileLoop(`${label}_r1`, `(i32.lt_u ${get('row')} ${get('rEnd')})`, group(1) + '\n' + set('row', add(get('row'), get('C4')))),
  ].join('\n');
}

/** @param {string} label @param {(V: number) => Wat} body */
function bnChannels(label, body) {
  return [
    set('o', i32(0)),
    whileLoop(`${label}_v`, `(i32.lt_u ${get('o')} ${get('C4v')})`, body(1) + '\n' + set('o', add(get('o'), i32(16)))),
    whileLoop(`${label}_s`, `(i32.lt_u ${get('o')} ${get('C4')})`, body(0) + '\n' + set('o', add(get('o'), i32(4)))),
  ].join('\n');
}

/**
 * Loads and stores of the batch-norm state at channel offset o: float64 pairs at base + 2o (a vector
 * of four channels as two f64x2, lo then hi; lane 0 alone when V = 0), float32 at base + o.
 */
const bnState = {
  /** @param {number} V @param {string} base @param {Half} x */
  ld64: (V, base, x) => (V === 0 ? `(v128.load64_zero ${add(get(base), shl(get('o'), 1))})` : load(add(get(base), shl(get('o'), 1)), x === 'H' ? 16 : 0)),
  /** @param {number} V @param {string} base @param {Half} x @param {Wat} v */
  st64: (V, base, x, v) => (V === 0 ? `(v128.store64_lane 0 ${add(get(base), shl(get('o'), 1))} ${v})`
    : store(add(get(base), shl(get('o'), 1)), v, x === 'H' ? 16 : 0)),
  /** @param {number} V @param {Wat} addr */
  ld: (V, addr) => (V === 0 ? load1(addr) : load(addr)),
  /** @param {number} V @param {Wat} addr @param {Wat} v */
  st: (V, addr, v) => (V === 0 ? store1(addr, v) : store(addr, v)),
  /** @param {number} V @returns {Half[]} */
  halves: (V) => (V === 0 ? ['L'] : ['L', 'H']),
  /**
   * Half x ('L': channels 0, 1; 'H': 2, 3) of the float32 vector at addr, as f64x2: two 8-byte loads
   * and two conversions instead of one load, a shuffle and two conversions (the shuffle and the
   * conversions compete for one port on x64, which bounds these loops).
   * @param {number} V @param {Wat} addr @param {Half} x
   */
  ldHalf: (V, addr, x) => lo(V === 0 ? load1(addr) : `(v128.load64_zero${off(x === 'H' ? 8 : 0)} ${addr})`),
};

/**
 * batchNormForward(y, xhat, stats, x, gamma, beta, R, C, eps, scratch): three passes over the rows
 * (see bnRows), the sums in float64 in scratch (bytes [0, 8C): Σx, then the mean; [8C, 16C): Σ(x − mean)²).
 * mean = Σ/R, var = Σ/R, invstd = 1/√(var + eps) in float64, stored as float32 [mean, var, invstd]; then in
 * float32, with mean and invstd read back from stats, xhat = (x − mean)·invstd, y = gamma·xhat + beta
 * (a madd). y may be x (each element read, then written).
 * @param {Emitter} g
 */
export function batchNormForward(g) {
  const f = new Func('batchNormForward', [['y', 'i32'], ['xhat', 'i32'], ['stats', 'i32'], ['x', 'i32'], ['gamma', 'i32'], ['beta', 'i32'],
    ['R', 'i32'], ['C', 'i32'], ['eps', 'f64'], ['scratch', 'i32']]);
  f.locals32('sA', 'sB');
  f.localsV('d', 'h', 'Rv', 'epsv', 'aL', 'aH', 'mL', 'mH', 'm', 's', 'g', 'b');
  const { ld64, st64, ld, st, halves, ldHalf } = bnState;
  /** @param {number} V @param {string} n */
  const dem = (V, n) => demote(V, get(`${n}L`), V === 0 ? '' : get(`${n}H`));
  /** @param {(u: number) => Wat} at @param {number} u */
  const xAt = (at, u) => add(get('x'), at(u));
  return f.emit([
    bnSetup(f),
    set('Rv', `(f64x2.splat (f64.convert_i32_u ${get('R')}))`), set('epsv', `(f64x2.splat ${get('eps')})`),
    set('sA', get('scratch')), set('sB', add(get('scratch'), get('C8'))),
    bnChannels('bnf_zero', (V) => halves(V).flatMap((x) => [st64(V, 'sA', x, ZERO), st64(V, 'sB', x, ZERO)]).join('\n')),
    // Σ x
    bnRows('bnf_sum', (V, U, at) => [
      ...halves(V).map((x) => set(`a${x}`, ld64(V, 'sA', x))),
      ...Array.from({ length: U }, (_, u) => halves(V).map((x) => set(`a${x}`, `(f64x2.add ${get(`a${x}`)} ${ldHalf(V, xAt(at, u), x)})`))).flat(),
      ...halves(V).map((x) => st64(V, 'sA', x, get(`a${x}`))),
    ].join('\n')),
    // mean = Σ/R (in place)
    bnChannels('bnf_mean', (V) => halves(V).map((x) => st64(V, 'sA', x, `(f64x2.div ${ld64(V, 'sA', x)} ${get('Rv')})`)).join('\n')),
    // Σ (x − mean)²
    bnRows('bnf_sq', (V, U, at) => [
      ...halves(V).flatMap((x) => [set(`m${x}`, ld64(V, 'sA', x)), set(`a${x}`, ld64(V, 'sB', x))]),
      ...Array.from({ length: U }, (_, u) => halves(V).flatMap((x) => [
        set('d', `(f64x2.sub ${ldHalf(V, xAt(at, u), x)} ${get(`m${x}`)})`),
        set(`a${x}`, `(f64x2.add ${get(`a${x}`)} (f64x2.mul ${get('d')} ${get('d')}))`)])).flat(),
      ...halves(V).map((x) => st64(V, 'sB', x, get(`a${x}`))),
    ].join('\n')),
    // stats: mean, var = Σ/R, invstd (a ← var, then invstd)
    bnChannels('bnf_stats', (V) => [
      ...halves(V).flatMap((x) => [set(`m${x}`, ld64(V, 'sA', x)), set(`a${x}`, `(f64x2.div ${ld64(V, 'sB', x)} ${get('Rv')})`)]),
      st(V, add(get('stats'), get('o')), dem(V, 'm')),
      st(V, add(add(get('stats'), get('C4')), get('o')), dem(V, 'a')),
      ...halves(V).map((x) => set(`a${x}`, `(f64x2.div (v128.const f64x2 1 1) (f64x2.sqrt (f64x2.add ${get(`a${x}`)} ${get('epsv')})))`)),
      st(V, add(add(get('stats'), get('C8')), get('o')), dem(V, 'a')),
    ].join('\n')),
    // xhat and y, from the float32 mean and invstd
    bnRows('bnf_y', (V, U, at) => [
      set('m', ld(V, add(get('stats'), get('o')))), set('s', ld(V, add(add(get('stats'), get('C8')), get('o')))),
      set('g', ld(V, add(get('gamma'), get('o')))), set('b', ld(V, add(get('beta'), get('o')))),
      ...Array.from({ length: U }, (_, u) => [
        set('h', `(f32x4.mul (f32x4.sub ${ld(V, xAt(at, u))} ${get('m')}) ${get('s')})`),
        st(V, add(get('xhat'), at(u)), get('h')),
        st(V, add(get('y'), at(u)), g.madd(get('b'), get('g'), get('h'))),
      ]).flat(),
    ].join('\n')),
  ].join('\n'));
}

/**
 * batchNormBackward(dx, dgamma, dbeta, dy, xhat, gamma, invstd, R, C, scratch): Σ dy and Σ dy·xhat per
 * channel in float64 in scratch (bytes [0, 8C) and [8C, 16C); bit for bit the TypeScript sums: the
 * product of two floats is exact in f64), stored as float32; then in float32, with Σdy/R, Σdy·xhat/R
 * and gamma·invstd kept in scratch (bytes [16C, 28C)), dx = (gamma·invstd)·((dy − Σdy/R) − xhat·(Σdy·xhat/R)).
 * dx may be dy.
 * @param {Emitter} g
 */
export function batchNormBackward(g) {
  const f = new Func('batchNormBackward', [['dx', 'i32'], ['dgamma', 'i32'], ['dbeta', 'i32'], ['dy', 'i32'], ['xhat', 'i32'], ['gamma', 'i32'],
    ['invstd', 'i32'], ['R', 'i32'], ['C', 'i32'], ['scratch', 'i32']]);
  f.locals32('sA', 'sB', 'fM', 'fG', 'fS');
  f.localsV('v', 'h', 'Rv', 'bL', 'bH', 'gL', 'gH', 'mb', 'mg', 'sc');
  const { ld64, st64, ld, st, halves, ldHalf } = bnState;
  /** @param {number} V @param {string} n */
  const dem = (V, n) => demote(V, get(`${n}L`), V === 0 ? '' : get(`${n}H`));
  /** @param {number} V @param {string} n */
  const divR = (V, n) => demote(V, `(f64x2.div ${get(`${n}L`)} ${get('Rv')})`, V === 0 ? '' : `(f64x2.div ${get(`${n}H`)} ${get('Rv')})`);
  /** @param {string} base */
  const at32 = (base) => add(get(base), get('o'));
  return f.emit([
    bnSetup(f),
    set('Rv', `(f64x2.splat (f64.convert_i32_u ${get('R')}))`),
    set('sA', get('scratch')), set('sB', add(get('scratch'), get('C8'))), set('fM', add(get('scratch'), get('C16'))),
    set('fG', add(get('fM'), get('C4'))), set('fS', add(get('fG'), get('C4'))),
    bnChannels('bnb_zero', (V) => halves(V).flatMap((x) => [st64(V, 'sA', x, ZERO), st64(V, 'sB', x, ZERO)]).join('\n')),
    // Σ dy, Σ dy·xhat
    bnRows('bnb_sum', (V, U, at) => [
      ...halves(V).flatMap((x) => [set(`b${x}`, ld64(V, 'sA', x)), set(`g${x}`, ld64(V, 'sB', x))]),
      ...Array.from({ length: U }, (_, u) => halves(V).flatMap((x) => [
        set('v', ldHalf(V, add(get('dy'), at(u)), x)), set('h', ldHalf(V, add(get('xhat'), at(u)), x)),
        set(`b${x}`, `(f64x2.add ${get(`b${x}`)} ${get('v')})`),
        set(`g${x}`, `(f64x2.add ${get(`g${x}`)} (f64x2.mul ${get('v')} ${get('h')}))`)])).flat(),
      ...halves(V).flatMap((x) => [st64(V, 'sA', x, get(`b${x}`)), st64(V, 'sB', x, get(`g${x}`))]),
    ].join('\n')),
    // dbeta, dgamma; Σdy/R, Σdy·xhat/R (float32), gamma·invstd
    bnChannels('bnb_fin', (V) => [
      ...halves(V).flatMap((x) => [set(`b${x}`, ld64(V, 'sA', x)), set(`g${x}`, ld64(V, 'sB', x))]),
      st(V, at32('dbeta'), dem(V, 'b')),
      st(V, at32('dgamma'), dem(V, 'g')),
      st(V, at32('fM'), divR(V, 'b')),
      st(V, at32('fG'), divR(V, 'g')),
      st(V, at32('fS'), `(f32x4.mul ${ld(V, at32('gamma'))} ${ld(V, at32('invstd'))})`),
    ].join('\n')),
    // dx
    bnRows('bnb_dx', (V, U, at) => [
      set('mb', ld(V, at32('fM'))), set('mg', ld(V, at32('fG'))), set('sc', ld(V, at32('fS'))),
      ...Array.from({ length: U }, (_, u) => st(V, add(get('dx'), at(u)),
        `(f32x4.mul ${get('sc')} ${g.nmadd(`(f32x4.sub ${ld(V, add(get('dy'), at(u)))} ${get('mb')})`, ld(V, add(get('xhat'), at(u))), get('mg'))})`)),
    ].join('\n')),
  ].join('\n'));
}

/** scaleShift(y, x, scale, shift, R, C): y = x·scale[c] + shift[c] (a madd); blocks of 16, 4, 1 channels, rows inner. y may be x. @param {Emitter} g */
export function scaleShift(g) {
  const f = new Func('scaleShift', [['y', 'i32'], ['x', 'i32'], ['scale', 'i32'], ['shift', 'i32'], ['R', 'i32'], ['C', 'i32']]);
  f.locals32('c', 'C4', 'o', 'oe', 'cb');
  /** @param {number} V */
  const block = (V) => {
    const cols = Math.max(V, 1);
    /** @param {Wat} p @param {number} q */
    const ld = (p, q) => (V === 0 ? load1(p) : load(p, 16 * q));
    /** @param {Wat} p @param {Wat} v @param {number} q */
    const st = (p, v, q) => (V === 0 ? store1(p, v) : store(p, v, 16 * q));
    /** @param {number} q */
    const a = (q) => f.local(`a${q}`, 'v128');
    /** @param {number} q */
    const b = (q) => f.local(`b${q}`, 'v128');
    const out = [set('cb', shl(get('c'), 2))];
    for (let q = 0; q < cols; q++) out.push(set(a(q), ld(add(get('scale'), get('cb')), q)), set(b(q), ld(add(get('shift'), get('cb')), q)));
    out.push(set('o', get('cb')), set('oe', add(get('cb'), mul(get('R'), get('C4')))));
    out.push(whileLoop(`ss_r${V}`, `(i32.lt_u ${get('o')} ${get('oe')})`, [
      ...Array.from({ length: cols }, (_, q) => st(add(get('y'), get('o')), g.madd(get(b(q)), ld(add(get('x'), get('o')), q), get(a(q))), q)),
      set('o', add(get('o'), get('C4'))),
    ].join('\n')));
    return out.join('\n');
  };
  return f.emit([set('C4', shl(get('C'), 2)), channelStages('ss_c', [4, 1, 0], block)].join('\n'));
}
