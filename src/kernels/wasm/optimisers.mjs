// @ts-check
/**
 * The optimisers' steps: SGD (momentum, Nesterov), Adam / AdamW, and the exponential moving average.
 * (See generate.mjs for the conventions and the determinism every kernel keeps.)
 */
import { get, set, add, sub, shl, elementwise } from './builder.mjs';

/** @typedef {import('./builder.mjs').Wat} Wat */
/** @typedef {import('./builder.mjs').Emitter} Emitter */

/**
 * sgdStep(params, grad, velocity, begin, end, lr, momentum, nesterov, weightDecay), on [begin, end):
 * g ← grad + λθ; v ← μv + g; θ ← θ − α·(nesterov ? g + μv : v).
 * @param {Emitter} g
 */
export function sgdStep(g) {
  const out = [];
  for (const nesterov of [false, true]) {
    const name = nesterov ? 'sgdNesterov' : 'sgdPlain';
    /** @type {import('./builder.mjs').Params} */
    const params = [['params', 'i32'], ['grad', 'i32'], ['vel', 'i32'], ['n', 'i32'], ['lr', 'f32'], ['mom', 'f32'], ['wd', 'f32']];
    out.push(elementwise(name, params, (ld, st) => [
      set('t', ld('params')),
      set('g', g.madd(ld('grad'), get('wdv'), get('t'))),
      set('v', g.madd(get('g'), get('momv'), ld('vel'))),
      st('vel', get('v')),
      st('params', g.nmadd(get('t'), get('lrv'), nesterov ? g.madd(get('g'), get('momv'), get('v')) : get('v'))),
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

/**
 * adamStep(params, grad, m, v, begin, end, lr, b1, omb1, b2, omb2, eps, wd, decoupled, c1, c2) on
 * [begin, end), with omb = 1 − β and c = 1/(1 − βᵗ) from the caller (float64 there, then float32):
 * g = grad (+ wd·θ unless decoupled); m = β₁m + (1−β₁)g; v = β₂v + ((1−β₂)g)g;
 * u = (m·c1)/(√(v·c2) + eps) (+ wd·θ when decoupled); θ ← θ − lr·u. Multiply-adds as madd/nmadd.
 * @param {Emitter} g
 */
export function adamStep(g) {
  const out = [];
  const hp = ['lr', 'b1', 'omb1', 'b2', 'omb2', 'eps', 'wd', 'c1', 'c2'];
  for (const decoupled of [false, true]) {
    const name = decoupled ? 'adamDecoupled' : 'adamCoupled';
    /** @type {import('./builder.mjs').Params} */
    const params = [['params', 'i32'], ['grad', 'i32'], ['m', 'i32'], ['v', 'i32'], ['n', 'i32'], ...hp.map((h) => /** @type {[string, 'f32']} */ ([h, 'f32']))];
    /** @param {string} h */
    const V = (h) => get(`${h}v`);
    out.push(elementwise(name, params, (ld, st) => [
      set('t', ld('params')),
      set('g', decoupled ? ld('grad') : g.madd(ld('grad'), V('wd'), get('t'))),
      set('mp', g.madd(`(f32x4.mul ${V('omb1')} ${get('g')})`, V('b1'), ld('m'))),
      set('vp', g.madd(`(f32x4.mul (f32x4.mul ${V('omb2')} ${get('g')}) ${get('g')})`, V('b2'), ld('v'))),
      st('m', get('mp')),
      st('v', get('vp')),
      set('u', `(f32x4.div (f32x4.mul ${get('mp')} ${V('c1')}) (f32x4.add (f32x4.sqrt (f32x4.mul ${get('vp')} ${V('c2')})) ${V('eps')}))`),
      decoupled ? set('u', g.madd(get('u'), V('wd'), get('t'))) : '',
      st('params', g.nmadd(get('t'), V('lr'), get('u'))),
    ].join('\n'), {
      exported: false,
      locals: [...['t', 'g', 'mp', 'vp', 'u'], ...hp.map((h) => `${h}v`)].map((n) => [n, 'v128']),
      prologue: hp.map((h) => set(`${h}v`, `(f32x4.splat ${get(h)})`)),
    }));
  }
  /** @param {Wat} o */
  const args = (o) => [...['params', 'grad', 'm', 'v'].map((p) => add(get(p), o)), get('n'), ...hp.map(get)].join(' ');
  out.push(`(func $adamStep (export "adamStep") (param $params i32) (param $grad i32) (param $m i32) (param $v i32) (param $begin i32) (param $end i32)
${hp.map((h) => `(param $${h} f32)`).join(' ')} (param $decoupled i32) (local $o i32) (local $n i32)
(if (i32.le_s ${get('end')} ${get('begin')}) (then (return)))
(local.set $o ${shl(get('begin'), 2)})
(local.set $n ${sub(get('end'), get('begin'))})
(if ${get('decoupled')} (then (call $adamDecoupled ${args(get('o'))})) (else (call $adamCoupled ${args(get('o'))}))))`);
  return out.join('\n');
}

/** emaUpdate(avg, x, begin, end, decay, omd): avg = decay·avg + omd·x on [begin, end), omd = 1 − decay from the caller. @param {Emitter} g */
export function emaUpdate(g) {
  const inner = elementwise('emaRange', [['avg', 'i32'], ['x', 'i32'], ['n', 'i32'], ['decay', 'f32'], ['omd', 'f32']], (ld, st) =>
    st('avg', g.madd(`(f32x4.mul ${get('omdv')} ${ld('x')})`, get('decv'), ld('avg'))),
  { exported: false, locals: [['decv', 'v128'], ['omdv', 'v128']],
    prologue: [set('decv', `(f32x4.splat ${get('decay')})`), set('omdv', `(f32x4.splat ${get('omd')})`)] });
  return `${inner}
(func $emaUpdate (export "emaUpdate") (param $avg i32) (param $x i32) (param $begin i32) (param $end i32) (param $decay f32) (param $omd f32) (local $o i32)
(if (i32.le_s ${get('end')} ${get('begin')}) (then (return)))
(local.set $o ${shl(get('begin'), 2)})
(call $emaRange ${add(get('avg'), get('o'))} ${add(get('x'), get('o'))} ${sub(get('end'), get('begin'))} ${get('decay')} ${get('omd')}))`;
}
