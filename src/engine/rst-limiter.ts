// Per-destination token bucket for the RSTs the engine sends that no fresh verdict asked for
// (answers to retransmitted SYN-ACKs of finished probes). It keeps the engine from being used to
// reflect RSTs at a host that floods it with SYN-ACKs. The first RST of each probe is not
// limited here: it is one per check the caller asked for.

export class RstLimiter {
  private readonly tokens = new Map<number, number>();
  private readonly stamps = new Map<number, number>();

  constructor(
    private readonly perSecond = 10,
    private readonly burst = 10,
    private readonly maxDestinations = 65536,
  ) {}

  /** `destination` is a number naming the address (e.g. its tuple key with ports 0). */
  allow(destination: number, nowMs: number): boolean {
    let tokens = this.tokens.get(destination);
    const last = this.stamps.get(destination) ?? nowMs;
    tokens = tokens === undefined ? this.burst : Math.min(this.burst, tokens + ((nowMs - last) / 1000) * this.perSecond);
    const allowed = tokens >= 1;
    if (allowed) tokens -= 1;
    if (!this.tokens.has(destination) && this.tokens.size >= this.maxDestinations) {
      // A flood from many addresses: forget everyone rather than grow without bound.
      this.tokens.clear();
      this.stamps.clear();
    }
    this.tokens.set(destination, tokens);
    this.stamps.set(destination, nowMs);
    return allowed;
  }
}
