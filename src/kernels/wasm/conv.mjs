// @ts-check
/**
 * The convolution and pooling family (NHWC: channels fastest): im2col, col2im, max pooling.
 * (See generate.mjs for the conventions and the determinism every kernel keeps.)
 */
import { get, set, i32, add, sub, mul, shl, ZERO, load, store, load1, store1, whileLoop, countUp, Func, channelStages } from './builder.mjs';

/** @typedef {import('./builder.mjs').Wat} Wat */
/** @typedef {import('./builder.mjs').Emitter} Emitter */

// ── Convolutional networks (NHWC: channels fastest) ─────────────────────────────────────────────────

/**
 * Inline: one run of `len` bytes (a multiple of 4) at the running pointers rd (and rs), which it
 * advances to the run's end. kind 'copy' (rd ← rs), 'zero' (rd ← 0) or 'add' (rd ← rd + rs): four
 * vectors at a time, then single vectors, then the rest. A copy or zero run of at least 16 bytes ends
 * with one vector over its last 16 bytes (overlapping what is already written, with the same bits);
 * shorter ones, and the rest of an add run, go 4 bytes at a time (f32.add rounds as a lane of f32x4.add).
 * Nothing outside [rd, rd + len) is written, nothing outside [rs, rs + len) read.
 * @param {Emitter} g @param {Func} f @param {'copy' | 'zero' | 'add'} kind @param {Wat} len
 */
