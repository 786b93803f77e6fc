/**
 * The WebAssembly SIMD kernels, as a generator of WebAssembly text (WAT). `npm run build:wasm`
 * (scripts/build-wasm.mjs) runs it twice and assembles the text with wabt (the npm package, offline):
 *
 *   dist/wasm/kernels.wasm           plain SIMD:   a·b + c as f32x4.mul then f32x4.add (two roundings)
 *   dist/wasm/kernels-relaxed.wasm   relaxed SIMD: a·b + c as f32x4.relaxed_madd (one FMA on x64)
 *
 * ── Why generated WAT rather than AssemblyScript ────────────────────────────────────────────────────
 * Measured first, on the 2-core AVX-512 Xeon of this project (Node 20.20, V8 11.3), single thread,
 * median: the same 4 × 8-tile gemmAB (M=128, N=256, K=128) written both ways ran at
 *     AssemblyScript 0.28 (asc -O3): 42 GFLOP/s plain, 55 relaxed
 *     WAT assembled by wabt 1.0.39:  41 GFLOP/s plain, 55 relaxed
 * so speed did not decide it (both compile to the same V8 code); three other things did:
 *  - Determinism by construction. Every tile shape (4×8, 1×32, the 4-wide and single-column
 *    remainders…) is emitted by the same few functions below, so an output element is computed by the
 *    same instruction sequence whichever tile it falls in. In AssemblyScript each remainder tile would be
 *    a hand-written copy of the main loop, to be kept in step with it by hand.
 *  - Nothing between the source and the instructions: no optimiser, no runtime, no static data (a data
 *    segment in a module that imports the training memory would overwrite it at instantiation). What is
 *    written here is what V8 compiles, which made tuning against V8's register allocator practical.
 *  - Weight and layout: wabt is 5.5 MB with no dependencies, assemblyscript + binaryen ~100 MB; and
 *    AssemblyScript sources under src/ would be type-checked by tsc (tsconfig includes src/**\/*.ts).
 * The final kernels' numbers are in bench/kernels.ts's output (npm run bench:kernels).
 * The generated text (dist/wasm/*.wat) is written next to the binaries, for reading.
 *
 * ── Conventions ─────────────────────────────────────────────────────────────────────────────────────
 * Every pointer argument is a byte offset into the imported shared memory (a typed array's byteOffset).
 * Matrices are row-major, float32. Loads and stores need no alignment (v128.load is unaligned-safe);
 * nothing is ever read or written outside the elements the kernel's shapes name, so a view that ends at
 * the end of the memory is fine, and neighbours of an output are never touched.
 *
 * ── Determinism (the contract of src/kernels/kernels.ts) ────────────────────────────────────────────
 * An output element's value depends only on its own row and column data and on K, never on M, N, the
 * tiling, or which rows share a call:
 *  - gemmAB, gemmAtB: one accumulator per element, k ascending: acc = a₀·b₀, then acc ← acc + aₖ·bₖ
 *    (vector lanes are columns). Remainder rows and columns run the same f32x4 instructions (a single
 *    column uses lane 0 of a vector), so the rounding (fused or not) is the same everywhere; gemmAtB's
 *    chunks of k store and reload the float32 accumulator, which changes nothing.
 *  - gemmABt: both operands are contiguous along k, so the kernel vectorises along k: lane l of an
 *    element's accumulator sums k ≡ l (mod 4) in ascending order (the last, partial vector padded with
 *    zeros), then the lanes are added as (l0 + l2) + (l1 + l3), then the bias. That order is a function
 *    of K alone; the 4-column transpose-add and the single-column reduction produce it identically.
 *  - sparseForward, sparseWeightGrad: one accumulator per element, over the nonzero inputs only, in
 *    ascending input index (forward) or row (weight gradient), from 0, as listed in the scratch; every
 *    block shape (8 vectors, 1 vector, lane 0) runs the same madd.
 *  - im2col copies; col2im and maxPoolBackward add into a zeroed dx in the TypeScript order (ascending
 *    patch row / index), so their bits are the TypeScript kernels'; max pooling compares.
 *  - Per-channel kernels (batch norm, scaleShift) vectorise across channels (scaleShift rows inner,
 *    batch norm rows outer with its per-channel state in a scratch): blocks of vectors, then single
 *    channels in lane 0 of the same instructions, so a channel's bits do not depend on C or its block.
 *    Batch norm's sums are float64, one per channel, ascending row (the TypeScript sums bit for bit);
 *    the elementwise kernels (multiply, addTo, adamStep, emaUpdate) use elementwise().
 * relaxed_madd may be fused or not by the spec; V8 on x64 with FMA3 fuses it in both of its tiers
 * (Liftoff-only and TurboFan-only runs give the same bits), so the relaxed build is deterministic on a
 * given machine; a machine without FMA3 would give other (still self-consistent) low bits.
 */

/** expf's constants (see Generator.expInline). */
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

/** @param {{ relaxed: boolean }} options */
export function generateWat({ relaxed }) {
  return new Generator(relaxed).module();
}

// ── A tiny WAT builder ────────────────────────────────────────────────────────────────────────────────

const get = (n) => `(local.get $${n})`;
const set = (n, e) => `(local.set $${n} ${e})`;
const i32 = (v) => `(i32.const ${v})`;
const add = (a, b) => `(i32.add ${a} ${b})`;
const sub = (a, b) => `(i32.sub ${a} ${b})`;
const mul = (a, b) => `(i32.mul ${a} ${b})`;
const shl = (a, s) => `(i32.shl ${a} ${i32(s)})`;
const f32 = (v) => `(f32.const ${v})`;
const f32x4 = (v) => `(v128.const f32x4 ${v} ${v} ${v} ${v})`;
const ZERO = '(v128.const i32x4 0 0 0 0)';
const off = (o) => (o ? ` offset=${o}` : '');
const load = (addr, o = 0) => `(v128.load${off(o)} ${addr})`;
const store = (addr, v, o = 0) => `(v128.store${off(o)} ${addr} ${v})`;
/** A single float into lane 0 (other lanes zero) / out of lane 0: how remainder elements run the vector code. */
const load1 = (addr, o = 0) => `(v128.load32_zero${off(o)} ${addr})`;
const store1 = (addr, v, o = 0) => `(v128.store32_lane${off(o)} 0 ${addr} ${v})`;
/** i8x16.shuffle from four f32 lane indices (0–3: first operand, 4–7: second). */
const shuffle = (a, b, lanes) =>
  `(i8x16.shuffle ${lanes.flatMap((l) => [0, 1, 2, 3].map((q) => 4 * l + q)).join(' ')} ${a} ${b})`;

/** `while (cond) body`, compiled as a guarded do-while (one branch per iteration). */
const whileLoop = (label, cond, body) =>
  `(if ${cond} (then (loop $${label}\n${body}\n(br_if $${label} ${cond}))))`;

class Func {
  constructor(name, params, result) {
    this.name = name;
    this.params = params; // [name, type][]
    this.result = result;
    this.locals = new Map();
  }
  local(name, type) {
    const had = this.locals.get(name);
    if (had && had !== type) throw new Error(`local $${name} declared as ${had} and ${type}`);
    this.locals.set(name, type);
    return name;
  }
  locals32(...names) { for (const n of names) this.local(n, 'i32'); }
  localsV(...names) { for (const n of names) this.local(n, 'v128'); }
  emit(body, exported = true) {
    const params = this.params.map(([n, t]) => `(param $${n} ${t})`).join(' ');
    const result = this.result ? ` (result ${this.result})` : '';
    const locals = [...this.locals].map(([n, t]) => `(local $${n} ${t})`).join(' ');
    const exp = exported ? ` (export "${this.name}")` : '';
    return `(func $${this.name}${exp} ${params}${result}\n${locals}\n${body})`;
  }
}

class Generator {
  constructor(relaxed) {
    this.relaxed = relaxed;
  }

  /** acc + a·b: fused (one rounding) in the relaxed build, f32x4.mul then f32x4.add in the plain one. */
  madd(acc, a, b) {
    return this.relaxed ? `(f32x4.relaxed_madd ${a} ${b} ${acc})` : `(f32x4.add ${acc} (f32x4.mul ${a} ${b}))`;
  }

  /** c − a·b, likewise. */
  nmadd(c, a, b) {
    return this.relaxed ? `(f32x4.relaxed_nmadd ${a} ${b} ${c})` : `(f32x4.sub ${c} (f32x4.mul ${a} ${b}))`;
  }

