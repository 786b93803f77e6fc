import { describe, expect, it } from 'vitest';
import { Phase, resetPhase, ticketWords } from '../src/engine/queues.js';
import type { StepContext } from '../src/engine/step.js';
import { BLOCK_FLOATS, blockSumWords, needsBlocks, updateBlocks, updateByBlocks, updateChunk, type UpdateStep } from '../src/engine/update.js';
import { compileNet, type TensorInfo } from '../src/model/layout.js';
import { parseCnnSpec } from '../src/model/spec.js';
import { OPTIMIZERS, type OptimizerKind, type OptimizerOptions } from '../src/optim/index.js';
import { trustRatio } from '../src/optim/lamb.js';
import { kernelImplementations, type KernelsUnderTest } from './helpers/implementations.js';
import { maxRelativeError, randomFloats, refAdamStep } from './helpers/reference.js';
import { refClipGradNorm, refLambStep, refSgdStep } from './helpers/reference-optim.js';

/**
 * Each optimiser's step, as the engine runs it (update.ts: by chunks for the elementwise ones, by blocks
 * with clipping or LAMB), against float64 references of its formula (helpers/reference-optim.ts) over
 * several steps, for every kernel implementation. The network is a small CNN with batch norm, whose layout
 * holds a tensor of several blocks (dense1.w, 27,040 floats), tensors of 4 floats and batch norm's running
 * statistics (not optimised, not in any norm: they move towards the batch's statistics).
 */

const IMPLEMENTATIONS = await kernelImplementations(8 << 20);
const net = compileNet(parseCnnSpec('c4k3-bn-relu-fc10'));
const { tensors, size: P } = net.layout;
const SHARDS = 3;
const BN_MOMENTUM = 0.1;
const STEPS = 4;

const base: OptimizerOptions = { kind: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8 };
const view = (a: Float32Array, t: TensorInfo) => a.subarray(t.offset, t.offset + t.size);
const bits = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');

interface Case {
  options: Partial<OptimizerOptions> & { kind: OptimizerKind };
  lr: number;
  clip?: number;
  emaDecay?: number;
  /** Tensors that start at θ = 0, and tensors whose gradient is always 0. */
  zeroTheta?: string[];
  zeroGrad?: string[];
}

/** Runs STEPS steps of the engine's update and of the float64 reference side by side; returns both. */
function run(impl: KernelsUnderTest, c: Case) {
  const k = impl.kernels;
  impl.reset();
  const optimizer = OPTIMIZERS[c.options.kind];
  const options: OptimizerOptions = { ...base, ...c.options };
  const params = impl.f32(P), grad = impl.f32(P), slots = impl.f32(SHARDS * P), ema = impl.f32(P);
  const state = Object.fromEntries(optimizer.state.map((name) => [name, impl.f32(P)]));
  for (const t of tensors) if (!c.zeroTheta?.includes(t.name)) view(params, t).set(randomFloats(t.size, 7 + t.offset, t.trainable ? -0.5 : 0.5, 1));
  ema.set(params);
  const shared = { params, grad, slots, ema, optimizerState: state, blockSums: new Float64Array(blockSumWords(net.layout)), tickets: new Int32Array(ticketWords(1)) };
  const ctx = { k, net, plan: { P }, shared } as unknown as StepContext;
  const blocks = updateBlocks(net.layout);

  // The reference: per tensor, float64 copies of θ, the state and the average.
  const ref = tensors.map((t) => ({
    t, theta: Float64Array.from(view(params, t)), avg: Float64Array.from(view(params, t)),
    state: Object.fromEntries(optimizer.state.map((name) => [name, new Float64Array(t.size)])),
  }));
  const ratios: number[][] = [];
  for (let step = 1; step <= STEPS; step++) {
    slots.fill(0);
    for (const t of tensors) {
      if (c.zeroGrad?.includes(t.name)) continue;
      for (let s = 0; s < SHARDS; s++) slots.subarray(s * P + t.offset, s * P + t.offset + t.size).set(randomFloats(t.size, 1000 * step + 10 * s + t.offset, -1, 1));
    }
    const hp = { ...options, lr: c.lr, step };
    const emaDecay = c.emaDecay ?? 0;
    const u: UpdateStep = { optimizer, views: { params, grad, state }, hp, clip: c.clip ?? 0, shards: SHARDS, gradScale: 1 / SHARDS, emaDecay };
    if (needsBlocks(optimizer, u.clip)) {
      expect(updateByBlocks(ctx, u, blocks, 0, 1, (last) => (last(), true))).toBe(true);
      resetPhase(shared.tickets, Phase.update, 1); // as the step's last barrier does
    } else updateChunk(ctx, u, 0, P);

    const grads = ref.map(({ t }) => {
      const g = new Float64Array(t.size);
      for (let s = 0; s < SHARDS; s++) for (let p = 0; p < t.size; p++) g[p] += slots[s * P + t.offset + p] / SHARDS;
      return g;
    });
    if (c.clip) refClipGradNorm(grads.filter((_, i) => ref[i].t.trainable), c.clip);
    ratios.push([]);
    ref.forEach((r, i) => {
      const g = grads[i];
      if (!r.t.trainable) for (let p = 0; p < g.length; p++) r.theta[p] = (1 - BN_MOMENTUM) * r.theta[p] + BN_MOMENTUM * g[p];
      else if (options.kind === 'sgd') refSgdStep(r.theta, g, r.state.velocity, { ...options, lr: c.lr });
      else if (options.kind === 'lamb') ratios[step - 1].push(refLambStep(r.theta, g, r.state.m, r.state.v, { ...options, lr: c.lr, step }));
      else refAdamStep(r.theta, g, r.state.m, r.state.v, { ...options, lr: c.lr, step, decoupled: options.kind === 'adamw' });
      if (emaDecay > 0) for (let p = 0; p < g.length; p++) r.avg[p] = emaDecay * r.avg[p] + (1 - emaDecay) * r.theta[p];
    });
  }
  return { params, grad, state, ema, ref, ratios };
}

