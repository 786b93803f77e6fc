// @ts-check
/**
 * The GEMM family: C = A·B and C = Aᵀ·B (rows of B scaled by elements of A), C = A·Bᵀ + bias (dot products).
 * (See generate.mjs for the conventions and the determinism every kernel keeps.)
 */
import { get, set, i32, add, sub, mul, shl, ZERO, off, load, store, load1, store1, shuffle, whileLoop, countUp, Func } from './builder.mjs';

/** @typedef {import('./builder.mjs').Wat} Wat */
/** @typedef {import('./builder.mjs').Emitter} Emitter */

// ── GEMM: C = A·B and C = Aᵀ·B (rows of B, scaled by elements of A, accumulated along k) ───────────

/**
 * gemmAB (C (M,N) = A (M,K) · B (K,N)) and gemmAtB (C (M,N) = A (K,M)ᵀ · B (K,N)). Register tiles of R
 * rows × V vectors of 4 columns, each accumulator a column vector: per k, V loads of B's row k, R
 * broadcasts of A's elements, R·V multiply-adds. The bulk is 4 × 8 tiles (8 accumulators: with more,
 * V8 spills), visited panel by panel (the columns whose B rows fill 24 KiB, half of L1) so that B
 * stays in L1 while all row blocks pass; gemmAtB also splits k into chunks of 32 (its four A values
 * per k sit 4·M bytes apart, and for M a multiple of 256 those rows share four L1 sets). Then the last
 * N mod 8 columns as 4 × 4 and 4 × 1 (lane 0) tiles, and the last M mod 4 rows as 1 × 32, 1 × 4, 1 × 1.
 * gemmAtB addresses its four A values by immediate offsets (A[k, i..i+3] are adjacent); gemmAB's are K
 * apart. The first k of a tile sets the accumulators to the products instead of adding them to zero:
 * the same sums, one instruction fewer per element (8 % faster at K = 8 without FMA).
 * gemmAtBAcc is gemmAtB carrying on from the sums already in C (every tile loads C before its first k,
 * as gemmAtB's later k chunks do): gemmAtB over K₁ rows then gemmAtBAcc over the next K₂ give gemmAtB
 * over K₁ + K₂ bit for bit (what lets the Winograd weight gradient walk a chunk in cache-sized parts).
 * @param {Emitter} g @param {'gemmAB' | 'gemmAtB' | 'gemmAtBAcc'} name
 */
