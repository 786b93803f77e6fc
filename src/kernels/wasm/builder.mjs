// @ts-check
/**
 * The small WebAssembly-text builder every kernel family is written with: expressions as strings, a
 * function with its locals (Func), the loops, and the Emitter that carries what differs between the two
 * builds (plain or relaxed SIMD multiply-adds). See generate.mjs for the conventions the kernels keep.
 */

/** @typedef {string} Wat  a fragment of WebAssembly text: an expression, or statements one per line */
/** @typedef {'i32' | 'f32' | 'f64' | 'v128'} ValType */
/** @typedef {[name: string, type: ValType][]} Params */

/** @param {string} n */
export const get = (n) => `(local.get $${n})`;
/** @param {string} n @param {Wat} e */
export const set = (n, e) => `(local.set $${n} ${e})`;
/** @param {number | string} v */
export const i32 = (v) => `(i32.const ${v})`;
/** @param {Wat} a @param {Wat} b */
export const add = (a, b) => `(i32.add ${a} ${b})`;
/** @param {Wat} a @param {Wat} b */
export const sub = (a, b) => `(i32.sub ${a} ${b})`;
/** @param {Wat} a @param {Wat} b */
export const mul = (a, b) => `(i32.mul ${a} ${b})`;
/** @param {Wat} a @param {number} s */
export const shl = (a, s) => `(i32.shl ${a} ${i32(s)})`;
/** @param {number | string} v */
export const f32 = (v) => `(f32.const ${v})`;
/** @param {number} v */
export const f32x4 = (v) => `(v128.const f32x4 ${v} ${v} ${v} ${v})`;
export const ZERO = '(v128.const i32x4 0 0 0 0)';
/** @param {number} o */
export const off = (o) => (o ? ` offset=${o}` : '');
/** @param {Wat} addr */
export const load = (addr, o = 0) => `(v128.load${off(o)} ${addr})`;
/** @param {Wat} addr @param {Wat} v */
export const store = (addr, v, o = 0) => `(v128.store${off(o)} ${addr} ${v})`;
/** A single float into lane 0 (other lanes zero) / out of lane 0: how remainder elements run the vector code. @param {Wat} addr */
export const load1 = (addr, o = 0) => `(v128.load32_zero${off(o)} ${addr})`;
/** @param {Wat} addr @param {Wat} v */
export const store1 = (addr, v, o = 0) => `(v128.store32_lane${off(o)} 0 ${addr} ${v})`;
/**
 * i8x16.shuffle from four f32 lane indices (0–3: first operand, 4–7: second).
 * @param {Wat} a @param {Wat} b @param {number[]} lanes
 */
export const shuffle = (a, b, lanes) =>
  `(i8x16.shuffle ${lanes.flatMap((l) => [0, 1, 2, 3].map((q) => 4 * l + q)).join(' ')} ${a} ${b})`;

/**
 * `while (cond) body`, compiled as a guarded do-while (one branch per iteration).
 * @param {string} label @param {Wat} cond @param {Wat} body
 */
export const whileLoop = (label, cond, body) =>
  `(if ${cond} (then (loop $${label}\n${body}\n(br_if $${label} ${cond}))))`;

/**
 * `while (counter < end) { body; counter++ }` over an i32 local (signed), as whileLoop; the caller sets
 * counter's start (most loops start at 0, beside other locals they set).
 * @param {string} label @param {string} counter a local's name @param {Wat} end @param {Wat[]} body
 */
export const countUp = (label, counter, end, body) =>
  whileLoop(label, `(i32.lt_s ${get(counter)} ${end})`, [...body, set(counter, add(get(counter), i32(1)))].join('\n'));

