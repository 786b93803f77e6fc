import { proxy } from 'comlink';
import { describe, expect, it } from 'vitest';
import { spawnTrainer, terminateTrainer } from '../src/api.js';
import type { TrainEvent } from '../src/events.js';

describe('spawnTrainer', () => {
  it('trains in its own thread behind a comlink proxy and streams progress events to the caller', async () => {
    const trainer = await spawnTrainer({ epochs: 1, trainSize: 2000, valSize: 200, batchSize: 50, workers: 2, lr: 0.1, out: null });
    const events: TrainEvent[] = [];
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5); // the caller's event loop keeps running while it trains
    try {
      const result = await trainer.run(proxy((e: TrainEvent) => void events.push(e)));
      expect(result.testAccuracy).toBeGreaterThan(0.8);
      expect(result.params).toBeInstanceOf(Float32Array);
      expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['start', 'step', 'epoch', 'done']));
      expect(events.at(-1)).toMatchObject({ type: 'done', testAccuracy: result.testAccuracy });
      expect(ticks).toBeGreaterThan(10);
    } finally {
      clearInterval(timer);
      await terminateTrainer(trainer);
    }
  });

  it('can be aborted from the calling thread', async () => {
    const trainer = await spawnTrainer({ epochs: 50, trainSize: 2000, valSize: 200, workers: 1, out: null });
    try {
      const running = trainer.run(proxy((e: TrainEvent) => {
        if (e.type === 'step') void trainer.abort();
      }));
      const result = await running;
      expect(result.aborted).toBe(true);
      expect(result.metrics.length).toBeLessThan(50);
    } finally {
      await terminateTrainer(trainer);
    }
  });
});
