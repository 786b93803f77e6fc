// @ts-check
/**
 * The Winograd family, F(2×2, 3×3), F(4×4, 3×3) and F(2×2, 5×5) (the maths and layouts: src/kernels/winograd.ts):
 * the filter, input and output transforms and their adjoints. The α² GEMMs between them are the GEMM
 * family's. Every kernel is vectorised across channels (input channels C for the filter and input
 * kernels, filters F for the output kernels: NHWC keeps them contiguous), four at a time, then single
 * channels in lane 0 of the same instructions. Each takes m and r (the tile and the window) and runs the
 * code written for that variant.
 *
 * Bits: a transform output is its row's nonzero terms summed in ascending order, ±1 as f32x4.add / sub
 * (the first as itself or f32x4.neg), other coefficients as f32x4.mul by the float32 constant then add,
 * never fused (in the relaxed build too): exactly the TypeScript reference's float32 steps. The input
 * gradient adds each tile's contribution into a zeroed dx in ascending tile, as the reference does.
 * (See generate.mjs for the conventions every kernel keeps.)
 */
import { get, set, i32, add, sub, mul, shl, ZERO, f32x4, load, store, load1, store1, whileLoop, countUp, Func } from './builder.mjs';

/** @typedef {import('./builder.mjs').Wat} Wat */
/** @typedef {import('./builder.mjs').Emitter} Emitter */

/** Bᵀ of the points 0, ±1, ±2, ∞ (α = 6): F(4×4, 3×3)'s and F(2×2, 5×5)'s. */
const BT6 = [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0], [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]];

/**
 * Bᵀ, G, Aᵀ of F(m×m, r×r) by `${m}x${r}`, as in src/kernels/winograd.ts (test/kernels-winograd.test.ts compares the two).
 * @type {Record<'2x3' | '4x3' | '2x5', { BT: number[][], G: number[][], AT: number[][] }>}
 */
export const WINOGRAD_MATRICES = {
  '2x3': {
    BT: [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]],
    G: [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]],
    AT: [[1, 1, 1, 0], [0, 1, -1, -1]],
  },
  '4x3': {
    BT: BT6,
    G: [[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6], [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]],
    AT: [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]],
  },
  '2x5': {
    BT: BT6,
    G: [[1 / 4, 0, 0, 0, 0], [-1 / 6, -1 / 6, -1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6, 1 / 6, -1 / 6],
      [1 / 24, 1 / 12, 1 / 6, 1 / 3, 2 / 3], [1 / 24, -1 / 12, 1 / 6, -1 / 3, 2 / 3], [0, 0, 0, 0, 1]],
    AT: [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 1]],
  },
};

/** The variants, [m, r], in the order the kernels test for them (the matrices' keys, in order). */
const VARIANTS = /** @type {[2 | 4, 3 | 5][]} */ (Object.keys(WINOGRAD_MATRICES).map((key) => key.split('x').map(Number)));
/** @param {number} m @param {number} r */
const matrices = (m, r) => WINOGRAD_MATRICES[/** @type {'2x3' | '4x3' | '2x5'} */ (`${m}x${r}`)];

/** @param {number[][]} T */
const transpose = (T) => T[0].map((_, j) => T.map((row) => row[j]));

/** Σ row[j]·xs[j] over the nonzero coefficients, ascending j (see the header for the instructions). @param {number[]} row @param {Wat[]} xs */
function lin(row, xs) {
  /** @type {Wat | null} */
  let acc = null;
  row.forEach((coef, j) => {
    const c = Math.fround(coef);
    if (c === 0) return;
    const x = xs[j];
    if (acc === null) acc = c === 1 ? x : c === -1 ? `(f32x4.neg ${x})` : `(f32x4.mul ${f32x4(c)} ${x})`;
    else acc = c === 1 ? `(f32x4.add ${acc} ${x})` : c === -1 ? `(f32x4.sub ${acc} ${x})` : `(f32x4.add ${acc} (f32x4.mul ${f32x4(c)} ${x}))`;
  });
  return acc ?? ZERO;
}

