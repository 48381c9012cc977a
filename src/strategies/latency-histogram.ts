// A fixed-size histogram of microsecond latencies (the socket strategy's close latency after the
// SYN-ACK): 16 buckets per power of two, so any quantile is within 1/16 (6 %) of the truth, in
// 448 counters whatever the number of samples. The maximum is kept exactly.

const SUB_BUCKETS = 16;
const BUCKETS = 28 * SUB_BUCKETS; // up to 2^31 µs

function bucketOf(us: number): number {
  const v = Math.min(0x7fffffff, Math.max(0, Math.floor(us)));
  if (v < SUB_BUCKETS) return v;
  const exp = 31 - Math.clz32(v); // >= 4
  return (exp - 3) * SUB_BUCKETS + ((v >>> (exp - 4)) - SUB_BUCKETS);
}

/** The largest value that falls in bucket `i` (what a quantile reports: never an underestimate). */
function upperBound(i: number): number {
  if (i < SUB_BUCKETS) return i;
  const exp = Math.floor(i / SUB_BUCKETS) + 3;
  const sub = (i % SUB_BUCKETS) + SUB_BUCKETS;
  return ((sub + 1) << (exp - 4)) - 1;
}

export class LatencyHistogram {
  private readonly counts = new Float64Array(BUCKETS);
  private total = 0;
  private maxSeenUs = 0;

  get count(): number {
    return this.total;
  }

  get maxUs(): number {
    return this.maxSeenUs;
  }

  record(us: number): void {
    this.counts[bucketOf(us)]++;
    this.total++;
    if (us > this.maxSeenUs) this.maxSeenUs = us;
  }

  /** The q-quantile (0..1) in µs, rounded up to its bucket's top (capped at the max); 0 when empty. */
  quantileUs(q: number): number {
    if (this.total === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.total));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= rank) return Math.min(upperBound(i), this.maxSeenUs);
    }
    return this.maxSeenUs;
  }

  reset(): void {
    this.counts.fill(0);
    this.total = 0;
    this.maxSeenUs = 0;
  }
}