export function gemmRowsTimesB(g, name) {
  const acc0 = name === 'gemmAtBAcc'; // C holds the sums of earlier rows of k
  const at = name === 'gemmAtB' || acc0;
  const KC = at ? 32 : 0; // rows of k per chunk (0: no chunks)
  const PANEL = 24576; // bytes of B per column panel
  const f = new Func(name, [['C', 'i32'], ['A', 'i32'], ['B', 'i32'], ['M', 'i32'], ['N', 'i32'], ['K', 'i32']]);
  f.locals32('i', 'j', 'j0', 'jEnd', 'P', 'N8', 'k0', 'kLen', 'kN4', 'pa', 'pb', 'pc', 'pe', 'paRow', 'pbJ', 'pcJ', 'pbEnd', 'K4', 'M4', 'N4');
  const MR = 4; // rows per tile: 4 × 8 columns = 8 accumulators (with more, V8 spills)
  /** @param {number} r */
  const kr = (r) => f.local(`K${4 * r}`, 'i32');
  f.localsV('a');
  /**
   * A tile of R rows × V vectors (V = 0: one column, in lane 0) at (i, j), over all of K, or, when
   * `chunk`, over k in [k0, k0 + kLen) with the addresses the panel loops keep (paRow, pbJ, pcJ, kN4).
   * The first k initialises the accumulators with the products (0 + a·b = a·b); a later chunk carries
   * on from the float32 sums the earlier ones stored, so chunking changes no sum.
   * @param {number} R @param {number} V @param {boolean} chunk
   */
  const tile = (R, V, chunk) => {
    const cols = Math.max(V, 1);
    /** @param {number} r @param {number} c */
    const acc = (r, c) => f.local(`c${r}_${c}`, 'v128');
    /** @param {number} c */
    const bv = (c) => f.local(`b${c}`, 'v128');
    /** @param {number} r @returns {[Wat, number]} */
    const aAddr = (r) => (at ? [get('pa'), 4 * r] : [r === 0 ? get('pa') : add(get('pa'), get(kr(r))), 0]);
    /** @param {number} c */
    const bLoad = (c) => (V === 0 ? load1(get('pb')) : load(get('pb'), 16 * c));
    /** Visits the tile's C vectors row by row, pc pointing at the row. @param {(r: number, c: number, o: number) => Wat} fn */
    const overC = (fn) => {
      const s = [set('pc', chunk ? get('pcJ') : add(get('C'), shl(add(mul(get('i'), get('N')), get('j')), 2)))];
      for (let r = 0; r < R; r++) {
        for (let c = 0; c < cols; c++) s.push(fn(r, c, V === 0 ? 0 : 16 * c));
        if (r < R - 1) s.push(set('pc', add(get('pc'), get('N4'))));
      }
      return s.join('\n');
    };
    /** One k: acc ← acc + a·b, or acc ← a·b when `first`. @param {boolean} first */
    const step = (first) => {
      const k = [];
      if (R > 1) for (let c = 0; c < cols; c++) k.push(set(bv(c), bLoad(c)));
      for (let r = 0; r < R; r++) {
        const [addr, o] = aAddr(r);
        k.push(set('a', `(v128.load32_splat${off(o)} ${addr})`));
        for (let c = 0; c < cols; c++) {
          const b = R > 1 ? get(bv(c)) : bLoad(c);
          k.push(set(acc(r, c), first ? `(f32x4.mul ${get('a')} ${b})` : g.madd(get(acc(r, c)), get('a'), b)));
        }
      }
      k.push(set('pa', add(get('pa'), at ? get('M4') : i32(4))));
      k.push(set('pb', add(get('pb'), get('N4'))));
      return k.join('\n');
    };
    const zero = [];
    for (let r = 0; r < R; r++) for (let c = 0; c < cols; c++) zero.push(set(acc(r, c), ZERO));
    const out = [];
    if (chunk) {
      out.push(set('pa', get('paRow')), set('pb', get('pbJ')), set('pe', add(get('pbJ'), get('kN4'))));
    } else {
      out.push(set('pa', at ? add(get('A'), shl(get('i'), 2)) : add(get('A'), mul(get('i'), get('K4')))));
      out.push(set('pb', add(get('B'), shl(get('j'), 2))));
      out.push(set('pe', add(get('pb'), mul(get('K'), get('N4')))));
    }
    const fresh = `(if (i32.lt_u ${get('pb')} ${get('pe')}) (then\n${step(true)}\n) (else\n${zero.join('\n')}))`;
    const carry = overC((r, c, o) => set(acc(r, c), V === 0 ? load1(get('pc')) : load(get('pc'), o)));
    out.push(acc0 ? carry : chunk ? `(if ${get('k0')} (then\n${carry}\n) (else\n${fresh}))` : fresh);
    out.push(whileLoop(`${name}_k${R}_${V}${chunk ? 'c' : ''}`, `(i32.lt_u ${get('pb')} ${get('pe')})`, step(false)));
    out.push(overC((r, c, o) => (V === 0 ? store1(get('pc'), get(acc(r, c))) : store(get('pc'), get(acc(r, c)), o))));
    return out.join('\n');
  };
  /** Columns [j, N) of a row block: stages of [vectors per tile (0: one column in lane 0), repeat?]. @param {number} R @param {[V: number, repeat: boolean][]} stages */
  const colLoop = (R, stages) => {
    const out = [];
    for (const [V, repeat] of stages) {
      const w = V === 0 ? 1 : 4 * V;
      const cond = `(i32.le_s ${add(get('j'), i32(w))} ${get('N')})`;
      const body = tile(R, V, false) + '\n' + set('j', add(get('j'), i32(w)));
      out.push(repeat ? whileLoop(`${name}_j${R}_${V}`, cond, body) : `(if ${cond} (then ${body}))`);
    }
    return out.join('\n');
  };
  return f.emit([
    set('K4', shl(get('K'), 2)), ...Array.from({ length: MR - 2 }, (_, q) => set(kr(q + 2), mul(get('K'), i32(4 * (q + 2))))),
    set('M4', shl(get('M'), 2)), set('N4', shl(get('N'), 2)),
    set('N8', `(i32.and ${get('N')} ${i32(~7)})`),
    // The 4 × 8 tiles: k in chunks of KC (so that the strip of A a row block reads stays in L1), then
    // column panels of P columns whose kLen rows of B stay in L1 while all row blocks pass over them.
    set('k0', i32(0)),
    `(loop $${name}_chunk`,
    set('kLen', KC ? `(select ${i32(KC)} ${sub(get('K'), get('k0'))} (i32.lt_s ${i32(KC)} ${sub(get('K'), get('k0'))}))` : get('K')),
    set('P', `(if (result i32) ${get('kLen')} (then (i32.and (i32.div_u ${i32(PANEL)} ${shl(get('kLen'), 2)}) ${i32(~7)})) (else ${get('N8')}))`),
    `(if (i32.lt_s ${get('P')} ${i32(8)}) (then ${set('P', i32(8))}))`,
    set('j0', i32(0)),
    whileLoop(`${name}_panel`, `(i32.lt_s ${get('j0')} ${get('N8')})`, [
      set('jEnd', add(get('j0'), get('P'))),
      `(if (i32.gt_s ${get('jEnd')} ${get('N8')}) (then ${set('jEnd', get('N8'))}))`,
      set('i', i32(0)),
      set('kN4', mul(get('kLen'), get('N4'))),
      set('pbEnd', add(add(get('B'), mul(get('k0'), get('N4'))), shl(get('jEnd'), 2))),
      whileLoop(`${name}_pi`, `(i32.le_s ${add(get('i'), i32(MR))} ${get('M')})`, [
        set('paRow', at ? add(add(get('A'), mul(get('k0'), get('M4'))), shl(get('i'), 2)) : add(add(get('A'), mul(get('i'), get('K4'))), shl(get('k0'), 2))),
        set('pbJ', add(add(get('B'), mul(get('k0'), get('N4'))), shl(get('j0'), 2))),
        set('pcJ', add(get('C'), shl(add(mul(get('i'), get('N')), get('j0')), 2))),
        whileLoop(`${name}_pj`, `(i32.lt_u ${get('pbJ')} ${get('pbEnd')})`,
          tile(MR, 2, true) + '\n' + set('pbJ', add(get('pbJ'), i32(32))) + '\n' + set('pcJ', add(get('pcJ'), i32(32)))),
        set('i', add(get('i'), i32(MR))),
      ].join('\n')),
      set('j0', get('jEnd')),
    ].join('\n')),
    set('k0', add(get('k0'), get('kLen'))),
    `(br_if $${name}_chunk (i32.lt_s ${get('k0')} ${get('K')})))`,
    // The last N mod 8 columns of the row blocks, then the last M mod 4 rows (all of K at once).
    set('i', i32(0)),
    whileLoop(`${name}_i4`, `(i32.le_s ${add(get('i'), i32(MR))} ${get('M')})`,
      set('j', get('N8')) + '\n' + colLoop(MR, [[1, false], [0, true]]) + '\n' + set('i', add(get('i'), i32(MR)))),
    countUp(`${name}_i1`, 'i', get('M'), [set('j', i32(0)), colLoop(1, [[8, true], [1, true], [0, true]])]),
  ].join('\n'));
}