function run(g, f, kind, len) {
  const id = g.nextRunId();
  f.locals32('rd', 'rs', 're', 'rl', 'rt');
  const src = kind !== 'zero';
  /** @param {number} o */
  const vec = (o) => (kind === 'zero' ? store(get('rd'), ZERO, o)
    : kind === 'copy' ? store(get('rd'), load(get('rs'), o), o)
      : store(get('rd'), `(f32x4.add ${load(get('rd'), o)} ${load(get('rs'), o)})`, o));
  const one = kind === 'zero' ? `(i32.store ${get('rd')} ${i32(0)})`
    : kind === 'copy' ? `(i32.store ${get('rd')} (i32.load ${get('rs')}))`
      : `(f32.store ${get('rd')} (f32.add (f32.load ${get('rd')}) (f32.load ${get('rs')})))`;
  /** @param {number} b */
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
 * @param {Func} f @param {string} name @param {string} image @param {{ inside: Wat, outside?: Wat, after?: Wat }} body
 */
function patchLoops(f, name, image, { inside, outside = '', after = '' }) {
  f.locals32('n', 'oy', 'ox', 'iy', 'iyEnd', 'xo', 'kx0', 'kx1', 'pre', 'len', 'post', 'seg', 'C4', 'rowB', 'imgB', 'xn', 'xcol');
  return [
    set('C4', shl(get('C'), 2)), set('seg', mul(get('k'), get('C4'))),
    set('rowB', mul(get('W'), get('C4'))), set('imgB', mul(get('H'), get('rowB'))),
    set('n', i32(0)), set('xn', get(image)),
    countUp(`${name}_n`, 'n', get('M'), [
      set('oy', i32(0)),
      countUp(`${name}_oy`, 'oy', get('OH'), [
        set('ox', i32(0)),
        countUp(`${name}_ox`, 'ox', get('OW'), [
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
          countUp(`${name}_ky`, 'iy', get('iyEnd'), [
            `(if (i32.lt_u ${get('iy')} ${get('H')}) (then\n${inside}\n)${outside ? ` (else\n${outside}\n)` : ''})`,
            after,
          ]),
        ]),
      ]),
      set('xn', add(get('xn'), get('imgB'))),
    ]),
  ].join('\n');
}

/** The convolution kernels' shape parameters, after their two pointers. @type {import('./builder.mjs').Params} */
const CONV_PARAMS = ['M', 'H', 'W', 'C', 'k', 'stride', 'pad', 'OH', 'OW'].map((n) => [n, 'i32']);

/**
 * im2col(cols, x, M, H, W, C, k, stride, pad, OH, OW): cols (M·OH·OW, k·k·C) = the patches of x. Each
 * patch row is written left to right as a zero run, a copy of the run of x inside the image, and a zero
 * run (see run()); pure copies, so the bits are x's.
 * @param {Emitter} g
 */
export function im2col(g) {
  const f = new Func('im2col', [['cols', 'i32'], ['x', 'i32'], ...CONV_PARAMS]);
  return f.emit([
    set('rd', get('cols')),
    `(if (i32.eqz ${get('pad')}) (then\n${unpaddedPatches(f)}\n) (else\n${patchLoops(f, 'i2c', 'x', {
      inside: [
        run(g, f, 'zero', get('pre')),
        set('rs', add(get('xcol'), mul(get('iy'), get('rowB')))),
        run(g, f, 'copy', get('len')),
        run(g, f, 'zero', get('post')),
      ].join('\n'),
      outside: run(g, f, 'zero', get('seg')),
    })}\n))`,
  ].join('\n'));
}

/**
 * im2col without padding (every patch inside the image: the first layer of most networks, where C = 1
 * makes a patch row only k floats and the general loops' bookkeeping per row cost more than the copy):
 * per output pixel, k rows of seg = k·C floats, each copied straight from x's row iy, 16 bytes at a time
 * with one overlapping vector for the end, or 4 bytes at a time below 16. The same bytes as the general
 * loops write (pure copies).
 * @param {Func} f
 */
function unpaddedPatches(f) {
  f.locals32('n', 'oy', 'ox', 'ky', 'C4', 'seg', 'rowB', 'imgB', 'xn', 'xr', 'rs0', 'ro', 'rs', 'rd');
  const copyRow = `(if (i32.ge_u ${get('seg')} ${i32(16)}) (then
${set('ro', i32(0))}
${whileLoop('i2u_v', `(i32.le_u ${add(get('ro'), i32(16))} ${get('seg')})`, [
    store(add(get('rd'), get('ro')), load(add(get('rs'), get('ro')))),
    set('ro', add(get('ro'), i32(16))),
  ].join('\n'))}
(if (i32.lt_u ${get('ro')} ${get('seg')}) (then ${store(sub(add(get('rd'), get('seg')), i32(16)), load(sub(add(get('rs'), get('seg')), i32(16))))}))
) (else
${set('ro', i32(0))}
${whileLoop('i2u_4', `(i32.lt_u ${get('ro')} ${get('seg')})`, [
    `(i32.store ${add(get('rd'), get('ro'))} (i32.load ${add(get('rs'), get('ro'))}))`,
    set('ro', add(get('ro'), i32(4))),
  ].join('\n'))}
))`;
  return [
    set('C4', shl(get('C'), 2)), set('seg', mul(get('k'), get('C4'))),
    set('rowB', mul(get('W'), get('C4'))), set('imgB', mul(get('H'), get('rowB'))),
    set('n', i32(0)), set('xn', get('x')),
    countUp('i2u_n', 'n', get('M'), [
      set('oy', i32(0)), set('xr', get('xn')),
      countUp('i2u_oy', 'oy', get('OH'), [
        set('ox', i32(0)), set('rs0', get('xr')),
        countUp('i2u_ox', 'ox', get('OW'), [
          set('ky', i32(0)), set('rs', get('rs0')),
          countUp('i2u_ky', 'ky', get('k'), [
            copyRow,
            set('rd', add(get('rd'), get('seg'))),
            set('rs', add(get('rs'), get('rowB'))),
          ]),
          set('rs0', add(get('rs0'), mul(get('stride'), get('C4')))),
        ]),
        set('xr', add(get('xr'), mul(get('stride'), get('rowB')))),
      ]),
      set('xn', add(get('xn'), get('imgB'))),
    ]),
  ].join('\n');
}

/**
 * col2im(dx, dcols, M, H, W, C, k, stride, pad, OH, OW): dx zeroed, then each patch row's runs that
 * im2col copied added back, in ascending patch row (n, oy, ox) and ky: an element of dx is 0 + its
 * contributions in that order (the order of the TypeScript loop; a float32 add rounds as its f64 add
 * rounded to float32, so the bits are the same).
 * @param {Emitter} g
 */
export function col2im(g) {
  const f = new Func('col2im', [['dx', 'i32'], ['dcols', 'i32'], ...CONV_PARAMS]);
  f.locals32('pd');
  return f.emit([
    set('rd', get('dx')),
    run(g, f, 'zero', shl(mul(mul(mul(get('M'), get('H')), get('W')), get('C')), 2)),
    set('pd', get('dcols')),
    patchLoops(f, 'c2i', 'dx', {
      inside: [
        set('rd', add(get('xcol'), mul(get('iy'), get('rowB')))),
        set('rs', add(get('pd'), get('pre'))),
        run(g, f, 'add', get('len')),
      ].join('\n'),
      after: set('pd', add(get('pd'), get('seg'))),
    }),
  ].join('\n'));
}


/**
 * maxPoolForward(y, argmax, x, M, H, W, C, size): size×size windows, stride size. Vectorised across
 * channels (blocks of 16, 4, then single channels in lane 0): per window element, in (dy, dx) order,
 * lanes where x > best take x and the element's offset in the window (f32x4.gt: NaN never wins, the
 * first element always counts, ties keep the first: the TypeScript semantics); the offsets become
 * indices into x at the end.
 * @param {Emitter} g
 */
export function maxPoolForward(g) {
  const f = new Func('maxPoolForward', [['y', 'i32'], ['argmax', 'i32'], ['x', 'i32'], ['M', 'i32'], ['H', 'i32'], ['W', 'i32'], ['C', 'i32'], ['size', 'i32']]);
  f.locals32('OH', 'OW', 'n', 'oy', 'ox', 'c', 'C4', 'rowB', 'WC', 'wIdx', 'py', 'p', 'pr', 'q', 'o', 'orow', 'wy', 'wx');
  f.localsV('os', 'v', 'mk');
  /** @param {number} V */
  const block = (V) => {
    const cols = Math.max(V, 1);
    /** @param {number} q */
    const best = (q) => f.local(`best${q}`, 'v128');
    /** @param {number} q */
    const at = (q) => f.local(`at${q}`, 'v128');
    /** @param {Wat} addr @param {number} q */
    const ld = (addr, q) => (V === 0 ? load1(addr) : load(addr, 16 * q));
    /** @param {Wat} addr @param {Wat} v @param {number} q */
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
    countUp('mp_n', 'n', get('M'), [
      set('oy', i32(0)),
      countUp('mp_oy', 'oy', get('OH'), [
        set('wIdx', mul(add(mul(get('n'), get('H')), mul(get('oy'), get('size'))), get('WC'))),
        set('ox', i32(0)),
        countUp('mp_ox', 'ox', get('OW'), [
          channelStages('mp_c', [4, 1, 0], block),
          set('wIdx', add(get('wIdx'), mul(get('size'), get('C')))),
          set('py', add(get('py'), get('C4'))),
        ]),
      ]),
    ]),
  ].join('\n'));
}

/**
 * maxPoolBackward(dx, dy, argmax, n, len) → 0, or 1 (and nothing written) when an index of argmax is
 * outside [0, len). dx (len) zeroed, then dx[argmax[i]] += dy[i] in ascending i.
 * @param {Emitter} g
 */
export function maxPoolBackward(g) {
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
    countUp('mpb_check1', 'i', get('n'), [
      `(if (i32.ge_u ${idx} ${get('len')}) (then (return ${i32(1)})))`,
    ]),
    `(if (v128.any_true ${get('bad')}) (then (return ${i32(1)})))`,
    set('rd', get('dx')),
    run(g, f, 'zero', shl(get('len'), 2)),
    set('i', i32(0)),
    countUp('mpb_add', 'i', get('n'), [
      set('p', add(get('dx'), shl(idx, 2))),
      `(f32.store ${get('p')} (f32.add (f32.load ${get('p')}) (f32.load ${add(get('dy'), shl(get('i'), 2))})))`,
    ]),
    i32(0),
  ].join('\n'));
}