/**
 * T X Tᵀ for X (r × r) in locals d_i_j: column by column, X's column j loaded (`load(i, j)`, a statement
 * that sets d_i_j, called in column-major order: j outer, i inner) and at once transformed into locals
 * t_i_j (T X), so that only a column of inputs is live at a time (all 36 of F(4×4) at once spill on
 * x86's 16 vector registers); then each output along a row of those. Returns the statements and the
 * a × a output expressions (row-major), each to be used once. (The order of the loads changes no value.)
 * @param {Func} f @param {number[][]} T @param {(i: number, j: number) => Wat} load
 */
function transform2d(f, T, load) {
  const a = T.length, r = T[0].length;
  const X = inputLocals(f, r);
  const stmts = [];
  for (let j = 0; j < r; j++) {
    for (let i = 0; i < r; i++) stmts.push(load(i, j));
    for (let i = 0; i < a; i++) stmts.push(set(f.local(`t${i}_${j}`, 'v128'), lin(T[i], X.map((row) => get(row[j])))));
  }
  const outs = [];
  for (let i = 0; i < a; i++) for (let k = 0; k < a; k++) outs.push(lin(T[k], Array.from({ length: r }, (_, j) => get(`t${i}_${j}`))));
  return { stmts: stmts.join('\n'), outs };
}

/** r × r locals d_i_j for a transform's inputs. @param {Func} f @param {number} r */
const inputLocals = (f, r) => Array.from({ length: r }, (_, i) => Array.from({ length: r }, (_, j) => f.local(`d${i}_${j}`, 'v128')));

/**
 * Over the channels' bytes [0, len): body(4) at byte cb while a whole vector fits, then body(1) per
 * channel (lane 0).
 * @param {string} label @param {Wat} len @param {(V: 1 | 4) => Wat} body
 */
function lanes(label, len, body) {
  return [
    set('cb', i32(0)),
    whileLoop(`${label}_v`, `(i32.le_s ${add(get('cb'), i32(16))} ${len})`, body(4) + '\n' + set('cb', add(get('cb'), i32(16)))),
    whileLoop(`${label}_1`, `(i32.lt_s ${get('cb')} ${len})`, body(1) + '\n' + set('cb', add(get('cb'), i32(4)))),
  ].join('\n');
}
/** @param {1 | 4} V @param {Wat} addr */
const ldV = (V, addr) => (V === 4 ? load(addr) : load1(addr));
/** @param {1 | 4} V @param {Wat} addr @param {Wat} v */
const stV = (V, addr, v) => (V === 4 ? store(addr, v) : store1(addr, v));

/**
 * The function's body for the variant its m and r name (the last variant's for any other pair: the
 * adapter lets only built variants through).
 * @param {(m: 2 | 4, r: 3 | 5) => Wat} body
 */
function byVariant(body) {
  /** @param {number} v @returns {Wat} */
  const from = (v) => {
    const [m, r] = VARIANTS[v];
    if (v === VARIANTS.length - 1) return body(m, r);
    const test = `(i32.and (i32.eq ${get('m')} ${i32(m)}) (i32.eq ${get('r')} ${i32(r)}))`;
    return `(if ${test} (then\n${body(m, r)}\n) (else\n${from(v + 1)}\n))`;
  };
  return from(0);
}

/**
 * The loops over the tiles of M images (n, ty, tx; p ascending), TY = ⌈OH/m⌉, TX = ⌈OW/m⌉: per tile
 * `body` with oy0 = m·ty, ox0 = m·tx (the tile's first output pixel) and pOff = p·chanB (the tile's
 * bytes into each plane of chanB bytes per tile); also sets `plane` (bytes per ξ plane: P·chanB).
 * @param {Func} f @param {string} label @param {2 | 4} m @param {Wat} chanB @param {Wat} body
 */
function tileLoops(f, label, m, chanB, body) {
  f.locals32('TY', 'TX', 'plane', 'n', 'ty', 'tx', 'oy0', 'ox0', 'pOff', 'cb');
  return [
    set('TY', `(i32.div_u ${add(get('OH'), i32(m - 1))} ${i32(m)})`),
    set('TX', `(i32.div_u ${add(get('OW'), i32(m - 1))} ${i32(m)})`),
    set('plane', mul(mul(mul(get('M'), get('TY')), get('TX')), chanB)),
    set('pOff', i32(0)), set('n', i32(0)),
    countUp(`${label}_n`, 'n', get('M'), [
      set('ty', i32(0)),
      countUp(`${label}_ty`, 'ty', get('TY'), [
        set('oy0', mul(get('ty'), i32(m))),
        set('tx', i32(0)),
        countUp(`${label}_tx`, 'tx', get('TX'), [
          set('ox0', mul(get('tx'), i32(m))),
          body,
          set('pOff', add(get('pOff'), chanB)),
        ]),
      ]),
    ]),
  ].join('\n');
}

