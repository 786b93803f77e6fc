import type { TrainEvent } from '../../src/events.js';

/**
 * An `onEvent` that stops a run part-way into epoch `epoch + 1`, on a machine of any speed: when epoch
 * `epoch` ends it aborts `controller` on the next turn of the event loop, by which time the next epoch's
 * steps have been handed to the workers, and they finish at least one step before they act on a stop.
 * (Waiting for the next epoch's first progress event instead, which comes after 100 ms, misses an epoch
 * that a fast machine runs in less: the run then ends at the epoch's end, not within it.)
 */
export const abortWithinEpochAfter = (controller: AbortController, epoch: number) => (e: TrainEvent): void => {
  if (e.type === 'epoch' && e.epoch === epoch) setTimeout(() => controller.abort(), 0);
};
