/**
 * Counter-based random numbers: every draw is a pure function of (seed, stream, key, counter), so a
 * number never depends on which worker drew it or in which order. This is what makes a run a function of
 * its seed and options alone, whatever the worker count, and what makes resuming exact: the "RNG state"
 * to save is just the seed and the position in the run.
 */

/** Named streams, so that initialisation, shuffling, augmentation and dropout never share draws. */
export const Stream = { init: 1, shuffle: 2, augment: 3, dropout: 4, sweep: 5 } as const;

/** murmur3's 32-bit finaliser: a bijective avalanche mix. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A uint32 hash of four uint32 words. */
export function hash4(seed: number, stream: number, key: number, counter: number): number {
  let h = fmix32((seed ^ 0x9e3779b9) >>> 0);
  h = fmix32((h ^ Math.imul(stream, 0x27d4eb2f)) >>> 0);
  h = fmix32((h + Math.imul(key, 0x165667b1)) >>> 0);
  return fmix32((h ^ Math.imul(counter + 1, 0x61c88647)) >>> 0);
}

/**
 * One uint32 key for (epoch, sample): what augmentation and dropout key their streams by, so that a
 * sample's random numbers do not depend on the worker, the batch or the position that processed it.
 */
export function sampleKey(epoch: number, sample: number): number {
  return fmix32((Math.imul(epoch + 1, 0x9e3779b1) ^ sample) >>> 0);
}

/** Sequential draws from the stream keyed by (seed, stream, key): draw n is hash4(seed, stream, key, n). */
export class CounterRng {
  private counter = 0;
  constructor(
    private readonly seed: number,
    private readonly stream: number,
    private readonly key: number,
  ) {}

  /** Uniform in [0, 1) with 32 random bits. */
  uniform(): number {
    return hash4(this.seed, this.stream, this.key, this.counter++) / 4294967296;
  }

  /** Uniform integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal (Box–Muller; one of the pair is used so each draw costs two counters, always). */
  normal(): number {
    const u1 = 1 - this.uniform(); // (0, 1]: log stays finite
    const u2 = this.uniform();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
}

/** The order in which epoch `epoch` visits samples 0..n-1: a Fisher–Yates shuffle keyed by (seed, epoch). */
export function epochPermutation(seed: number, epoch: number, n: number): Int32Array {
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const rng = new CounterRng(seed, Stream.shuffle, epoch);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.below(i + 1);
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}