/**
 * Per tile, which of its r rows and columns lie inside an image of `rows` × `cols` from (y0, x0): i32
 * locals ry_i, cx_j, and `full` when all do. Returns the statements.
 * @param {Func} f @param {number} r @param {Wat} y0 @param {Wat} x0 @param {Wat} rows @param {Wat} cols
 */
function insideFlags(f, r, y0, x0, rows, cols) {
  const s = [];
  for (let i = 0; i < r; i++) s.push(set(f.local(`ry${i}`, 'i32'), `(i32.lt_u ${add(y0, i32(i))} ${rows})`));
  for (let j = 0; j < r; j++) s.push(set(f.local(`cx${j}`, 'i32'), `(i32.lt_u ${add(x0, i32(j))} ${cols})`));
  f.locals32('full');
  s.push(set('full', `(i32.and ${get(`ry0`)} (i32.and ${get(`ry${r - 1}`)} (i32.and ${get('cx0')} ${get(`cx${r - 1}`)})))`));
  return s.join('\n');
}
/** @param {number} i @param {number} j */
const inside = (i, j) => `(i32.and ${get(`ry${i}`)} ${get(`cx${j}`)})`;

/** The image parameters of the input-side kernels, after their two pointers. @type {import('./builder.mjs').Params} */
const INPUT_PARAMS = ['M', 'H', 'W', 'C', 'pad', 'OH', 'OW', 'm', 'r'].map((n) => [n, 'i32']);
/** The output-side kernels'. @type {import('./builder.mjs').Params} */
const OUTPUT_PARAMS = ['M', 'OH', 'OW', 'F', 'm', 'r'].map((n) => [n, 'i32']);

/**
 * Bytes of x's rows and images, and the per-tile patch origin for the input-side kernels: `base` the
 * byte of pixel (m·ty − pad, m·tx − pad) of image n (only dereferenced where inside), and the flags.
 * @param {Func} f @param {string} image @param {number} a
 */
function patchSetup(f, image, a) {
  f.locals32('C4', 'rowB', 'imgB', 'y0', 'x0', 'base', 'pr');
  return {
    pre: [set('C4', shl(get('C'), 2)), set('rowB', mul(get('W'), get('C4'))), set('imgB', mul(get('H'), get('rowB')))].join('\n'),
    tile: [
      set('y0', sub(get('oy0'), get('pad'))), set('x0', sub(get('ox0'), get('pad'))),
      set('base', add(add(add(get(image), mul(get('n'), get('imgB'))), mul(get('y0'), get('rowB'))), mul(get('x0'), get('C4')))),
      insideFlags(f, a, get('y0'), get('x0'), get('H'), get('W')),
    ].join('\n'),
    /** The address of patch element (i, j) at channel byte cb (pr = base + cb). @param {number} i @param {number} j */
    at: (i, j) => add(get('pr'), add(mul(get('rowB'), i32(i)), mul(get('C4'), i32(j)))),
  };
}

/**
 * transform2d's loads of an a × a input from the α² planes (`plane` bytes apart) at `from`, element
 * (i, j) in plane i·a + j: the pointer q0 walks the columns (one plane each), q down a column (a planes).
 * @param {Func} f @param {1 | 4} V @param {number} a @param {Wat} from @returns {(i: number, j: number) => Wat}
 */
function planeLoads(f, V, a, from) {
  f.locals32('q', 'q0', 'aPlane');
  return (i, j) => {
    const s = [];
    if (i === 0) s.push(j === 0 ? [set('q0', from), set('aPlane', mul(get('plane'), i32(a)))].join('\n') : set('q0', add(get('q0'), get('plane'))));
    s.push(set('q', i === 0 ? get('q0') : add(get('q'), get('aPlane'))));
    s.push(set(`d${i}_${j}`, ldV(V, get('q'))));
    return s.join('\n');
  };
}