  module() {
    return [
      `;; Generated by src/kernels/wasm/generate.mjs (${this.relaxed ? 'relaxed SIMD' : 'plain SIMD'}). Do not edit.`,
      '(module',
      '(import "env" "memory" (memory 1 65536 shared))',
      this.expv(),
      this.expExport(),
      this.gemmABt(),
      this.gemmRowsTimesB('gemmAB'),
      this.gemmRowsTimesB('gemmAtB'),
      this.sparseForward(),
      this.sparseWeightGrad(),
      this.colSum(),
      this.activationForward(),
      this.activationBackward(),
      this.gather(),
      this.logf64(),
      this.lossForwardBackward(),
      this.reduceSlots(),
      this.sgdStep(),
      this.im2col(),
      this.col2im(),
      this.maxPoolForward(),
      this.maxPoolBackward(),
      this.batchNormForward(),
      this.batchNormBackward(),
      this.scaleShift(),
      this.multiplyAddTo(),
      this.adamStep(),
      this.emaUpdate(),
      ')',
    ].join('\n');
  }

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
   */
  expInline(f, x, out, hoisted) {
    f.localsV('ex_t', 'ex_n', 'ex_r', 'ex_p', 'ex_i');
    const c = (name) => (hoisted ? get(f.local(`exc_${name}`, 'v128')) : EXP_CONSTANTS[name]);
    const t = get('ex_t'), n = get('ex_n'), r = get('ex_r'), p = get('ex_p'), ni = get('ex_i');
    let poly = c('p0');
    for (let q = 1; q <= 5; q++) poly = this.madd(c(`p${q}`), poly, r);
    const pow2 = (e) => `(i32x4.shl (i32x4.add ${e} ${c('bias')}) (i32.const 23))`;
    return [
      set('ex_r', `(f32x4.pmax (f32x4.pmin ${x} ${c('hi')}) ${c('lo')})`), // x, clamped
      set('ex_t', this.madd(c('magic'), r, c('log2e'))),
      set('ex_n', `(f32x4.sub ${t} ${c('magic')})`),
      set('ex_i', `(i32x4.sub ${t} ${c('magicBits')})`),
      set('ex_r', this.nmadd(r, n, c('ln2hi'))),
      set('ex_r', this.nmadd(r, n, c('ln2lo'))),
      set('ex_p', poly),
      set('ex_p', `(f32x4.add ${this.madd(r, p, `(f32x4.mul ${r} ${r})`)} ${c('one')})`), // e^r = (P·r² + r) + 1
      set('ex_n', `(i32x4.shr_s ${ni} (i32.const 1))`), // n₁ = ⌊n/2⌋, n₂ = n − n₁: 2^n = 2^n₁ · 2^n₂, each exact
      set(out, `(f32x4.mul (f32x4.mul ${p} ${pow2(n)}) ${pow2(`(i32x4.sub ${ni} ${n})`)})`),
    ].join('\n');
  }

  /** Sets the exc_* locals that expInline(…, hoisted) reads. */
  expConstants(f) {
    return Object.entries(EXP_CONSTANTS).map(([name, v]) => set(f.local(`exc_${name}`, 'v128'), v));
  }

  /** e^x as a function (for the scalar loss code, lane 0). */
  expv() {
    const f = new Func('expv', [['x', 'v128']], 'v128');
    f.localsV('y');
    return f.emit(this.expInline(f, get('x'), 'y', false) + '\n' + get('y'), false);
  }

  /** exp(out, x, n): out[i] = e^x[i] (what activationForward's sigmoid uses; exported for tests). */
  expExport() {
    return this.elementwise('exp', [['out', 'i32'], ['x', 'i32'], ['n', 'i32']], (ld, st, f) =>
      this.expInline(f, ld('x'), 'y', true) + '\n' + st('out', get('y')),
    { locals: [['y', 'v128']], prologue: (f) => this.expConstants(f) });
  }