// ── GEMM: C = A·Bᵀ + bias (dot products of rows) ─────────────────────────────────────────────────────

/**
 * gemmABt(C, A, B, bias, hasBias, relu, M, N, K): C (M,N) = A (M,K) · B (N,K)ᵀ (+ bias) (then ReLU when
 * relu ≠ 0: the fused forward of a hidden layer). Both operands run along k, so each element gets one
 * accumulator vector of four partial sums along k (lane l: k ≡ l mod 4). Tiles of 2 rows × 4 columns
 * (8 accumulators; per 4 k: 2 + 4 loads, 8 multiply-adds), columns outermost so that a block's four
 * rows of B stay in L1 while every row of A streams past; then the last row, then the last N mod 4
 * columns one at a time (rows four at a time, then one). The k loop walks one pointer per operand row
 * and is not unrolled: unrolled, V8 schedules all the loads first and runs out of registers.
 * A 4-column tile reduces its four accumulators per row with a transpose-add straight into a vector of
 * C; a single column reduces with two shuffles, in the same order.
 * @param {Emitter} g
 */
export function gemmABt(g) {
  const f = new Func('gemmABt', [['C', 'i32'], ['A', 'i32'], ['B', 'i32'], ['bias', 'i32'], ['hasBias', 'i32'], ['relu', 'i32'],
    ['M', 'i32'], ['N', 'i32'], ['K', 'i32']]);
  f.locals32('i', 'j', 'end', 'K4', 'N4', 'Kv', 'Kt', 'pc');
  f.localsV('a', 'b', 's');
  /** @param {number} r */
  const pa = (r) => f.local(`pa${r}`, 'i32');
  /** @param {number} c */
  const pb = (c) => f.local(`pb${c}`, 'i32');
  /** @param {number} r @param {number} c */
  const acc = (r, c) => f.local(`c${r}_${c}`, 'v128');
  /** @param {number} r */
  const av = (r) => f.local(`a${r}`, 'v128');
  /** The last K mod 4 floats at addr (1–3 of them), zero-padded to a vector. @param {Wat} addr */
  const tailLoad = (addr) =>
    `(if (result v128) (i32.eq ${get('Kt')} ${i32(1)}) (then ${load1(addr)}) (else (if (result v128) (i32.eq ${get('Kt')} ${i32(2)}) ` +
    `(then (v128.load64_zero ${addr})) (else (v128.load32_lane offset=8 2 ${addr} (v128.load64_zero ${addr}))))))`;
  /** @param {Wat} v @param {Wat} bias */
  const epilogue = (v, bias) => [
    set('s', v),
    `(if ${get('hasBias')} (then ${set('s', `(f32x4.add ${get('s')} ${bias})`)}))`,
    `(if ${get('relu')} (then ${set('s', `(v128.andnot ${get('s')} (f32x4.lt ${get('s')} ${ZERO}))`)}))`,
  ].join('\n');
  /** R rows × Cn columns at (i, j). @param {number} R @param {number} Cn */
  const tile = (R, Cn) => {
    const out = [];
    for (let r = 0; r < R; r++) for (let c = 0; c < Cn; c++) out.push(set(acc(r, c), ZERO));
    for (let r = 0; r < R; r++) out.push(set(pa(r), r === 0 ? add(get('A'), mul(get('i'), get('K4'))) : add(get(pa(r - 1)), get('K4'))));
    for (let c = 0; c < Cn; c++) out.push(set(pb(c), c === 0 ? add(get('B'), mul(get('j'), get('K4'))) : add(get(pb(c - 1)), get('K4'))));
    /** One vector step along k with the operand loads given (the wider operand loaded one at a time). @param {(r: number) => Wat} ldA @param {(c: number) => Wat} ldB */
    const step = (ldA, ldB) => {
      const s = [];
      const wide = Cn >= R; // the narrower operand's vectors loaded once, the wider's one at a time
      const few = wide ? R : Cn, many = wide ? Cn : R, ldFew = wide ? ldA : ldB, ldMany = wide ? ldB : ldA;
      for (let q = 0; q < few; q++) s.push(set(av(q), ldFew(q)));
      for (let m = 0; m < many; m++) {
        s.push(set('b', ldMany(m)));
        for (let q = 0; q < few; q++) {
          const [r, c] = wide ? [q, m] : [m, q];
          s.push(set(acc(r, c), g.madd(get(acc(r, c)), get(av(q)), get('b'))));
        }
      }
      return s.join('\n');
    };
    const ptrs = [...Array.from({ length: R }, (_, r) => pa(r)), ...Array.from({ length: Cn }, (_, c) => pb(c))];
    out.push(set('end', add(get(pb(0)), get('Kv')))); // B's first row: end of its whole vectors
    out.push(whileLoop(`abt_k${R}_${Cn}`, `(i32.lt_u ${get(pb(0))} ${get('end')})`,
      step((r) => load(get(pa(r))), (c) => load(get(pb(c)))) + '\n' + ptrs.map((p) => set(p, add(get(p), i32(16)))).join('\n')));
    out.push(`(if ${get('Kt')} (then\n${step((r) => tailLoad(get(pa(r))), (c) => tailLoad(get(pb(c))))}))`);
    // Reduce each accumulator as (l0 + l2) + (l1 + l3); then bias, ReLU; store.
    out.push(set('pc', add(get('C'), shl(add(mul(get('i'), get('N')), get('j')), 2))));
    for (let r = 0; r < R; r++) {
      if (Cn === 4) {
        /** @param {number} q */
        const c = (q) => get(acc(r, q));
        /** @param {Wat} x @param {Wat} y */
        const pairs = (x, y) => `(f32x4.add ${shuffle(x, y, [0, 4, 1, 5])} ${shuffle(x, y, [2, 6, 3, 7])})`;
        out.push(set(acc(r, 0), pairs(c(0), c(1)))); // [c0: l0+l2, c1: l0+l2, c0: l1+l3, c1: l1+l3]
        out.push(set(acc(r, 2), pairs(c(2), c(3))));
        out.push(epilogue(`(f32x4.add ${shuffle(c(0), c(2), [0, 1, 4, 5])} ${shuffle(c(0), c(2), [2, 3, 6, 7])})`,
          load(add(get('bias'), shl(get('j'), 2)))));
        out.push(store(get('pc'), get('s')));
      } else {
        for (let q = 0; q < Cn; q++) {
          const c0 = get(acc(r, q));
          out.push(set(acc(r, q), `(f32x4.add ${c0} ${shuffle(c0, c0, [2, 3, 0, 1])})`)); // [l0+l2, l1+l3, …]
          out.push(epilogue(`(f32x4.add ${c0} ${shuffle(c0, c0, [1, 0, 3, 2])})`, load1(add(get('bias'), shl(get('j'), 2)), 4 * q)));
          out.push(store1(get('pc'), get('s'), 4 * q));
        }
      }
      if (r < R - 1) out.push(set('pc', add(get('pc'), get('N4'))));
    }
    return out.join('\n');
  };
  /** @param {[R: number, Cn: number][]} stages */
  const rowLoop = (stages) => {
    const out = [set('i', i32(0))];
    for (const [R, Cn] of stages) {
      out.push(whileLoop(`abt_i${R}_${Cn}`, `(i32.le_s ${add(get('i'), i32(R))} ${get('M')})`,
        tile(R, Cn) + '\n' + set('i', add(get('i'), i32(R)))));
    }
    return out.join('\n');
  };
  return f.emit([
    set('K4', shl(get('K'), 2)), set('N4', shl(get('N'), 2)),
    set('Kv', shl(`(i32.and ${get('K')} ${i32(~3)})`, 2)), // bytes of the whole vectors along k
    set('Kt', `(i32.and ${get('K')} ${i32(3)})`),
    set('j', i32(0)),
    whileLoop('abt_j4', `(i32.le_s ${add(get('j'), i32(4))} ${get('N')})`,
      rowLoop([[2, 4], [1, 4]]) + '\n' + set('j', add(get('j'), i32(4)))),
    countUp('abt_j1', 'j', get('N'), [rowLoop([[4, 1], [1, 1]])]),
  ].join('\n'));
}

