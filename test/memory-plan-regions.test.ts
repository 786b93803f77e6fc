import { describe, expect, it } from 'vitest';
import { createSharedMemory, planMemory, sharedViews, type MemoryPlan, type Region } from '../src/engine/memory.js';
import { compileNet } from '../src/model/layout.js';
import { parseCnnSpec } from '../src/model/spec.js';

/**
 * The shared regions are defined once (SHARED_REGIONS in src/engine/memory.ts); the plan's byte offsets
 * and the typed views on either side derive from that table. These check what the derivation must give.
 */

const net = compileNet(parseCnnSpec('c4k3-bn-relu-mp2-fc10'));
const input = { net, ema: true, augmentFloats: 0, batch: 50, micro: 10, workers: 3, D: 784, trainCount: 120, trainOnly: 100, testCount: 40 };

/** Every region of the plan, named: shared ones (per-name ones as `optimizerState.m`), then each worker's scratch. */
function regionsOf(plan: MemoryPlan): [string, Region][] {
  const out: [string, Region][] = [];
  const visit = (name: string, v: unknown): void => {
    if (v && typeof v === 'object' && 'offset' in v && 'bytes' in v) out.push([name, v as Region]);
    else if (Array.isArray(v)) v.forEach((x, i) => visit(`${name}[${i}]`, x));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) visit(name ? `${name}.${k}` : k, x);
  };
  visit('', plan);
  return out;
}

describe('the memory plan', () => {
  it("names the optimiser's state regions as the optimiser does, P floats each", () => {
    const sgd = planMemory({ ...input, optimizerState: ['velocity'] });
    const adam = planMemory({ ...input, optimizerState: ['m', 'v'] });
    expect(Object.keys(sgd.optimizerState)).toEqual(['velocity']);
    expect(Object.keys(adam.optimizerState)).toEqual(['m', 'v']);
    for (const r of [sgd.optimizerState.velocity, adam.optimizerState.m, adam.optimizerState.v]) expect(r.bytes).toBe(4 * net.layout.size);
    // SGD's one state tensor and Adam's two take the room that velocity and moment2 took before the table.
    expect(adam.bytes - sgd.bytes).toBe(Math.ceil((4 * net.layout.size) / 64) * 64);
  });

  it('lays the regions out one after the other, each on its own cache line, in the order of the memory map', () => {
    const plan = planMemory({ ...input, optimizerState: ['m', 'v'] });
    const regions = regionsOf(plan);
    expect(regions.slice(0, 16).map(([name]) => name)).toEqual(['control', 'tickets', 'progress', 'params', 'grad', 'optimizerState.m', 'optimizerState.v',
      'ema', 'slots', 'shardLoss', 'blockSums', 'epochOrder', 'trainImages', 'trainLabels', 'testImages', 'testLabels']);
    let end = 0;
    for (const [name, r] of regions) {
      expect(r.offset % 64, name).toBe(0);
      expect(r.offset, name).toBeGreaterThanOrEqual(end);
      end = r.offset + r.bytes;
    }
    expect(plan.bytes).toBeGreaterThanOrEqual(end);
    expect(plan.slots.bytes).toBe(5 * 4 * net.layout.size); // 50 / 10 micro-shards
    expect(plan.trainImages.bytes).toBe(120 * 784);
  });

  it('gives views of each region\'s element type and length, over the same memory on either side', () => {
    const plan = planMemory({ ...input, optimizerState: ['velocity'] });
    const memory = createSharedMemory(plan);
    const a = sharedViews(memory.buffer, plan);
    const b = sharedViews(memory.buffer, plan);
    expect(a.control).toBeInstanceOf(Int32Array);
    expect(a.progress).toBeInstanceOf(Float64Array);
    expect(a.shardLoss).toHaveLength(5);
    expect(a.trainLabels).toBeInstanceOf(Uint8Array);
    expect(a.optimizerState.velocity).toBeInstanceOf(Float32Array);
    expect(a.optimizerState.velocity).toHaveLength(net.layout.size);
    expect(a.ema).toHaveLength(net.layout.size);
    a.optimizerState.velocity[3] = 7;
    expect(b.optimizerState.velocity[3]).toBe(7);
    expect(b.params[3]).toBe(0);
  });
});