/** Stores the α² expressions to consecutive planes at `from`. @param {Func} f @param {1 | 4} V @param {Wat[]} outs @param {Wat} from */
function storePlanes(f, V, outs, from) {
  f.locals32('q');
  const s = [set('q', from)];
  outs.forEach((e, k) => {
    s.push(stV(V, get('q'), e));
    if (k < outs.length - 1) s.push(set('q', add(get('q'), get('plane'))));
  });
  return s.join('\n');
}

/**
 * winogradInput(V, x, M, H, W, C, pad, OH, OW, m, r): V (α², P, C) = Bᵀ d B of every tile's patch d of x
 * (0 outside the image: the loads of a tile that crosses the edge are guarded, the others not).
 * @param {Emitter} _g
 */
export function winogradInput(_g) {
  const f = new Func('winogradInput', [['V', 'i32'], ['x', 'i32'], ...INPUT_PARAMS]);
  return f.emit(byVariant((m, r) => {
    const a = m + r - 1;
    const { BT } = matrices(m, r);
    const ps = patchSetup(f, 'x', a);
    /** @param {boolean} guarded */
    const path = (guarded) => lanes(`wi${m}${r}${guarded ? 'g' : 'f'}`, get('C4'), (V) => {
      const t = transform2d(f, BT, (i, j) =>
        set(`d${i}_${j}`, guarded ? `(if (result v128) ${inside(i, j)} (then ${ldV(V, ps.at(i, j))}) (else ${ZERO}))` : ldV(V, ps.at(i, j))));
      return [set('pr', add(get('base'), get('cb'))), t.stmts, storePlanes(f, V, t.outs, add(add(get('V'), get('pOff')), get('cb')))].join('\n');
    });
    return [ps.pre, tileLoops(f, `wi${m}${r}`, m, get('C4'), [ps.tile, `(if ${get('full')} (then\n${path(false)}\n) (else\n${path(true)}\n))`].join('\n'))].join('\n');
  }));
}

/**
 * winogradInputGrad(dx, dV, M, H, W, C, pad, OH, OW, m, r): dx zeroed, then each tile's B dV Bᵀ added where
 * its patch is inside the image, tiles ascending.
 * @param {Emitter} _g
 */
export function winogradInputGrad(_g) {
  const f = new Func('winogradInputGrad', [['dx', 'i32'], ['dV', 'i32'], ...INPUT_PARAMS]);
  f.locals32('e', 'len');
  const zero = [
    set('len', shl(mul(mul(mul(get('M'), get('H')), get('W')), get('C')), 2)), set('e', get('dx')), set('len', add(get('dx'), get('len'))),
    whileLoop('wig_z4', `(i32.le_u ${add(get('e'), i32(16))} ${get('len')})`, store(get('e'), ZERO) + '\n' + set('e', add(get('e'), i32(16)))),
    whileLoop('wig_z1', `(i32.lt_u ${get('e')} ${get('len')})`, `(i32.store ${get('e')} ${i32(0)})\n` + set('e', add(get('e'), i32(4)))),
  ].join('\n');
  return f.emit(zero + '\n' + byVariant((m, r) => {
    const a = m + r - 1;
    const B = transpose(matrices(m, r).BT);
    const ps = patchSetup(f, 'dx', a);
    /** @param {boolean} guarded */
    const path = (guarded) => lanes(`wig${m}${r}${guarded ? 'g' : 'f'}`, get('C4'), (V) => {
      const t = transform2d(f, B, planeLoads(f, V, a, add(add(get('dV'), get('pOff')), get('cb'))));
      const s = [t.stmts, set('pr', add(get('base'), get('cb')))];
      for (let i = 0; i < a; i++) for (let j = 0; j < a; j++) {
        const addr = ps.at(i, j);
        const st = stV(V, addr, `(f32x4.add ${ldV(V, addr)} ${t.outs[i * a + j]})`);
        s.push(guarded ? `(if ${inside(i, j)} (then ${st}))` : st);
      }
      return s.join('\n');
    });
    return [ps.pre, tileLoops(f, `wig${m}${r}`, m, get('C4'), [ps.tile, `(if ${get('full')} (then\n${path(false)}\n) (else\n${path(true)}\n))`].join('\n'))].join('\n');
  }));
}