// ── Batches of GEMMs (Winograd's α² products) ───────────────────────────────────────────────────────

/**
 * gemmABBatch(C, A, B, M, N, K, count) and gemmAtBBatch(C, A, B, M, N, K, count, acc): `count` products
 * of matrices laid one after another (C_b at C + b·M·N floats, A_b at A + b·M·K, B_b at B + b·K·N),
 * each by gemmAB, or by gemmAtB (gemmAtBAcc when acc ≠ 0): the same bits as one call per product, in
 * one call from JavaScript.
 * @param {'gemmABBatch' | 'gemmAtBBatch'} name
 */
export function gemmBatch(name) {
  const at = name === 'gemmAtBBatch';
  /** @type {import('./builder.mjs').Params} */
  const params = ['C', 'A', 'B', 'M', 'N', 'K', 'count', ...(at ? ['acc'] : [])].map((n) => [n, 'i32']);
  const f = new Func(name, params);
  f.locals32('b');
  const args = `${get('C')} ${get('A')} ${get('B')} ${get('M')} ${get('N')} ${get('K')}`;
  const call = at ? `(if ${get('acc')} (then (call $gemmAtBAcc ${args})) (else (call $gemmAtB ${args})))` : `(call $gemmAB ${args})`;
  return f.emit([
    set('b', i32(0)),
    countUp(name, 'b', get('count'), [
      call,
      set('C', add(get('C'), shl(mul(get('M'), get('N')), 2))),
      set('A', add(get('A'), shl(mul(get('M'), get('K')), 2))),
      set('B', add(get('B'), shl(mul(get('K'), get('N')), 2))),
    ]),
  ].join('\n'));
}
