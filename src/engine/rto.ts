// When the raw engine retransmits a SYN: the retransmission timeout (RTO) per destination from
// the round trips it measures (RFC 6298), and the schedule of SYNs built on it (Linux's).
//
// Why not the kernel's fixed 1 s first RTO: a health check's timeout is often well under a
// second, on paths whose round trip is well under a millisecond, so one lost reply would cost
// the whole check. Once a destination has answered, its RTO is SRTT + 4 * RTTVAR, no lower than
// a floor of 100 ms. Linux's floor for data is 200 ms (TCP_RTO_MIN), sized for peers that delay
// their ACKs; a SYN-ACK is never delayed, so the extra 100 ms buys nothing here, and the lower
// floor lets a 500 ms check send four or five SYNs instead of three. (A server holding a
// half-open connection answers a repeated SYN at most once per 500 ms, tcp_invalid_ratelimit:
// the engine sends such repeats from fresh tuples, see raw-strategy.ts.)
import { NumberIndex } from './number-index.js';

export interface RetransmitPolicy {
  /**
   * RTO before a destination has answered. Undefined: a third of the check's timeout, between
   * minRtoMs and 1000 ms (RFC 6298 §2.1's 1 s for long timeouts; three SYNs for short ones).
   */
  initialRtoMs: number | undefined;
  /** Floor of any RTO (RFC 6298 §2.4 says 1 s; Linux 200 ms for data; 100 ms here, see above). */
  minRtoMs: number;
  /** Ceiling of any RTO after backoff (RFC 6298 §2.5: at least 60 s; Linux: 120 s). */
  maxRtoMs: number;
  /**
   * Retransmissions that wait one RTO each before the RTO starts doubling: Linux >= 6.5's
   * net.ipv4.tcp_syn_linear_timeouts (default 4: SYNs at 0, 1, 2, 3, 4, 5 s, then 7, 11 s...).
   */
  linearRetransmits: number;
}

export const DEFAULT_RETRANSMIT_POLICY: RetransmitPolicy = {
  initialRtoMs: undefined,
  minRtoMs: 100,
  maxRtoMs: 120_000,
  linearRetransmits: 4,
};

/** RFC 6298 §2.1: the RTO before any measurement. */
const RFC_INITIAL_RTO_MS = 1000;
/** RFC 6298 §2.4's G, the clock granularity: performance.now() is finer, 1 ms keeps RTO > SRTT. */
const CLOCK_GRANULARITY_MS = 1;

/**
 * The delay between SYN number `sent` (1 = the first) and the next one, for a base RTO: one RTO
 * for the first retransmission and `linearRetransmits` more, doubling after (RFC 6298 §5.5), as
 * Linux's tcp_retransmit_timer does: linear 4 sends SYNs at 0, 1, 2, 3, 4, 5, 7, 11 s; linear 0
 * is the classic 0, 1, 3, 7 s.
 */
export function retransmitDelayMs(rtoMs: number, sent: number, policy: RetransmitPolicy): number {
  const beyondLinear = sent - 1 - policy.linearRetransmits;
  const delay = beyondLinear <= 0 ? rtoMs : rtoMs * 2 ** Math.min(beyondLinear, 30);
  return Math.min(delay, policy.maxRtoMs);
}

/** The RTO for a probe whose destination has no measurement yet. */
export function unmeasuredRtoMs(timeoutMs: number, policy: RetransmitPolicy): number {
  if (policy.initialRtoMs !== undefined) return policy.initialRtoMs;
  return Math.min(RFC_INITIAL_RTO_MS, Math.max(policy.minRtoMs, timeoutMs / 3));
}

/**
 * SYNs a check should get inside its timeout whatever the estimate says, when its retries allow.
 * A measured RTO can be inflated by the engine's own queueing (a burst of thousands of SYNs on a
 * loaded machine measures the queue, not the path), and an inflated RTO would leave a 500 ms
 * check one SYN: under 20% reply loss that is 20% wrong answers, where four SYNs make it 0.16%.
 */
const SYNS_IN_BUDGET = 4;

/** The RTO a probe starts with: the estimate, capped so SYNS_IN_BUDGET SYNs fit its timeout. */
export function budgetedRtoMs(rtoMs: number, timeoutMs: number, policy: RetransmitPolicy): number {
  return Math.min(rtoMs, Math.max(policy.minRtoMs, timeoutMs / SYNS_IN_BUDGET));
}

/**
 * SRTT and RTTVAR per destination (RFC 6298 §2.2-2.3), keyed by a number naming the destination
 * address. Bounded: when full it forgets everything and starts over (a sweep of distinct
 * addresses gains nothing from remembering them, a monitor's few hundred stay).
 */
export class RttEstimator {
  private readonly index: NumberIndex;
  private srtt: Float64Array;
  private rttvar: Float64Array;
  private used = 0;

  constructor(
    private readonly policy: RetransmitPolicy = DEFAULT_RETRANSMIT_POLICY,
    private readonly capacity = 4096,
  ) {
    this.index = new NumberIndex(capacity);
    this.srtt = new Float64Array(capacity);
    this.rttvar = new Float64Array(capacity);
  }

  /** Folds in one round trip (ms) measured to `destination`. Karn: only from unretransmitted SYNs. */
  sample(destination: number, rttMs: number): void {
    if (!(rttMs >= 0) || !Number.isFinite(rttMs)) return;
    let i = this.index.get(destination);
    if (i < 0) {
      if (this.used === this.capacity) {
        this.index.clear();
        this.used = 0;
      }
      i = this.used++;
      this.index.set(destination, i);
      this.srtt[i] = rttMs;
      this.rttvar[i] = rttMs / 2;
      return;
    }
    // RFC 6298 §2.3, alpha = 1/8, beta = 1/4; RTTVAR first, from the old SRTT.
    this.rttvar[i] = 0.75 * this.rttvar[i] + 0.25 * Math.abs(this.srtt[i] - rttMs);
    this.srtt[i] = 0.875 * this.srtt[i] + 0.125 * rttMs;
  }

  /** RTO = SRTT + max(G, 4 RTTVAR), within [minRtoMs, maxRtoMs]; undefined before any sample. */
  rtoMs(destination: number): number | undefined {
    const i = this.index.get(destination);
    if (i < 0) return undefined;
    const rto = this.srtt[i] + Math.max(CLOCK_GRANULARITY_MS, 4 * this.rttvar[i]);
    return Math.min(this.policy.maxRtoMs, Math.max(this.policy.minRtoMs, rto));
  }

  /** SRTT of `destination`, for tests and stats; undefined before any sample. */
  srttMs(destination: number): number | undefined {
    const i = this.index.get(destination);
    return i < 0 ? undefined : this.srtt[i];
  }
}