  /**
   * An elementwise loop over n floats: four vectors per iteration, then single vectors, then single
   * elements in lane 0 (load32_zero / store32_lane), all through the same `step`, so every element is
   * computed by the same instructions. `step(ld, st)` emits one vector's work; ld(ptr) loads, st(ptr, v)
   * stores at the current element of the named pointer parameter.
   */
  elementwise(name, params, step, { locals = [], prologue = [], exported = true } = {}) {
    const f = new Func(name, params);
    f.locals32('e', 'e16', 'e4');
    for (const [n, t] of locals) f.local(n, t);
    const body = (width, o) => {
      const at = (p) => add(get(p), get('e'));
      const ld = (p) => (width === 1 ? load1(at(p), o) : load(at(p), o));
      const st = (p, v) => (width === 1 ? store1(at(p), v, o) : store(at(p), v, o));
      return step(ld, st, f);
    };
    return f.emit([
      ...(typeof prologue === 'function' ? prologue(f) : prologue),
      set('e', i32(0)),
      set('e16', shl(`(i32.and ${get('n')} ${i32(~15)})`, 2)),
      set('e4', shl(`(i32.and ${get('n')} ${i32(~3)})`, 2)),
      whileLoop(`${name}_16`, `(i32.lt_u ${get('e')} ${get('e16')})`,
        [0, 16, 32, 48].map((o) => body(4, o)).join('\n') + '\n' + set('e', add(get('e'), i32(64)))),
      whileLoop(`${name}_4`, `(i32.lt_u ${get('e')} ${get('e4')})`,
        body(4, 0) + '\n' + set('e', add(get('e'), i32(16)))),
      whileLoop(`${name}_1`, `(i32.lt_u ${get('e')} ${shl(get('n'), 2)})`,
        body(1, 0) + '\n' + set('e', add(get('e'), i32(4)))),
    ].join('\n'), exported);
  }

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
   */
  gemmRowsTimesB(name) {
    const at = name === 'gemmAtB';
    const KC = at ? 32 : 0; // rows of k per chunk (0: no chunks)
    const PANEL = 24576; // bytes of B per column panel
    const f = new Func(name, [['C', 'i32'], ['A', 'i32'], ['B', 'i32'], ['M', 'i32'], ['N', 'i32'], ['K', 'i32']]);
    f.locals32('i', 'j', 'j0', 'jEnd', 'P', 'N8', 'k0', 'kLen', 'kN4', 'pa', 'pb', 'pc', 'pe', 'paRow', 'pbJ', 'pcJ', 'pbEnd', 'K4', 'M4', 'N4');
    const MR = 4; // rows per tile: 4 × 8 columns = 8 accumulators (with more, V8 spills)
    const kr = (r) => f.local(`K${4 * r}`, 'i32');
    f.localsV('a');
    /**
     * A tile of R rows × V vectors (V = 0: one column, in lane 0) at (i, j), over all of K, or, when
     * `chunk`, over k in [k0, k0 + kLen) with the addresses the panel loops keep (paRow, pbJ, pcJ, kN4).
     * The first k initialises the accumulators with the products (0 + a·b = a·b); a later chunk carries
     * on from the float32 sums the earlier ones stored, so chunking changes no sum.
     */
    const tile = (R, V, chunk) => {
      const cols = Math.max(V, 1);
      const acc = (r, c) => f.local(`c${r}_${c}`, 'v128');
      const bv = (c) => f.local(`b${c}`, 'v128');
      const aAddr = (r) => (at ? [get('pa'), 4 * r] : [r === 0 ? get('pa') : add(get('pa'), get(kr(r))), 0]);
      const bLoad = (c) => (V === 0 ? load1(get('pb')) : load(get('pb'), 16 * c));
      /** Visits the tile's C vectors row by row, pc pointing at the row. */
      const overC = (fn) => {
        const s = [set('pc', chunk ? get('pcJ') : add(get('C'), shl(add(mul(get('i'), get('N')), get('j')), 2)))];
        for (let r = 0; r < R; r++) {
          for (let c = 0; c < cols; c++) s.push(fn(r, c, V === 0 ? 0 : 16 * c));
          if (r < R - 1) s.push(set('pc', add(get('pc'), get('N4'))));
        }
        return s.join('\n');
      };
      /** One k: acc ← acc + a·b, or acc ← a·b when `first`. */
      const step = (first) => {
        const k = [];
        if (R > 1) for (let c = 0; c < cols; c++) k.push(set(bv(c), bLoad(c)));
        for (let r = 0; r < R; r++) {
          const [addr, o] = aAddr(r);
          k.push(set('a', `(v128.load32_splat${off(o)} ${addr})`));
          for (let c = 0; c < cols; c++) {
            const b = R > 1 ? get(bv(c)) : bLoad(c);
            k.push(set(acc(r, c), first ? `(f32x4.mul ${get('a')} ${b})` : this.madd(get(acc(r, c)), get('a'), b)));
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
      out.push(chunk ? `(if ${get('k0')} (then\n${overC((r, c, o) => set(acc(r, c), V === 0 ? load1(get('pc')) : load(get('pc'), o)))}\n) (else\n${fresh}))` : fresh);
      out.push(whileLoop(`${name}_k${R}_${V}${chunk ? 'c' : ''}`, `(i32.lt_u ${get('pb')} ${get('pe')})`, step(false)));
      out.push(overC((r, c, o) => (V === 0 ? store1(get('pc'), get(acc(r, c))) : store(get('pc'), get(acc(r, c)), o))));
      return out.join('\n');
    };
    /** Columns [j, N) of a row block: stages of [vectors per tile (0: one column in lane 0), repeat?]. */
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
      whileLoop(`${name}_i1`, `(i32.lt_s ${get('i')} ${get('M')})`,
        set('j', i32(0)) + '\n' + colLoop(1, [[8, true], [1, true], [0, true]]) + '\n' + set('i', add(get('i'), i32(1)))),
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
   */
  gemmABt() {
    const f = new Func('gemmABt', [['C', 'i32'], ['A', 'i32'], ['B', 'i32'], ['bias', 'i32'], ['hasBias', 'i32'], ['relu', 'i32'],
      ['M', 'i32'], ['N', 'i32'], ['K', 'i32']]);
    f.locals32('i', 'j', 'end', 'K4', 'N4', 'Kv', 'Kt', 'pc');
    f.localsV('a', 'b', 's');
    const pa = (r) => f.local(`pa${r}`, 'i32');
    const pb = (c) => f.local(`pb${c}`, 'i32');
    const acc = (r, c) => f.local(`c${r}_${c}`, 'v128');
    const av = (r) => f.local(`a${r}`, 'v128');
    /** The last K mod 4 floats at addr (1–3 of them), zero-padded to a vector. */
    const tailLoad = (addr) =>
      `(if (result v128) (i32.eq ${get('Kt')} ${i32(1)}) (then ${load1(addr)}) (else (if (result v128) (i32.eq ${get('Kt')} ${i32(2)}) ` +
      `(then (v128.load64_zero ${addr})) (else (v128.load32_lane offset=8 2 ${addr} (v128.load64_zero ${addr}))))))`;
    const epilogue = (v, bias) => [
      set('s', v),
      `(if ${get('hasBias')} (then ${set('s', `(f32x4.add ${get('s')} ${bias})`)}))`,
      `(if ${get('relu')} (then ${set('s', `(v128.andnot ${get('s')} (f32x4.lt ${get('s')} ${ZERO}))`)}))`,
    ].join('\n');
    /** R rows × Cn columns at (i, j). */
    const tile = (R, Cn) => {
      const out = [];
      for (let r = 0; r < R; r++) for (let c = 0; c < Cn; c++) out.push(set(acc(r, c), ZERO));
      for (let r = 0; r < R; r++) out.push(set(pa(r), r === 0 ? add(get('A'), mul(get('i'), get('K4'))) : add(get(pa(r - 1)), get('K4'))));
      for (let c = 0; c < Cn; c++) out.push(set(pb(c), c === 0 ? add(get('B'), mul(get('j'), get('K4'))) : add(get(pb(c - 1)), get('K4'))));
      /** One vector step along k with the operand loads given (the wider operand loaded one at a time). */
      const step = (ldA, ldB) => {
        const s = [];
        const [few, many, ldFew, ldMany, pick] = Cn >= R ? [R, Cn, ldA, ldB, (x, y) => [x, y]] : [Cn, R, ldB, ldA, (x, y) => [y, x]];
        for (let q = 0; q < few; q++) s.push(set(av(q), ldFew(q)));
        for (let m = 0; m < many; m++) {
          s.push(set('b', ldMany(m)));
          for (let q = 0; q < few; q++) {
            const [r, c] = pick(q, m);
            s.push(set(acc(r, c), this.madd(get(acc(r, c)), get(av(q)), get('b'))));
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
          const c = (q) => get(acc(r, q));
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
      whileLoop('abt_j1', `(i32.lt_s ${get('j')} ${get('N')})`,
        rowLoop([[4, 1], [1, 1]]) + '\n' + set('j', add(get('j'), i32(1)))),
    ].join('\n'));
  }

  // ── The first layer, weight stored input-major: skip zero inputs ──────────────────────────────────────

  /**
   * Column stages over [j, OUT): blocks of 8 vectors (32 columns: 8 accumulators), then single vectors,
   * then single columns in lane 0; `block(V)` emits one block of V vectors (0: one column) at column j.
   * Every stage runs the same madd per element, so an element's bits do not depend on its block.
   */
  sparseColumns(f, label, block) {
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
   */
  listBlock(f, V, base, finish, label) {
    f.locals32('pb', 'pw', 'e');
    const cols = Math.max(V, 1);
    const acc = (c) => f.local(`c${c}`, 'v128');
    const ld = (addr, c) => (V === 0 ? load1(addr) : load(addr, 16 * c));
    const out = [];
    for (let c = 0; c < cols; c++) out.push(set(acc(c), ZERO));
    out.push(set('e', get('S')), set('pb', base));
    /** One list entry at e + o: acc ← acc + x · row[block]. */
    const entry = (o) => [
      set('xs', `(v128.load32_splat offset=${o + 4} ${get('e')})`),
      set('pw', add(get('pb'), `(i32.load${off(o)} ${get('e')})`)),
      ...Array.from({ length: cols }, (_, c) => set(acc(c), this.madd(get(acc(c)), get('xs'), ld(get('pw'), c)))),
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
   */
  sparseForward() {
    const f = new Func('sparseForward', [['Y', 'i32'], ['X', 'i32'], ['WT', 'i32'], ['bias', 'i32'], ['hasBias', 'i32'], ['relu', 'i32'],
      ['M', 'i32'], ['OUT', 'i32'], ['IN', 'i32'], ['S', 'i32']]);
    f.locals32('r', 'j', 'px', 'py', 'p', 'pe4', 'pe', 'pw', 'wo', 'pl', 'e', 'OUT4', 'IN4', 'mask');
    f.localsV('xv', 'xs', 's');
    /** Lists input q of the four at p (vector xv, nonzero lanes in mask), weight row offset wo + q·OUT4. */
    const list4 = (q) => [
      `(i32.store ${get('pl')} ${q === 0 ? get('wo') : add(get('wo'), q === 1 ? get('OUT4') : mul(get('OUT4'), i32(q)))})`,
      `(f32.store offset=4 ${get('pl')} (f32x4.extract_lane ${q} ${get('xv')}))`,
      set('pl', add(get('pl'), shl(`(i32.and (i32.shr_u ${get('mask')} ${i32(q)}) ${i32(1)})`, 3))),
    ].join('\n');
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
      whileLoop('sf_r', `(i32.lt_s ${get('r')} ${get('M')})`, [
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
        this.sparseColumns(f, 'sf_j', (V) => this.listBlock(f, V, add(get('WT'), shl(get('j'), 2)), finish(V), 'sf_e')),
        set('r', add(get('r'), i32(1))),
      ].join('\n')),
    ].join('\n'));
  }

  /**
   * sparseWeightGrad(dWT, X, dZ, K, IN, OUT, S): dWT (IN, OUT) = X (K, IN)ᵀ · dZ (K, OUT), S a scratch of
   * 2·K words. Per input i: the rows where X[r, i] ≠ 0 are listed in S in ascending r (branch-free, as in
   * sparseForward), then per block of 32 columns 8 accumulators run down the list, adding X[r, i] ·
   * dZ[r, block]; every element is stored (0 where no row has input i set).
   */
  sparseWeightGrad() {
    const f = new Func('sparseWeightGrad', [['dWT', 'i32'], ['X', 'i32'], ['dZ', 'i32'], ['K', 'i32'], ['IN', 'i32'], ['OUT', 'i32'], ['S', 'i32']]);
    f.locals32('i', 'j', 'pc', 'px', 'pxe', 'zo', 'pw', 'pl', 'e', 'OUT4', 'IN4', 'KIN4');
    f.local('x', 'f32');
    f.localsV('xs');
    const finish = (V) => (c, v) => {
      const at = add(get('pc'), shl(get('j'), 2));
      return V === 0 ? store1(at, v) : store(at, v, 16 * c);
    };
    return f.emit([
      set('OUT4', shl(get('OUT'), 2)), set('IN4', shl(get('IN'), 2)), set('KIN4', mul(get('K'), get('IN4'))),
      set('i', i32(0)),
      whileLoop('sw_i', `(i32.lt_s ${get('i')} ${get('IN')})`, [
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
        this.sparseColumns(f, 'sw_j', (V) => this.listBlock(f, V, add(get('dZ'), shl(get('j'), 2)), finish(V), 'sw_e')),
        set('i', add(get('i'), i32(1))),
      ].join('\n')),
    ].join('\n'));
  }

  // ── Small kernels ───────────────────────────────────────────────────────────────────────────────────

  /** out (N) = Σ_i A (M,N)[i, ·], i ascending from 0 (bitwise what the TypeScript loop computes). */
  colSum() {
    const f = new Func('colSum', [['out', 'i32'], ['A', 'i32'], ['M', 'i32'], ['N', 'i32']]);
    f.locals32('j', 'p', 'pe', 'N4', 'MN4');
    f.localsV('s0', 's1', 's2', 's3');
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
    const stage = (V, label) => {
      const w = V === 0 ? 1 : 4 * V;
      return whileLoop(label, `(i32.le_s ${add(get('j'), i32(w))} ${get('N')})`, block(V, `${label}_i`) + '\n' + set('j', add(get('j'), i32(w))));
    };
    return f.emit([
      set('N4', shl(get('N'), 2)), set('MN4', mul(get('M'), get('N4'))), set('j', i32(0)),
      stage(4, 'cs16'), stage(1, 'cs4'), stage(0, 'cs1'),
    ].join('\n'));
  }

  /** activationForward(x, n, kind, slope): kind 0 identity, 1 ReLU, 2 sigmoid with slope a. */
  activationForward() {
    const relu = this.elementwise('reluForward', [['x', 'i32'], ['n', 'i32']], (ld, st) =>
      set('v', ld('x')) + '\n' + st('x', `(v128.andnot ${get('v')} (f32x4.lt ${get('v')} ${ZERO}))`),
    { exported: false, locals: [['v', 'v128']] });
    // 1 / (1 + e^(−slope·x))
    const sigmoid = this.elementwise('sigmoidForward', [['x', 'i32'], ['n', 'i32'], ['slope', 'f32']], (ld, st, f) =>
      this.expInline(f, `(f32x4.mul ${ld('x')} ${get('ns')})`, 'y', true) + '\n' +
      st('x', `(f32x4.div ${get('exc_one')} (f32x4.add ${get('exc_one')} ${get('y')}))`),
    { exported: false, locals: [['ns', 'v128'], ['y', 'v128']],
      prologue: (f) => [set('ns', `(f32x4.splat (f32.neg ${get('slope')}))`), ...this.expConstants(f)] });
    return [relu, sigmoid, `(func $activationForward (export "activationForward") (param $x i32) (param $n i32) (param $kind i32) (param $slope f32)
(if (i32.eq ${get('kind')} ${i32(1)}) (then (call $reluForward ${get('x')} ${get('n')})))
(if (i32.eq ${get('kind')} ${i32(2)}) (then (call $sigmoidForward ${get('x')} ${get('n')} ${get('slope')}))))`].join('\n');
  }

  /** activationBackward(dz, a, n, kind, slope): dz ← dz ⊙ φ'(z) written with a = φ(z). */
  activationBackward() {
    const relu = this.elementwise('reluBackward', [['dz', 'i32'], ['a', 'i32'], ['n', 'i32']], (ld, st) =>
      st('dz', `(v128.andnot ${ld('dz')} (f32x4.le ${ld('a')} ${ZERO}))`), { exported: false });
    // (a·S)·(1 − S), then times dz: the order of the TypeScript reference
    const sigmoid = this.elementwise('sigmoidBackward', [['dz', 'i32'], ['a', 'i32'], ['n', 'i32'], ['slope', 'f32']], (ld, st) =>
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
   */
  gather() {
    const f = new Func('gather', [['X', 'i32'], ['y', 'i32'], ['pixels', 'i32'], ['labels', 'i32'], ['index', 'i32'], ['M', 'i32'], ['D', 'i32']]);
    f.locals32('r', 'k', 'src', 'dst', 'idx');
    f.localsV('v', 'h');
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
      whileLoop('gather_r', `(i32.lt_s ${get('r')} ${get('M')})`, [
        set('idx', `(i32.load ${add(get('index'), shl(get('r'), 2))})`),
        set('src', add(get('pixels'), mul(get('idx'), get('D')))),
        set('dst', add(get('X'), shl(mul(get('r'), get('D')), 2))),
        set('k', i32(0)),
        whileLoop('gather_16', `(i32.le_s ${add(get('k'), i32(16))} ${get('D')})`, s16),
        whileLoop('gather_4', `(i32.le_s ${add(get('k'), i32(4))} ${get('D')})`, s4),
        whileLoop('gather_1', `(i32.lt_s ${get('k')} ${get('D')})`, s1),
        `(i32.store ${add(get('y'), shl(get('r'), 2))} (i32.load8_u ${add(get('labels'), get('idx'))}))`,
        set('r', add(get('r'), i32(1))),
      ].join('\n')),
    ].join('\n'));
  }

  /**
   * Natural log in float64 for x > 0 (the softmax normaliser, ≥ 1): x = m·2^e with m in [√½, √2),
   * ln m = 2 atanh(s), s = (m − 1)/(m + 1), |s| ≤ 0.172, by its series to s²¹ (error < 1e-16).
   * NaN, +∞ pass through; x ≤ 0 gives NaN.
   */
  logf64() {
    const terms = [];
    for (let q = 21; q >= 3; q -= 2) terms.push(1 / q);
    let poly = `(f64.const ${terms[0]})`;
    for (let q = 1; q < terms.length; q++) poly = `(f64.add (f64.const ${terms[q]}) (f64.mul ${poly} (local.get $s2)))`;
    return `(func $logf64 (param $x f64) (result f64) (local $bits i64) (local $e i32) (local $m f64) (local $s f64) (local $s2 f64)
(if (i32.or (f64.ne (local.get $x) (local.get $x)) (f64.eq (local.get $x) (f64.const inf))) (then (return (local.get $x))))
(if (f64.le (local.get $x) (f64.const 0)) (then (return (f64.const nan))))
(local.set $bits (i64.reinterpret_f64 (local.get $x)))
(local.set $e (i32.sub (i32.wrap_i64 (i64.shr_u (local.get $bits) (i64.const 52))) (i32.const 1023)))
(if (i32.eq (local.get $e) (i32.const -1023)) (then ;; subnormal: scale up by 2^54 first
  (local.set $bits (i64.reinterpret_f64 (f64.mul (local.get $x) (f64.const 0x1p54))))
  (local.set $e (i32.sub (i32.wrap_i64 (i64.shr_u (local.get $bits) (i64.const 52))) (i32.const 1077)))))
(local.set $m (f64.reinterpret_i64 (i64.or (i64.and (local.get $bits) (i64.const 0xfffffffffffff)) (i64.const 0x3ff0000000000000))))
(if (f64.gt (local.get $m) (f64.const 1.4142135623730951)) (then
  (local.set $m (f64.mul (local.get $m) (f64.const 0.5)))
  (local.set $e (i32.add (local.get $e) (i32.const 1)))))
(local.set $s (f64.div (f64.sub (local.get $m) (f64.const 1)) (f64.add (local.get $m) (f64.const 1))))
(local.set $s2 (f64.mul (local.get $s) (local.get $s)))
(f64.add (f64.mul (f64.convert_i32_s (local.get $e)) (f64.const 0.6931471805599453))
  (f64.mul (f64.mul (f64.const 2) (local.get $s)) (f64.add (f64.const 1) (f64.mul (local.get $s2) ${poly})))))`;
  }

  /**
   * lossForwardBackward(z, dz, y, M, C, out, loss, slope) → summed loss (f64), with the semantics of the
   * TypeScript reference: out 0 identity, 1 ReLU, 2 sigmoid, 3 softmax; loss 0 cross-entropy, 1 squared
   * error. Per row, scalar (C is 10): the softmax's exponentials are float32 (expv, lane 0), its sums,
   * logarithm, loss and squared-error gradients float64 as in the reference.
   */
  lossForwardBackward() {
    const F = (p) => `(f64.promote_f32 (f32.load ${p}))`;
    const zj = add(get('o'), shl(get('j'), 2));
    const dj = add(get('d'), shl(get('j'), 2));
    const onehot = `(f64.convert_i32_u (i32.eq ${get('j')} ${get('label')}))`;
    let loops = 0;
    /** for (j = 0; j < C; j++) body */
    const forJ = (body) => `${set('j', i32(0))}\n${whileLoop(`loss_j${++loops}`, `(i32.lt_s ${get('j')} ${get('C')})`, body + '\n' + set('j', add(get('j'), i32(1))))}`;
    const softmax = [
      set('mx', f32('-inf')),
      forJ(set('mx', `(f32.max ${get('mx')} (f32.load ${zj}))`)),
      // z_y before z is overwritten (NaN for a label outside [0, C), as the reference reads undefined)
      set('zy', `(if (result f64) (i32.lt_u ${get('label')} ${get('C')}) (then ${F(add(get('o'), shl(get('label'), 2)))}) (else (f64.const nan)))`),
      set('sum', '(f64.const 0)'),
      forJ([
        set('ef', `(f32x4.extract_lane 0 (call $expv (f32x4.splat (f32.sub (f32.load ${zj}) ${get('mx')}))))`),
        `(f32.store ${zj} ${get('ef')})`,
        set('sum', `(f64.add ${get('sum')} (f64.promote_f32 ${get('ef')}))`),
      ].join('\n')),
      set('logPy', `(f64.sub (f64.sub ${get('zy')} (f64.promote_f32 ${get('mx')})) (call $logf64 ${get('sum')}))`),
      forJ(`(f32.store ${zj} (f32.demote_f64 (f64.div ${F(zj)} ${get('sum')})))`),
      `(if (i32.eqz ${get('loss')}) (then`,
      set('total', `(f64.sub ${get('total')} ${get('logPy')})`),
      forJ(`(f32.store ${dj} (f32.demote_f64 (f64.sub ${F(zj)} ${onehot})))`),
      ') (else',
      // squared error through softmax: dz_j = p_j (2(p_j − y_j) − Σ_k 2(p_k − y_k) p_k)
      set('dot', '(f64.const 0)'),
      forJ([
        set('e', `(f64.sub ${F(zj)} ${onehot})`),
        set('total', `(f64.add ${get('total')} (f64.mul ${get('e')} ${get('e')}))`),
        set('dot', `(f64.add ${get('dot')} (f64.mul (f64.mul (f64.const 2) ${get('e')}) ${F(zj)}))`),
      ].join('\n')),
      forJ(`(f32.store ${dj} (f32.demote_f64 (f64.mul ${F(zj)} (f64.sub (f64.mul (f64.const 2) (f64.sub ${F(zj)} ${onehot})) ${get('dot')}))))`),
      '))',
    ].join('\n');
    const squared = [
      `(call $activationForward ${get('o')} ${get('C')} ${get('out')} ${get('slope')})`,
      forJ([
        set('e', `(f64.sub ${F(zj)} ${onehot})`),
        set('total', `(f64.add ${get('total')} (f64.mul ${get('e')} ${get('e')}))`),
        `(f32.store ${dj} (f32.demote_f64 (f64.mul (f64.const 2) ${get('e')})))`,
      ].join('\n')),
      `(call $activationBackward ${get('d')} ${get('o')} ${get('C')} ${get('out')} ${get('slope')})`,
    ].join('\n');
    return `(func $lossForwardBackward (export "lossForwardBackward") (param $z i32) (param $dz i32) (param $y i32) (param $M i32) (param $C i32)
(param $out i32) (param $loss i32) (param $slope f32) (result f64)
(local $r i32) (local $j i32) (local $o i32) (local $d i32) (local $label i32) (local $mx f32) (local $ef f32)
(local $zy f64) (local $sum f64) (local $logPy f64) (local $total f64) (local $e f64) (local $dot f64)
${set('r', i32(0))}
${whileLoop('loss_r', `(i32.lt_s ${get('r')} ${get('M')})`, [
      set('o', add(get('z'), shl(mul(get('r'), get('C')), 2))),
      set('d', add(get('dz'), shl(mul(get('r'), get('C')), 2))),
      set('label', `(i32.load ${add(get('y'), shl(get('r'), 2))})`),
      `(if (i32.eq ${get('out')} ${i32(3)}) (then\n${softmax}\n) (else\n${squared}\n))`,
      set('r', add(get('r'), i32(1))),
    ].join('\n'))}
${get('total')})`;
  }

  /** reduceSlots(grad, slots, count, stride, begin, end, scale): grad[p] = (Σ_s slots[s·stride + p]) · scale. */
  reduceSlots() {
    const f = new Func('reduceSlots', [['grad', 'i32'], ['slots', 'i32'], ['count', 'i32'], ['stride', 'i32'], ['begin', 'i32'], ['end', 'i32'], ['scale', 'f32']]);
    f.locals32('p', 'q', 'qe', 'S4', 'CS4');
    f.localsV('sv', 's0', 's1', 's2', 's3');
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

  /**
   * sgdStep(params, grad, velocity, begin, end, lr, momentum, nesterov, weightDecay), on [begin, end):
   * g ← grad + λθ; v ← μv + g; θ ← θ − α·(nesterov ? g + μv : v).
   */
  sgdStep() {
    const out = [];
    for (const nesterov of [false, true]) {
      const name = nesterov ? 'sgdNesterov' : 'sgdPlain';
      const params = [['params', 'i32'], ['grad', 'i32'], ['vel', 'i32'], ['n', 'i32'], ['lr', 'f32'], ['mom', 'f32'], ['wd', 'f32']];
      out.push(this.elementwise(name, params, (ld, st) => [
        set('t', ld('params')),
        set('g', this.madd(ld('grad'), get('wdv'), get('t'))),
        set('v', this.madd(get('g'), get('momv'), ld('vel'))),
        st('vel', get('v')),
        st('params', this.nmadd(get('t'), get('lrv'), nesterov ? this.madd(get('g'), get('momv'), get('v')) : get('v'))),
      ].join('\n'), {
        exported: false,
        locals: ['t', 'g', 'v', 'lrv', 'momv', 'wdv'].map((n) => [n, 'v128']),
        prologue: [set('lrv', `(f32x4.splat ${get('lr')})`), set('momv', `(f32x4.splat ${get('mom')})`), set('wdv', `(f32x4.splat ${get('wd')})`)],
      }));
    }
    out.push(`(func $sgdStep (export "sgdStep") (param $params i32) (param $grad i32) (param $vel i32) (param $begin i32) (param $end i32)
(param $lr f32) (param $mom f32) (param $nesterov i32) (param $wd f32) (local $o i32) (local $n i32)
(if (i32.le_s ${get('end')} ${get('begin')}) (then (return)))
(local.set $o ${shl(get('begin'), 2)})
(local.set $n ${sub(get('end'), get('begin'))})
(if ${get('nesterov')}
  (then (call $sgdNesterov ${add(get('params'), get('o'))} ${add(get('grad'), get('o'))} ${add(get('vel'), get('o'))} ${get('n')} ${get('lr')} ${get('mom')} ${get('wd')}))
  (else (call $sgdPlain ${add(get('params'), get('o'))} ${add(get('grad'), get('o'))} ${add(get('vel'), get('o'))} ${get('n')} ${get('lr')} ${get('mom')} ${get('wd')}))))`);
    return out.join('\n');
  }

  // ── Convolutional networks (NHWC: channels fastest) ─────────────────────────────────────────────────

  /**
   * Inline: one run of `len` bytes (a multiple of 4) at the running pointers rd (and rs), which it
   * advances to the run's end. kind 'copy' (rd ← rs), 'zero' (rd ← 0) or 'add' (rd ← rd + rs): four
   * vectors at a time, then single vectors, then the rest. A copy or zero run of at least 16 bytes ends
   * with one vector over its last 16 bytes (overlapping what is already written, with the same bits);
   * shorter ones, and the rest of an add run, go 4 bytes at a time (f32.add rounds as a lane of f32x4.add).
   * Nothing outside [rd, rd + len) is written, nothing outside [rs, rs + len) read.
   */
  run(f, kind, len) {
    const id = (this.runs = (this.runs ?? 0) + 1);
    f.locals32('rd', 'rs', 're', 'rl', 'rt');
    const src = kind !== 'zero';
    const vec = (o) => (kind === 'zero' ? store(get('rd'), ZERO, o)
      : kind === 'copy' ? store(get('rd'), load(get('rs'), o), o)
        : store(get('rd'), `(f32x4.add ${load(get('rd'), o)} ${load(get('rs'), o)})`, o));
    const one = kind === 'zero' ? `(i32.store ${get('rd')} ${i32(0)})`
      : kind === 'copy' ? `(i32.store ${get('rd')} (i32.load ${get('rs')}))`
        : `(f32.store ${get('rd')} (f32.add (f32.load ${get('rd')}) (f32.load ${get('rs')})))`;
    const advance = (b) => [set('rd', add(get('rd'), i32(b))), src ? set('rs', add(get('rs'), i32(b))) : ''].join('\n');
    const bulk = [
      whileLoop(`run${id}_64`, `(i32.le_u ${add(get('rd'), i32(64))} ${get('re')})`, [0, 16, 32, 48].map(vec).join('\n') + '\n' + advance(64)),
      whileLoop(`run${id}_16`, `(i32.le_u ${add(get('rd'), i32(16))} ${get('re')})`, vec(0) + '\n' + advance(16)),
    ].join('\n');
    const rest = whileLoop(`run${id}_4`, `(i32.lt_u ${get('rd')} ${get('re')})`, one + '\n' + advance(4));
    const out = [set('rl', len), set('re', add(get('rd'), get('rl')))];
    if (kind === 'add') {
      out.push(bulk, rest);
    } else {
      const tail = [ // the last 16 bytes, from rd − (1 to 3 floats)
        set('rt', sub(sub(get('re'), i32(16)), get('rd'))),
        set('rd', add(get('rd'), get('rt'))), src ? set('rs', add(get('rs'), get('rt'))) : '',
        vec(0), advance(16),
      ].join('\n');
      out.push(`(if (i32.ge_u ${get('rl')} ${i32(16)}) (then\n${bulk}\n(if (i32.lt_u ${get('rd')} ${get('re')}) (then\n${tail}))\n) (else\n${rest}))`);
    }
    return out.join('\n');
  }

  /**
   * The loops of im2col and col2im over the images of `image` (x, or dx): per image n, output pixel (oy, ox) and patch row ky, `inside` when
   * input row iy = oy·stride − pad + ky is in the image, else `outside`; then `after`. Per (oy, ox) the
   * patch columns kx in [kx0, kx1) are inside the image (ix = xo + kx, xo = ox·stride − pad): the k·C
   * floats of a patch row are pre (kx < kx0, zero padding), len (a contiguous run of x's row iy from
   * column xo + kx0) and post bytes (kx ≥ kx1).
   */
  patchLoops(f, name, image, { inside, outside = '', after = '' }) {
    f.locals32('n', 'oy', 'ox', 'iy', 'iyEnd', 'xo', 'kx0', 'kx1', 'pre', 'len', 'post', 'seg', 'C4', 'rowB', 'imgB', 'xn', 'xcol');
    return [
      set('C4', shl(get('C'), 2)), set('seg', mul(get('k'), get('C4'))),
      set('rowB', mul(get('W'), get('C4'))), set('imgB', mul(get('H'), get('rowB'))),
      set('n', i32(0)), set('xn', get(image)),
      whileLoop(`${name}_n`, `(i32.lt_s ${get('n')} ${get('M')})`, [
        set('oy', i32(0)),
        whileLoop(`${name}_oy`, `(i32.lt_s ${get('oy')} ${get('OH')})`, [
          set('ox', i32(0)),
          whileLoop(`${name}_ox`, `(i32.lt_s ${get('ox')} ${get('OW')})`, [
            set('xo', sub(mul(get('ox'), get('stride')), get('pad'))),
            set('kx0', `(select ${sub(i32(0), get('xo'))} ${i32(0)} (i32.lt_s ${get('xo')} ${i32(0)}))`),
            `(if (i32.gt_s ${get('kx0')} ${get('k')}) (then ${set('kx0', get('k'))}))`,
            set('kx1', sub(get('W'), get('xo'))),
            `(if (i32.gt_s ${get('kx1')} ${get('k')}) (then ${set('kx1', get('k'))}))`,
            `(if (i32.lt_s ${get('kx1')} ${get('kx0')}) (then ${set('kx1', get('kx0'))}))`,
            set('pre', mul(get('kx0'), get('C4'))),
            set('len', mul(sub(get('kx1'), get('kx0')), get('C4'))),
            set('post', mul(sub(get('k'), get('kx1')), get('C4'))),
            set('xcol', add(get('xn'), mul(add(get('xo'), get('kx0')), get('C4')))), // x's row 0 at column xo + kx0
            set('iy', sub(mul(get('oy'), get('stride')), get('pad'))),
            set('iyEnd', add(get('iy'), get('k'))),
            whileLoop(`${name}_ky`, `(i32.lt_s ${get('iy')} ${get('iyEnd')})`, [
              `(if (i32.lt_u ${get('iy')} ${get('H')}) (then\n${inside}\n)${outside ? ` (else\n${outside}\n)` : ''})`,
              after,
              set('iy', add(get('iy'), i32(1))),
            ].join('\n')),
            set('ox', add(get('ox'), i32(1))),
          ].join('\n')),
          set('oy', add(get('oy'), i32(1))),
        ].join('\n')),
        set('xn', add(get('xn'), get('imgB'))),
        set('n', add(get('n'), i32(1))),
      ].join('\n')),
    ].join('\n');
  }

  static CONV_PARAMS = ['M', 'H', 'W', 'C', 'k', 'stride', 'pad', 'OH', 'OW'].map((n) => [n, 'i32']);

  /**
   * im2col(cols, x, M, H, W, C, k, stride, pad, OH, OW): cols (M·OH·OW, k·k·C) = the patches of x. Each
   * patch row is written left to right as a zero run, a copy of the run of x inside the image, and a zero
   * run (see run()); pure copies, so the bits are x's.
   */
  im2col() {
    const f = new Func('im2col', [['cols', 'i32'], ['x', 'i32'], ...Generator.CONV_PARAMS]);
    return f.emit([
      set('rd', get('cols')),
      this.patchLoops(f, 'i2c', 'x', {
        inside: [
          this.run(f, 'zero', get('pre')),
          set('rs', add(get('xcol'), mul(get('iy'), get('rowB')))),
          this.run(f, 'copy', get('len')),
          this.run(f, 'zero', get('post')),
        ].join('\n'),
        outside: this.run(f, 'zero', get('seg')),
      }),
    ].join('\n'));
  }

  /**
   * col2im(dx, dcols, M, H, W, C, k, stride, pad, OH, OW): dx zeroed, then each patch row's runs that
   * im2col copied added back, in ascending patch row (n, oy, ox) and ky: an element of dx is 0 + its
   * contributions in that order (the order of the TypeScript loop; a float32 add rounds as its f64 add
   * rounded to float32, so the bits are the same).
   */
  col2im() {
    const f = new Func('col2im', [['dx', 'i32'], ['dcols', 'i32'], ...Generator.CONV_PARAMS]);
    f.locals32('pd');
    return f.emit([
      set('rd', get('dx')),
      this.run(f, 'zero', shl(mul(mul(mul(get('M'), get('H')), get('W')), get('C')), 2)),
      set('pd', get('dcols')),
      this.patchLoops(f, 'c2i', 'dx', {
        inside: [
          set('rd', add(get('xcol'), mul(get('iy'), get('rowB')))),
          set('rs', add(get('pd'), get('pre'))),
          this.run(f, 'add', get('len')),
        ].join('\n'),
        after: set('pd', add(get('pd'), get('seg'))),
      }),
    ].join('\n'));
  }

  /** Channel stages over [c, C): blocks of V vectors (4·V channels) for V in `stages`, V = 0 one channel in lane 0. */
  channelStages(label, stages, block) {
    const out = [set('c', i32(0))];
    for (const V of stages) {
      const w = V === 0 ? 1 : 4 * V;
      out.push(whileLoop(`${label}_${V}`, `(i32.le_s ${add(get('c'), i32(w))} ${get('C')})`, block(V) + '\n' + set('c', add(get('c'), i32(w)))));
    }
    return out.join('\n');
  }

  /**
   * maxPoolForward(y, argmax, x, M, H, W, C, size): size×size windows, stride size. Vectorised across
   * channels (blocks of 16, 4, then single channels in lane 0): per window element, in (dy, dx) order,
   * lanes where x > best take x and the element's offset in the window (f32x4.gt: NaN never wins, the
   * first element always counts, ties keep the first: the TypeScript semantics); the offsets become
   * indices into x at the end.
   */
  maxPoolForward() {
    const f = new Func('maxPoolForward', [['y', 'i32'], ['argmax', 'i32'], ['x', 'i32'], ['M', 'i32'], ['H', 'i32'], ['W', 'i32'], ['C', 'i32'], ['size', 'i32']]);
    f.locals32('OH', 'OW', 'n', 'oy', 'ox', 'c', 'C4', 'rowB', 'WC', 'wIdx', 'py', 'p', 'pr', 'q', 'o', 'orow', 'wy', 'wx');
    f.localsV('os', 'v', 'mk');
    const block = (V) => {
      const cols = Math.max(V, 1);
      const best = (q) => f.local(`best${q}`, 'v128');
      const at = (q) => f.local(`at${q}`, 'v128');
      const ld = (addr, q) => (V === 0 ? load1(addr) : load(addr, 16 * q));
      const st = (addr, v, q) => (V === 0 ? store1(addr, v) : store(addr, v, 16 * q));
      const out = [set('p', add(get('x'), shl(add(get('wIdx'), get('c')), 2)))];
      for (let q = 0; q < cols; q++) out.push(set(best(q), ld(get('p'), q)), set(at(q), ZERO));
      const element = [set('os', `(i32x4.splat ${get('o')})`)];
      for (let q = 0; q < cols; q++) {
        element.push(
          set('v', ld(get('q'), q)),
          set('mk', `(f32x4.gt ${get('v')} ${get(best(q))})`),
          set(best(q), `(v128.bitselect ${get('v')} ${get(best(q))} ${get('mk')})`),
          set(at(q), `(v128.bitselect ${get('os')} ${get(at(q))} ${get('mk')})`));
      }
      element.push(set('q', add(get('q'), get('C4'))), set('o', add(get('o'), get('C'))), set('wx', add(get('wx'), i32(1))));
      out.push(
        set('pr', get('p')), set('orow', i32(0)), set('wy', i32(0)),
        `(loop $mp_wy${V}`,
        set('q', get('pr')), set('o', get('orow')), set('wx', i32(0)),
        `(loop $mp_wx${V}\n${element.join('\n')}\n(br_if $mp_wx${V} (i32.lt_s ${get('wx')} ${get('size')})))`,
        set('pr', add(get('pr'), get('rowB'))), set('orow', add(get('orow'), get('WC'))), set('wy', add(get('wy'), i32(1))),
        `(br_if $mp_wy${V} (i32.lt_s ${get('wy')} ${get('size')})))`);
      const yAt = add(get('y'), add(get('py'), shl(get('c'), 2)));
      const aAt = add(get('argmax'), add(get('py'), shl(get('c'), 2)));
      for (let q = 0; q < cols; q++) {
        out.push(st(yAt, get(best(q)), q));
        const iota = `(v128.const i32x4 ${4 * q} ${4 * q + 1} ${4 * q + 2} ${4 * q + 3})`;
        out.push(st(aAt, `(i32x4.add (i32x4.add ${get(at(q))} (i32x4.splat ${add(get('wIdx'), get('c'))})) ${iota})`, q));
      }
      return out.join('\n');
    };
    return f.emit([
      `(if (i32.le_s ${get('size')} ${i32(0)}) (then (return)))`,
      set('OH', `(i32.div_u ${get('H')} ${get('size')})`), set('OW', `(i32.div_u ${get('W')} ${get('size')})`),
      set('C4', shl(get('C'), 2)), set('WC', mul(get('W'), get('C'))), set('rowB', shl(get('WC'), 2)),
      set('py', i32(0)), set('n', i32(0)),
      whileLoop('mp_n', `(i32.lt_s ${get('n')} ${get('M')})`, [
        set('oy', i32(0)),
        whileLoop('mp_oy', `(i32.lt_s ${get('oy')} ${get('OH')})`, [
          set('wIdx', mul(add(mul(get('n'), get('H')), mul(get('oy'), get('size'))), get('WC'))),
          set('ox', i32(0)),
          whileLoop('mp_ox', `(i32.lt_s ${get('ox')} ${get('OW')})`, [
            this.channelStages('mp_c', [4, 1, 0], block),
            set('wIdx', add(get('wIdx'), mul(get('size'), get('C')))),
            set('py', add(get('py'), get('C4'))),
            set('ox', add(get('ox'), i32(1))),
          ].join('\n')),
          set('oy', add(get('oy'), i32(1))),
        ].join('\n')),
        set('n', add(get('n'), i32(1))),
      ].join('\n')),
    ].join('\n'));
  }

  /**
   * maxPoolBackward(dx, dy, argmax, n, len) → 0, or 1 (and nothing written) when an index of argmax is
   * outside [0, len). dx (len) zeroed, then dx[argmax[i]] += dy[i] in ascending i.
   */
  maxPoolBackward() {
    const f = new Func('maxPoolBackward', [['dx', 'i32'], ['dy', 'i32'], ['argmax', 'i32'], ['n', 'i32'], ['len', 'i32']], 'i32');
    f.locals32('i', 'p');
    f.localsV('bad', 'lim');
    const idx = `(i32.load ${add(get('argmax'), shl(get('i'), 2))})`;
    return f.emit([
      // every index checked first, four at a time (unsigned: negative ones are out too)
      set('bad', ZERO), set('lim', `(i32x4.splat ${get('len')})`), set('i', i32(0)),
      whileLoop('mpb_check4', `(i32.le_s ${add(get('i'), i32(4))} ${get('n')})`, [
        set('bad', `(v128.or ${get('bad')} (i32x4.ge_u ${load(add(get('argmax'), shl(get('i'), 2)))} ${get('lim')}))`),
        set('i', add(get('i'), i32(4))),
      ].join('\n')),
      whileLoop('mpb_check1', `(i32.lt_s ${get('i')} ${get('n')})`, [
        `(if (i32.ge_u ${idx} ${get('len')}) (then (return ${i32(1)})))`,
        set('i', add(get('i'), i32(1))),
      ].join('\n')),
      `(if (v128.any_true ${get('bad')}) (then (return ${i32(1)})))`,
      set('rd', get('dx')),
      this.run(f, 'zero', shl(get('len'), 2)),
      set('i', i32(0)),
      whileLoop('mpb_add', `(i32.lt_s ${get('i')} ${get('n')})`, [
        set('p', add(get('dx'), shl(idx, 2))),
        `(f32.store ${get('p')} (f32.add (f32.load ${get('p')}) (f32.load ${add(get('dy'), shl(get('i'), 2))})))`,
        set('i', add(get('i'), i32(1))),
      ].join('\n')),
      i32(0),
    ].join('\n'));
  }

  /**
   * The per-channel sums of batch normalisation, in float64 (f64x2: two lanes of a float32 vector each,
   * V = 0 lane 0 alone), one accumulator per channel from 0 in ascending row: the sums, and so the
   * statistics, of the TypeScript kernel, bit for bit. Helpers: lo, a float32 vector's lanes 0 and 1 as
   * f64x2; demote, back.
   */
  static lo = (v) => `(f64x2.promote_low_f32x4 ${v})`;
  /** A float32 vector of the block's four channels from their two f64x2 halves (V = 0: lane 0 from lo). */
  static demote = (V, lo, hi) => (V === 0 ? `(f32x4.demote_f64x2_zero ${lo})`
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
  static BN_ROWS = 8;

  static bnSetup(f) {
    const G = Generator.BN_ROWS;
    f.locals32('C4', 'C4v', 'C8', 'C16', 'o', 'p', 'row', 'rEndG', 'rEnd');
    for (let u = 1; u <= G; u++) f.local(`rs${u}`, 'i32');
    return [
      set('C4', shl(get('C'), 2)), set('C4v', `(i32.and ${get('C4')} ${i32(~15)})`),
      set('C8', shl(get('C4'), 1)), set('C16', shl(get('C4'), 2)),
      ...Array.from({ length: G }, (_, u) => set(`rs${u + 1}`, mul(get('C4'), i32(u + 1)))),
      set('rEndG', mul(`(i32.and ${get('R')} ${i32(-G)})`, get('C4'))), set('rEnd', mul(get('R'), get('C4'))),
    ].join('\n');
  }

  static bnRows(label, body) {
    const G = Generator.BN_ROWS;
    const at = (u) => (u === 0 ? get('p') : add(get('p'), get(`rs${u}`)));
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

  static bnChannels(label, body) {
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
  static bnState = {
    ld64: (V, base, x) => (V === 0 ? `(v128.load64_zero ${add(get(base), shl(get('o'), 1))})` : load(add(get(base), shl(get('o'), 1)), x === 'H' ? 16 : 0)),
    st64: (V, base, x, v) => (V === 0 ? `(v128.store64_lane 0 ${add(get(base), shl(get('o'), 1))} ${v})`
      : store(add(get(base), shl(get('o'), 1)), v, x === 'H' ? 16 : 0)),
    ld: (V, addr) => (V === 0 ? load1(addr) : load(addr)),
    st: (V, addr, v) => (V === 0 ? store1(addr, v) : store(addr, v)),
    halves: (V) => (V === 0 ? ['L'] : ['L', 'H']),
    /**
     * Half x ('L': channels 0, 1; 'H': 2, 3) of the float32 vector at addr, as f64x2: two 8-byte loads
     * and two conversions instead of one load, a shuffle and two conversions (the shuffle and the
     * conversions compete for one port on x64, which bounds these loops).
     */
    ldHalf: (V, addr, x) => Generator.lo(V === 0 ? load1(addr) : `(v128.load64_zero${off(x === 'H' ? 8 : 0)} ${addr})`),
  };

  /**
   * batchNormForward(y, xhat, stats, x, gamma, beta, R, C, eps, scratch): three passes over the rows
   * (see bnRows), the sums in float64 in scratch (bytes [0, 8C): Σx, then the mean; [8C, 16C): Σ(x − mean)²).
   * mean = Σ/R, var = Σ/R, invstd = 1/√(var + eps) in float64, stored as float32 [mean, var, invstd]; then in
   * float32, with mean and invstd read back from stats, xhat = (x − mean)·invstd, y = gamma·xhat + beta
   * (a madd). y may be x (each element read, then written).
   */
  batchNormForward() {
    const f = new Func('batchNormForward', [['y', 'i32'], ['xhat', 'i32'], ['stats', 'i32'], ['x', 'i32'], ['gamma', 'i32'], ['beta', 'i32'],
      ['R', 'i32'], ['C', 'i32'], ['eps', 'f64'], ['scratch', 'i32']]);
    f.locals32('sA', 'sB');
    f.localsV('d', 'h', 'Rv', 'epsv', 'aL', 'aH', 'mL', 'mH', 'm', 's', 'g', 'b');
    const { ld64, st64, ld, st, halves, ldHalf } = Generator.bnState;
    const { demote } = Generator;
    const dem = (V, n) => demote(V, get(`${n}L`), V === 0 ? '' : get(`${n}H`));
    const xAt = (at, u) => add(get('x'), at(u));
    return f.emit([
      Generator.bnSetup(f),
      set('Rv', `(f64x2.splat (f64.convert_i32_u ${get('R')}))`), set('epsv', `(f64x2.splat ${get('eps')})`),
      set('sA', get('scratch')), set('sB', add(get('scratch'), get('C8'))),
      Generator.bnChannels('bnf_zero', (V) => halves(V).flatMap((x) => [st64(V, 'sA', x, ZERO), st64(V, 'sB', x, ZERO)]).join('\n')),
      // Σ x
      Generator.bnRows('bnf_sum', (V, U, at) => [
        ...halves(V).map((x) => set(`a${x}`, ld64(V, 'sA', x))),
        ...Array.from({ length: U }, (_, u) => halves(V).map((x) => set(`a${x}`, `(f64x2.add ${get(`a${x}`)} ${ldHalf(V, xAt(at, u), x)})`))).flat(),
        ...halves(V).map((x) => st64(V, 'sA', x, get(`a${x}`))),
      ].join('\n')),
      // mean = Σ/R (in place)
      Generator.bnChannels('bnf_mean', (V) => halves(V).map((x) => st64(V, 'sA', x, `(f64x2.div ${ld64(V, 'sA', x)} ${get('Rv')})`)).join('\n')),
      // Σ (x − mean)²
      Generator.bnRows('bnf_sq', (V, U, at) => [
        ...halves(V).flatMap((x) => [set(`m${x}`, ld64(V, 'sA', x)), set(`a${x}`, ld64(V, 'sB', x))]),
        ...Array.from({ length: U }, (_, u) => halves(V).flatMap((x) => [
          set('d', `(f64x2.sub ${ldHalf(V, xAt(at, u), x)} ${get(`m${x}`)})`),
          set(`a${x}`, `(f64x2.add ${get(`a${x}`)} (f64x2.mul ${get('d')} ${get('d')}))`)])).flat(),
        ...halves(V).map((x) => st64(V, 'sB', x, get(`a${x}`))),
      ].join('\n')),
      // stats: mean, var = Σ/R, invstd (a ← var, then invstd)
      Generator.bnChannels('bnf_stats', (V) => [
        ...halves(V).flatMap((x) => [set(`m${x}`, ld64(V, 'sA', x)), set(`a${x}`, `(f64x2.div ${ld64(V, 'sB', x)} ${get('Rv')})`)]),
        st(V, add(get('stats'), get('o')), dem(V, 'm')),
        st(V, add(add(get('stats'), get('C4')), get('o')), dem(V, 'a')),
        ...halves(V).map((x) => set(`a${x}`, `(f64x2.div (v128.const f64x2 1 1) (f64x2.sqrt (f64x2.add ${get(`a${x}`)} ${get('epsv')})))`)),
        st(V, add(add(get('stats'), get('C8')), get('o')), dem(V, 'a')),
      ].join('\n')),
      // xhat and y, from the float32 mean and invstd
      Generator.bnRows('bnf_y', (V, U, at) => [
        set('m', ld(V, add(get('stats'), get('o')))), set('s', ld(V, add(add(get('stats'), get('C8')), get('o')))),
        set('g', ld(V, add(get('gamma'), get('o')))), set('b', ld(V, add(get('beta'), get('o')))),
        ...Array.from({ length: U }, (_, u) => [
          set('h', `(f32x4.mul (f32x4.sub ${ld(V, xAt(at, u))} ${get('m')}) ${get('s')})`),
          st(V, add(get('xhat'), at(u)), get('h')),
          st(V, add(get('y'), at(u)), this.madd(get('b'), get('g'), get('h'))),
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
   */
  batchNormBackward() {
    const f = new Func('batchNormBackward', [['dx', 'i32'], ['dgamma', 'i32'], ['dbeta', 'i32'], ['dy', 'i32'], ['xhat', 'i32'], ['gamma', 'i32'],
      ['invstd', 'i32'], ['R', 'i32'], ['C', 'i32'], ['scratch', 'i32']]);
    f.locals32('sA', 'sB', 'fM', 'fG', 'fS');
    f.localsV('v', 'h', 'Rv', 'bL', 'bH', 'gL', 'gH', 'mb', 'mg', 'sc');
    const { ld64, st64, ld, st, halves, ldHalf } = Generator.bnState;
    const { demote } = Generator;
    const dem = (V, n) => demote(V, get(`${n}L`), V === 0 ? '' : get(`${n}H`));
    const divR = (V, n) => demote(V, `(f64x2.div ${get(`${n}L`)} ${get('Rv')})`, V === 0 ? '' : `(f64x2.div ${get(`${n}H`)} ${get('Rv')})`);
    const at32 = (base) => add(get(base), get('o'));
    return f.emit([
      Generator.bnSetup(f),
      set('Rv', `(f64x2.splat (f64.convert_i32_u ${get('R')}))`),
      set('sA', get('scratch')), set('sB', add(get('scratch'), get('C8'))), set('fM', add(get('scratch'), get('C16'))),
      set('fG', add(get('fM'), get('C4'))), set('fS', add(get('fG'), get('C4'))),
      Generator.bnChannels('bnb_zero', (V) => halves(V).flatMap((x) => [st64(V, 'sA', x, ZERO), st64(V, 'sB', x, ZERO)]).join('\n')),
      // Σ dy, Σ dy·xhat
      Generator.bnRows('bnb_sum', (V, U, at) => [
        ...halves(V).flatMap((x) => [set(`b${x}`, ld64(V, 'sA', x)), set(`g${x}`, ld64(V, 'sB', x))]),
        ...Array.from({ length: U }, (_, u) => halves(V).flatMap((x) => [
          set('v', ldHalf(V, add(get('dy'), at(u)), x)), set('h', ldHalf(V, add(get('xhat'), at(u)), x)),
          set(`b${x}`, `(f64x2.add ${get(`b${x}`)} ${get('v')})`),
          set(`g${x}`, `(f64x2.add ${get(`g${x}`)} (f64x2.mul ${get('v')} ${get('h')}))`)])).flat(),
        ...halves(V).flatMap((x) => [st64(V, 'sA', x, get(`b${x}`)), st64(V, 'sB', x, get(`g${x}`))]),
      ].join('\n')),
      // dbeta, dgamma; Σdy/R, Σdy·xhat/R (float32), gamma·invstd
      Generator.bnChannels('bnb_fin', (V) => [
        ...halves(V).flatMap((x) => [set(`b${x}`, ld64(V, 'sA', x)), set(`g${x}`, ld64(V, 'sB', x))]),
        st(V, at32('dbeta'), dem(V, 'b')),
        st(V, at32('dgamma'), dem(V, 'g')),
        st(V, at32('fM'), divR(V, 'b')),
        st(V, at32('fG'), divR(V, 'g')),
        st(V, at32('fS'), `(f32x4.mul ${ld(V, at32('gamma'))} ${ld(V, at32('invstd'))})`),
      ].join('\n')),
      // dx
      Generator.bnRows('bnb_dx', (V, U, at) => [
        set('mb', ld(V, at32('fM'))), set('mg', ld(V, at32('fG'))), set('sc', ld(V, at32('fS'))),
        ...Array.from({ length: U }, (_, u) => st(V, add(get('dx'), at(u)),
          `(f32x4.mul ${get('sc')} ${this.nmadd(`(f32x4.sub ${ld(V, add(get('dy'), at(u)))} ${get('mb')})`, ld(V, add(get('xhat'), at(u))), get('mg'))})`)),
      ].join('\n')),
    ].join('\n'));
  }

  /** scaleShift(y, x, scale, shift, R, C): y = x·scale[c] + shift[c] (a madd); blocks of 16, 4, 1 channels, rows inner. y may be x. */
  scaleShift() {
    const f = new Func('scaleShift', [['y', 'i32'], ['x', 'i32'], ['scale', 'i32'], ['shift', 'i32'], ['R', 'i32'], ['C', 'i32']]);
    f.locals32('c', 'C4', 'o', 'oe', 'cb');
    const block = (V) => {
      const cols = Math.max(V, 1);
      const ld = (p, q) => (V === 0 ? load1(p) : load(p, 16 * q));
      const st = (p, v, q) => (V === 0 ? store1(p, v) : store(p, v, 16 * q));
      const a = (q) => f.local(`a${q}`, 'v128');
      const b = (q) => f.local(`b${q}`, 'v128');
      const out = [set('cb', shl(get('c'), 2))];
      for (let q = 0; q < cols; q++) out.push(set(a(q), ld(add(get('scale'), get('cb')), q)), set(b(q), ld(add(get('shift'), get('cb')), q)));
      out.push(set('o', get('cb')), set('oe', add(get('cb'), mul(get('R'), get('C4')))));
      out.push(whileLoop(`ss_r${V}`, `(i32.lt_u ${get('o')} ${get('oe')})`, [
        ...Array.from({ length: cols }, (_, q) => st(add(get('y'), get('o')), this.madd(get(b(q)), ld(add(get('x'), get('o')), q), get(a(q))), q)),
        set('o', add(get('o'), get('C4'))),
      ].join('\n')));
      return out.join('\n');
    };
    return f.emit([set('C4', shl(get('C'), 2)), this.channelStages('ss_c', [4, 1, 0], block)].join('\n'));
  }

  /** multiply(y, x, mask, n): y = x ⊙ mask; addTo(dst, src, n): dst += src. */
  multiplyAddTo() {
    return [
      this.elementwise('multiply', [['y', 'i32'], ['x', 'i32'], ['mask', 'i32'], ['n', 'i32']], (ld, st) =>
        st('y', `(f32x4.mul ${ld('x')} ${ld('mask')})`)),
      this.elementwise('addTo', [['dst', 'i32'], ['src', 'i32'], ['n', 'i32']], (ld, st) =>
        st('dst', `(f32x4.add ${ld('dst')} ${ld('src')})`)),
    ].join('\n');
  }

  /**
   * adamStep(params, grad, m, v, begin, end, lr, b1, omb1, b2, omb2, eps, wd, decoupled, c1, c2) on
   * [begin, end), with omb = 1 − β and c = 1/(1 − βᵗ) from the caller (float64 there, then float32):
   * g = grad (+ wd·θ unless decoupled); m = β₁m + (1−β₁)g; v = β₂v + ((1−β₂)g)g;
   * u = (m·c1)/(√(v·c2) + eps) (+ wd·θ when decoupled); θ ← θ − lr·u. Multiply-adds as madd/nmadd.
   */
  adamStep() {
    const out = [];
    const hp = ['lr', 'b1', 'omb1', 'b2', 'omb2', 'eps', 'wd', 'c1', 'c2'];
    for (const decoupled of [false, true]) {
      const name = decoupled ? 'adamDecoupled' : 'adamCoupled';
      const params = [['params', 'i32'], ['grad', 'i32'], ['m', 'i32'], ['v', 'i32'], ['n', 'i32'], ...hp.map((h) => [h, 'f32'])];
      const V = (h) => get(`${h}v`);
      out.push(this.elementwise(name, params, (ld, st) => [
        set('t', ld('params')),
        set('g', decoupled ? ld('grad') : this.madd(ld('grad'), V('wd'), get('t'))),
        set('mp', this.madd(`(f32x4.mul ${V('omb1')} ${get('g')})`, V('b1'), ld('m'))),
        set('vp', this.madd(`(f32x4.mul (f32x4.mul ${V('omb2')} ${get('g')}) ${get('g')})`, V('b2'), ld('v'))),
        st('m', get('mp')),
        st('v', get('vp')),
        set('u', `(f32x4.div (f32x4.mul ${get('mp')} ${V('c1')}) (f32x4.add (f32x4.sqrt (f32x4.mul ${get('vp')} ${V('c2')})) ${V('eps')}))`),
        decoupled ? set('u', this.madd(get('u'), V('wd'), get('t'))) : '',
        st('params', this.nmadd(get('t'), V('lr'), get('u'))),
      ].join('\n'), {
        exported: false,
        locals: [...['t', 'g', 'mp', 'vp', 'u'], ...hp.map((h) => `${h}v`)].map((n) => [n, 'v128']),
        prologue: hp.map((h) => set(`${h}v`, `(f32x4.splat ${get(h)})`)),
      }));
    }
    const args = (o) => [...['params', 'grad', 'm', 'v'].map((p) => add(get(p), o)), get('n'), ...hp.map(get)].join(' ');
    out.push(`(func $adamStep (export "adamStep") (param $params i32) (param $grad i32) (param $m i32) (param $v i32) (param $begin i32) (param $end i32)
${hp.map((h) => `(param $${h} f32)`).join(' ')} (param $decoupled i32) (local $o i32) (local $n i32)
(if (i32.le_s ${get('end')} ${get('begin')}) (then (return)))
(local.set $o ${shl(get('begin'), 2)})
(local.set $n ${sub(get('end'), get('begin'))})
(if ${get('decoupled')} (then (call $adamDecoupled ${args(get('o'))})) (else (call $adamCoupled ${args(get('o'))}))))`);
    return out.join('\n');
  }

  /** emaUpdate(avg, x, begin, end, decay, omd): avg = decay·avg + omd·x on [begin, end), omd = 1 − decay from the caller. */
  emaUpdate() {
    const inner = this.elementwise('emaRange', [['avg', 'i32'], ['x', 'i32'], ['n', 'i32'], ['decay', 'f32'], ['omd', 'f32']], (ld, st) =>
      st('avg', this.madd(`(f32x4.mul ${get('omdv')} ${ld('x')})`, get('decv'), ld('avg'))),
    { exported: false, locals: [['decv', 'v128'], ['omdv', 'v128']],
      prologue: [set('decv', `(f32x4.splat ${get('decay')})`), set('omdv', `(f32x4.splat ${get('omd')})`)] });
    return `${inner}
(func $emaUpdate (export "emaUpdate") (param $avg i32) (param $x i32) (param $begin i32) (param $end i32) (param $decay f32) (param $omd f32) (local $o i32)
(if (i32.le_s ${get('end')} ${get('begin')}) (then (return)))
(local.set $o ${shl(get('begin'), 2)})
(call $emaRange ${add(get('avg'), get('o'))} ${add(get('x'), get('o'))} ${sub(get('end'), get('begin'))} ${get('decay')} ${get('omd')}))`;
  }
}
