// @ts-check
/**
 * The loss: output activation, loss and its gradient per row (softmax with a float64 logarithm).
 * (See generate.mjs for the conventions and the determinism every kernel keeps.)
 */
import { get, set, i32, add, mul, shl, f32, whileLoop, countUp } from './builder.mjs';

/** @typedef {import('./builder.mjs').Wat} Wat */
/** @typedef {import('./builder.mjs').Emitter} Emitter */

/**
 * Natural log in float64 for x > 0 (the softmax normaliser, ≥ 1): x = m·2^e with m in [√½, √2),
 * ln m = 2 atanh(s), s = (m − 1)/(m + 1), |s| ≤ 0.172, by its series to s²¹ (error < 1e-16).
 * NaN, +∞ pass through; x ≤ 0 gives NaN.
 */
export function logf64() {
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
 * @param {Emitter} g
 */
export function lossForwardBackward(g) {
  /** @param {Wat} p */
  const F = (p) => `(f64.promote_f32 (f32.load ${p}))`;
  const zj = add(get('o'), shl(get('j'), 2));
  const dj = add(get('d'), shl(get('j'), 2));
  const onehot = `(f64.convert_i32_u (i32.eq ${get('j')} ${get('label')}))`;
  let loops = 0;
  /** for (j = 0; j < C; j++) body @param {Wat} body */
  const forJ = (body) => `${set('j', i32(0))}\n${countUp(`loss_j${++loops}`, 'j', get('C'), [body])}`;
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
${countUp('loss_r', 'r', get('M'), [
    set('o', add(get('z'), shl(mul(get('r'), get('C')), 2))),
    set('d', add(get('dz'), shl(mul(get('r'), get('C')), 2))),
    set('label', `(i32.load ${add(get('y'), shl(get('r'), 2))})`),
    `(if (i32.eq ${get('out')} ${i32(3)}) (then\n${softmax}\n) (else\n${squared}\n))`,
  ])}
${get('total')})`;
}
