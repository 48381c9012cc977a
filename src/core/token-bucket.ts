// A token bucket for `--rate PPS`: `ratePerSec` tokens a second, at most `capacity` saved up.
// take() never waits or arms a timer itself: it answers how long until a token is there, so one
// timer in the caller can serve the whole run (see check-many.ts).
import { performance } from 'node:perf_hooks';

/**
 * How many tokens may pile up: 20 ms worth (at least one). Enough that a timer woken a few
 * milliseconds late still starts the checks it owes, small enough that nothing bursts.
 */
export function defaultBucketCapacity(ratePerSec: number): number {
  return Math.max(1, Math.ceil(ratePerSec / 50));
}

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly ratePerSec: number,
    readonly capacity = defaultBucketCapacity(ratePerSec),
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(ratePerSec > 0) || !Number.isFinite(ratePerSec)) throw new RangeError(`rate must be a positive number, got ${ratePerSec}`);
    if (!(capacity >= 1)) throw new RangeError(`capacity must be at least 1, got ${capacity}`);
    // Start full: the first `capacity` checks go at once, then the rate holds.
    this.tokens = capacity;
    this.last = this.now();
  }

  /** Takes a token and returns 0, or takes nothing and returns the milliseconds until one is there. */
  take(): number {
    const now = this.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) * this.ratePerSec) / 1000);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return ((1 - this.tokens) * 1000) / this.ratePerSec;
  }
}