/**
 * The output-side tile setup: bytes of the output's rows and images, `base` the byte of the tile's first
 * output pixel, and the flags of its m rows and columns inside the OH × OW image.
 * @param {Func} f @param {string} image @param {number} m
 */
function outputSetup(f, image, m) {
  f.locals32('F4', 'rowB', 'imgB', 'base', 'pr');
  return {
    pre: [set('F4', shl(get('F'), 2)), set('rowB', mul(get('OW'), get('F4'))), set('imgB', mul(get('OH'), get('rowB')))].join('\n'),
    tile: [
      set('base', add(add(add(get(image), mul(get('n'), get('imgB'))), mul(get('oy0'), get('rowB'))), mul(get('ox0'), get('F4')))),
      insideFlags(f, m, get('oy0'), get('ox0'), get('OH'), get('OW')),
    ].join('\n'),
    /** @param {number} i @param {number} j */
    at: (i, j) => add(get('pr'), add(mul(get('rowB'), i32(i)), mul(get('F4'), i32(j)))),
  };
}

/**
 * winogradOutput(out, Mt, bias, hasBias, relu, M, OH, OW, F, m, r): out = Aᵀ M A (+ bias; ReLU as gemmABt's:
 * v128.andnot of s < 0) for each tile's outputs inside the image.
 * @param {Emitter} _g
 */
export function winogradOutput(_g) {
  const f = new Func('winogradOutput', [['out', 'i32'], ['Mt', 'i32'], ['bias', 'i32'], ['hasBias', 'i32'], ['relu', 'i32'], ...OUTPUT_PARAMS]);
  f.localsV('s', 'bv');
  return f.emit(byVariant((m, r) => {
    const a = m + r - 1;
    const { AT } = matrices(m, r);
    const os = outputSetup(f, 'out', m);
    /** @param {boolean} guarded */
    const path = (guarded) => lanes(`wo${m}${r}${guarded ? 'g' : 'f'}`, get('F4'), (V) => {
      const t = transform2d(f, AT, planeLoads(f, V, a, add(add(get('Mt'), get('pOff')), get('cb'))));
      const s = [t.stmts, set('pr', add(get('base'), get('cb'))),
        `(if ${get('hasBias')} (then ${set('bv', ldV(V, add(get('bias'), get('cb'))))}))`];
      for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) {
        const st = [
          set('s', t.outs[i * m + j]),
          `(if ${get('hasBias')} (then ${set('s', `(f32x4.add ${get('s')} ${get('bv')})`)}))`,
          `(if ${get('relu')} (then ${set('s', `(v128.andnot ${get('s')} (f32x4.lt ${get('s')} ${ZERO}))`)}))`,
          stV(V, os.at(i, j), get('s')),
        ].join('\n');
        s.push(guarded ? `(if ${inside(i, j)} (then\n${st}))` : st);
      }
      return s.join('\n');
    });
    return [os.pre, tileLoops(f, `wo${m}${r}`, m, get('F4'), [os.tile, `(if ${get('full')} (then\n${path(false)}\n) (else\n${path(true)}\n))`].join('\n'))].join('\n');
  }));
}

/**
 * winogradOutputGrad(dMt, dout, M, OH, OW, F, m, r): dM = A dY Aᵀ of each tile's m × m output gradient (0 outside the image).
 * @param {Emitter} _g
 */
export function winogradOutputGrad(_g) {
  const f = new Func('winogradOutputGrad', [['dMt', 'i32'], ['dout', 'i32'], ...OUTPUT_PARAMS]);
  return f.emit(byVariant((m, r) => {
    const A = transpose(matrices(m, r).AT);
    const os = outputSetup(f, 'dout', m);
    /** @param {boolean} guarded */
    const path = (guarded) => lanes(`wog${m}${r}${guarded ? 'g' : 'f'}`, get('F4'), (V) => {
      const t = transform2d(f, A, (i, j) =>
        set(`d${i}_${j}`, guarded ? `(if (result v128) ${inside(i, j)} (then ${ldV(V, os.at(i, j))}) (else ${ZERO}))` : ldV(V, os.at(i, j))));
      return [set('pr', add(get('base'), get('cb'))), t.stmts, storePlanes(f, V, t.outs, add(add(get('dMt'), get('pOff')), get('cb')))].join('\n');
    });
    return [os.pre, tileLoops(f, `wog${m}${r}`, m, get('F4'), [os.tile, `(if ${get('full')} (then\n${path(false)}\n) (else\n${path(true)}\n))`].join('\n'))].join('\n');
  }));
}

