import { describe, expect, it } from 'vitest';
import { planMemory, scratchViews } from '../src/engine/memory.js';
import { compileNet } from '../src/model/layout.js';
import { allocateNetBuffers, BumpAllocator, localBuffers, netBufferBytes, type NetBuffers } from '../src/model/network.js';
import { makeSpec, parseActivation, parseCnnSpec } from '../src/model/spec.js';

/**
 * One allocator for a network's buffers (allocateNetBuffers): replayed over offsets it measures what it
 * takes, replayed in a region it builds the same views there, 64-byte aligned and never overlapping;
 * the memory plan gives each worker one such region.
 */

const NETS = {
  'the default MLP': makeSpec([784, 256, 128, 10], parseActivation('relu'), 'cross-entropy'),
  'cnn-wide': parseCnnSpec('cnn-wide'),
  'cnn-res': parseCnnSpec('cnn-res'),
};

/** Every typed array of a NetBuffers, named. */
function views(b: NetBuffers): [string, Float32Array | Int32Array][] {
  const named: [string, Float32Array | Int32Array][] = [['x', b.x], ['cols', b.cols], ['tmpW', b.tmpW], ['dz', b.dz], ['spare', b.spare], ['sparse', b.sparse]];
  b.nodes.forEach((n, i) => {
    named.push([`nodes[${i}].out`, n.out]);
    for (const [k, v] of Object.entries(n.f32)) named.push([`nodes[${i}].${k}`, v]);
    for (const [k, v] of Object.entries(n.i32)) named.push([`nodes[${i}].${k}`, v]);
  });
  return named;
}

describe.each(Object.entries(NETS))('the buffers of %s', (_name, spec) => {
  const net = compileNet(spec);
  const rows = 40, micro = 10;

  it('in a shared buffer: 64-byte aligned, disjoint, within the measured bytes, as long as plain ones', () => {
    const start = 128;
    const bytes = netBufferBytes(net, rows, micro);
    const buffer = new SharedArrayBuffer(start + bytes);
    const shared = views(allocateNetBuffers(net, rows, micro, new BumpAllocator(buffer, start)));
    const plain = views(localBuffers(net, rows, micro));
    expect(shared.map(([n, v]) => [n, v.length])).toEqual(plain.map(([n, v]) => [n, v.length]));
    const spans = shared.filter(([, v]) => v.length > 0).map(([n, v]) => ({ n, from: v.byteOffset, to: v.byteOffset + v.byteLength }));
    for (const s of spans) {
      expect(s.from % 64, s.n).toBe(0);
      expect(s.from, s.n).toBeGreaterThanOrEqual(start);
      expect(s.to, s.n).toBeLessThanOrEqual(start + bytes);
    }
    spans.sort((a, b) => a.from - b.from);
    for (let i = 1; i < spans.length; i++) expect(spans[i].from, `${spans[i - 1].n} / ${spans[i].n}`).toBeGreaterThanOrEqual(spans[i - 1].to);
  });

  it('the memory plan gives each of 3 workers its own region, and its views lie inside it', () => {
    const plan = planMemory({ net, optimizerState: ['velocity'], ema: false, augmentFloats: 0, batch: 100, micro, workers: 3, D: 784, trainCount: 10, testCount: 10, trainOnly: 10 });
    const buffer = new SharedArrayBuffer(plan.bytes);
    const regions = plan.scratch.map((s) => s.net);
    for (let w = 1; w < regions.length; w++) expect(regions[w].offset).toBeGreaterThanOrEqual(regions[w - 1].offset + regions[w - 1].bytes);
    plan.scratch.forEach((s) => {
      for (const [n, v] of views(scratchViews(buffer, s, net))) {
        if (v.length === 0) continue;
        expect(v.byteOffset, n).toBeGreaterThanOrEqual(s.net.offset);
        expect(v.byteOffset + v.byteLength, n).toBeLessThanOrEqual(s.net.offset + s.net.bytes);
      }
    });
  });
});