function expectClose(impl: KernelsUnderTest, c: Case, tolerance = 2e-5) {
  const { params, state, ema, ref } = run(impl, c);
  for (const r of ref) {
    expect(maxRelativeError(view(params, r.t), r.theta), `${r.t.name} θ`).toBeLessThan(tolerance);
    for (const [name, s] of Object.entries(r.state)) if (r.t.trainable) expect(maxRelativeError(view(state[name], r.t), s), `${r.t.name} ${name}`).toBeLessThan(tolerance);
    if (c.emaDecay) expect(maxRelativeError(view(ema, r.t), r.avg), `${r.t.name} average`).toBeLessThan(tolerance);
  }
}

it('the test network has a tensor of several blocks and statistics outside the optimiser', () => {
  const blocks = updateBlocks(net.layout);
  const dense = tensors.find((t) => t.name === 'dense1.w')!;
  expect(dense.size).toBeGreaterThan(6 * BLOCK_FLOATS);
  expect(blocks.filter((b) => b.begin >= dense.offset && b.end <= dense.offset + dense.size)).toHaveLength(Math.ceil(dense.size / BLOCK_FLOATS));
  expect(tensors.filter((t) => !t.trainable).map((t) => t.name)).toEqual(['bn1.mean', 'bn1.var']);
});

for (const { name, impl } of IMPLEMENTATIONS) {
  describe.skipIf(!impl)(`each optimiser's step follows its float64 formula (${name} kernels)`, () => {
    const k = () => impl!;
    it.each([
      ['Nesterov momentum', { kind: 'sgd', momentum: 0.9, nesterov: true }],
      ['classical momentum', { kind: 'sgd', momentum: 0.8, nesterov: false }],
      ["the notes' plain θ ← θ − α∇C (μ = 0, λ = 0)", { kind: 'sgd', momentum: 0, nesterov: false, weightDecay: 0 }],
    ] as const)('sgd, %s, with weight decay, over several steps', (_, options) => expectClose(k(), { options, lr: 0.05, emaDecay: 0.9 }));

    it('adam: bias-corrected moments and L2 weight decay', () => expectClose(k(), { options: { kind: 'adam', weightDecay: 0.05, beta1: 0.8, beta2: 0.99 }, lr: 0.01 }));
    it('adamw: decoupled weight decay', () => expectClose(k(), { options: { kind: 'adamw', weightDecay: 0.05 }, lr: 0.01, emaDecay: 0.5 }));

    it('lamb: Adam\'s direction plus λθ, scaled per tensor by ‖θ‖/‖r‖, and 1 for a tensor that starts at zero', () => {
      const c: Case = { options: { kind: 'lamb', weightDecay: 0.01 }, lr: 0.02, emaDecay: 0.9, zeroTheta: ['conv1.b'] };
      expectClose(k(), c);
      const { params, ratios } = run(k(), c);
      // Ratios differ per tensor (the point of LAMB) and the tensor at θ = 0 took ratio 1 in its first step:
      // Adam's first step moves every element by about α.
      const trainable = tensors.filter((t) => t.trainable);
      expect(new Set(ratios[1].map((r) => r.toPrecision(3))).size).toBe(trainable.length);
      expect(ratios[0][trainable.findIndex((t) => t.name === 'conv1.b')]).toBe(1);
      expect(trustRatio(0, 3)).toBe(1);
      expect(trustRatio(3, 0)).toBe(1);
      expect(trustRatio(3, 4)).toBe(0.75);
      expect(params.every(Number.isFinite)).toBe(true);
    });

    it('lamb: a tensor whose direction is zero (no gradient, λ = 0) keeps its weights, with no NaN', () => {
      const c: Case = { options: { kind: 'lamb', weightDecay: 0 }, lr: 0.02, zeroGrad: ['dense1.b'] };
      expectClose(k(), c);
      const { params, ref } = run(k(), c);
      const b = tensors.find((t) => t.name === 'dense1.b')!;
      expect(Array.from(view(params, b))).toEqual(Array.from(ref.find((r) => r.t === b)!.theta).map(Math.fround));
      expect(params.every(Number.isFinite)).toBe(true);
    });

    it.each(['sgd', 'adamw', 'lamb'] as const)('%s with --clip-grad-norm: clipped as clip_grad_norm_, leaving the clipped gradient in place', (kind) => {
      const c: Case = { options: { kind }, lr: 0.01, clip: 0.5, emaDecay: 0.9 };
      expectClose(k(), c);
      if (kind === 'sgd') {
        // SGD leaves the gradient as it was clipped: its global norm (trainable tensors) is the maximum.
        const { grad } = run(k(), c);
        const total = Math.sqrt(tensors.filter((t) => t.trainable).reduce((s, t) => s + view(grad, t).reduce((a, g) => a + g * g, 0), 0));
        expect(Math.abs(total - 0.5) / 0.5).toBeLessThan(1e-5);
      }
    });

    it.each(['sgd', 'adam', 'lamb'] as const)('%s with a --clip-grad-norm above the norm: the same bits as without clipping', (kind) => {
      const parts = (a: Float32Array) => tensors.map((t) => bits(view(a, t)));
      const plain = run(k(), { options: { kind }, lr: 0.01 });
      const kept = [plain.params, ...Object.values(plain.state)].map(parts); // before the next run reuses the arena
      const loose = run(k(), { options: { kind }, lr: 0.01, clip: 1e6 });
      expect([loose.params, ...Object.values(loose.state)].map(parts)).toEqual(kept);
    });
  });
}