/**
 * The filter kernels' loops: per filter f, channel lanes; pw = the filter's first tap at channel byte cb
 * (its r² taps C·4 bytes apart), `plane` = F·C·4 bytes between the ξ planes of U, pu = U's (ξ = 0, f, cb).
 * @param {Func} f @param {string} label @param {number} r @param {string} U @param {string} w @param {(V: 1 | 4) => Wat} body
 */
function filterLoops(f, label, r, U, w, body) {
  f.locals32('C4', 'plane', 'fi', 'pw', 'pu', 'cb');
  return [
    set('C4', shl(get('C'), 2)), set('plane', mul(get('F'), get('C4'))), set('fi', i32(0)),
    countUp(`${label}_f`, 'fi', get('F'), [
      lanes(label, get('C4'), (V) => [
        set('pw', add(add(get(w), mul(get('fi'), mul(get('C4'), i32(r * r)))), get('cb'))),
        set('pu', add(add(get(U), mul(get('fi'), get('C4'))), get('cb'))),
        body(V),
      ].join('\n')),
    ]),
  ].join('\n');
}

/**
 * winogradFilter(U, w, F, C, m, r, cf): U (α², F, C) = G w Gᵀ, or with cf ≠ 0 the same numbers as (α², C, F):
 * then a vector's four channels go to four places F·4 bytes apart (lane stores), from pt = U + c·F·4 + f·4.
 * @param {Emitter} _g
 */
export function winogradFilter(_g) {
  const f = new Func('winogradFilter', [['U', 'i32'], ['w', 'i32'], ['F', 'i32'], ['C', 'i32'], ['m', 'i32'], ['r', 'i32'], ['cf', 'i32']]);
  f.locals32('pt', 'F4');
  f.localsV('s');
  return f.emit(byVariant((m, r) => filterLoops(f, `wf${m}${r}`, r, 'U', 'w', (V) => {
    const t = transform2d(f, matrices(m, r).G, (i, j) => set(`d${i}_${j}`, ldV(V, add(get('pw'), mul(get('C4'), i32(r * i + j))))));
    const lanesOut = [set('F4', shl(get('F'), 2)), set('pt', add(add(get('U'), mul(get('cb'), get('F'))), shl(get('fi'), 2)))];
    t.outs.forEach((e, k) => {
      lanesOut.push(set('s', e));
      for (let l = 0; l < V; l++) lanesOut.push(`(v128.store32_lane ${l} ${l === 0 ? get('pt') : add(get('pt'), mul(get('F4'), i32(l)))} ${get('s')})`);
      if (k < t.outs.length - 1) lanesOut.push(set('pt', add(get('pt'), get('plane'))));
    });
    return [t.stmts, `(if ${get('cf')} (then\n${lanesOut.join('\n')}\n) (else\n${storePlanes(f, V, t.outs, get('pu'))}\n))`].join('\n');
  })));
}

/** winogradFilterGrad(dw, dU, F, C, m, r): dw (F, r, r, C) = Gᵀ dU G (written). @param {Emitter} _g */
export function winogradFilterGrad(_g) {
  const f = new Func('winogradFilterGrad', [['dw', 'i32'], ['dU', 'i32'], ['F', 'i32'], ['C', 'i32'], ['m', 'i32'], ['r', 'i32']]);
  return f.emit(byVariant((m, r) => filterLoops(f, `wfg${m}${r}`, r, 'dU', 'dw', (V) => {
    const t = transform2d(f, transpose(matrices(m, r).G), planeLoads(f, V, m + r - 1, get('pu')));
    return [t.stmts, ...t.outs.map((e, q) => stV(V, add(get('pw'), mul(get('C4'), i32(q))), e))].join('\n');
  })));
}

/** Every kernel of the family, in the module's order. @param {Emitter} g */
export function winogradKernels(g) {
  return [winogradFilter(g), winogradFilterGrad(g), winogradInput(g), winogradInputGrad(g), winogradOutput(g), winogradOutputGrad(g)].join('\n');
}