/** A function being written: its parameters, and the locals its body declares as it goes. */
export class Func {
  /** @param {string} name @param {Params} params @param {ValType} [result] */
  constructor(name, params, result) {
    this.name = name;
    this.params = params;
    this.result = result;
    /** @type {Map<string, ValType>} */
    this.locals = new Map();
  }
  /** Declares local `name` (again: the same type) and returns its name. @param {string} name @param {ValType} type */
  local(name, type) {
    const had = this.locals.get(name);
    if (had && had !== type) throw new Error(`local $${name} declared as ${had} and ${type}`);
    this.locals.set(name, type);
    return name;
  }
  /** @param {string[]} names */
  locals32(...names) { for (const n of names) this.local(n, 'i32'); }
  /** @param {string[]} names */
  localsV(...names) { for (const n of names) this.local(n, 'v128'); }
  /** The function's text, its locals declared first. @param {Wat} body */
  emit(body, exported = true) {
    const params = this.params.map(([n, t]) => `(param $${n} ${t})`).join(' ');
    const result = this.result ? ` (result ${this.result})` : '';
    const locals = [...this.locals].map(([n, t]) => `(local $${n} ${t})`).join(' ');
    const exp = exported ? ` (export "${this.name}")` : '';
    return `(func $${this.name}${exp} ${params}${result}\n${locals}\n${body})`;
  }
}

/** What the two builds differ in (how a·b + c is computed), and the counter that keeps inline labels unique. */
export class Emitter {
  /** @param {boolean} relaxed */
  constructor(relaxed) {
    this.relaxed = relaxed;
    this.runs = 0;
  }

  /** acc + a·b: fused (one rounding) in the relaxed build, f32x4.mul then f32x4.add in the plain one. @param {Wat} acc @param {Wat} a @param {Wat} b */
  madd(acc, a, b) {
    return this.relaxed ? `(f32x4.relaxed_madd ${a} ${b} ${acc})` : `(f32x4.add ${acc} (f32x4.mul ${a} ${b}))`;
  }

  /** c − a·b, likewise. @param {Wat} c @param {Wat} a @param {Wat} b */
  nmadd(c, a, b) {
    return this.relaxed ? `(f32x4.relaxed_nmadd ${a} ${b} ${c})` : `(f32x4.sub ${c} (f32x4.mul ${a} ${b}))`;
  }

  /** A fresh number for the labels of one inline code block (numbered in the order the module is written). */
  nextRunId() {
    return ++this.runs;
  }
}

/**
 * @typedef {object} ElementwiseOptions
 * @property {[string, ValType][]} [locals]
 * @property {Wat[] | ((f: Func) => Wat[])} [prologue]  statements before the loops (a function: declares locals on f)
 * @property {boolean} [exported]
 */

/**
 * An elementwise loop over n floats: four vectors per iteration, then single vectors, then single
 * elements in lane 0 (load32_zero / store32_lane), all through the same `step`, so every element is
 * computed by the same instructions. `step(ld, st)` emits one vector's work; ld(ptr) loads, st(ptr, v)
 * stores at the current element of the named pointer parameter.
 * @param {string} name @param {Params} params
 * @param {(ld: (p: string) => Wat, st: (p: string, v: Wat) => Wat, f: Func) => Wat} step
 * @param {ElementwiseOptions} [options]
 */
export function elementwise(name, params, step, { locals = [], prologue = [], exported = true } = {}) {
  const f = new Func(name, params);
  f.locals32('e', 'e16', 'e4');
  for (const [n, t] of locals) f.local(n, t);
  /** @param {number} width @param {number} o */
  const body = (width, o) => {
    /** @param {string} p */
    const at = (p) => add(get(p), get('e'));
    /** @param {string} p */
    const ld = (p) => (width === 1 ? load1(at(p), o) : load(at(p), o));
    /** @param {string} p @param {Wat} v */
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

/**
 * Channel stages over [c, C): blocks of V vectors (4·V channels) for V in `stages`, V = 0 one channel in lane 0.
 * @param {string} label @param {number[]} stages @param {(V: number) => Wat} block
 */
export function channelStages(label, stages, block) {
  const out = [set('c', i32(0))];
  for (const V of stages) {
    const w = V === 0 ? 1 : 4 * V;
    out.push(whileLoop(`${label}_${V}`, `(i32.le_s ${add(get('c'), i32(w))} ${get('C')})`, block(V) + '\n' + set('c', add(get('c'), i32(w)))));
  }
  return out.join('\n');
}
