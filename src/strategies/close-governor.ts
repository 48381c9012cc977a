// The socket strategy's governor: holds new connects when the close after the SYN-ACK runs late.
//
// Why: with TCP_QUICKACK off the kernel delays the ACK of a SYN-ACK by up to TCP_DELACK_MAX
// (200 ms, include/net/tcp.h). The connect engine's linger-0 close must come first, or the
// handshake completes and the server application accepts. The close runs on the addon's own
// thread, so a lagging event loop no longer delays it; what still can is that thread falling
// behind (a starved CPU, more connects than it can settle). The engine measures every close's
// latency; when a batch shows one nearing the window, fewer checks are let into the kernel until
// the latency is back down, so no load makes the strategy leak.
//
// Policy: AIMD on the number of checks in the kernel at once. A close later than `highMs` halves
// the limit (from what is in flight now), one later than `panicMs` drops it to `minLimit`; a
// batch whose latest close is under `lowMs` lets the limit grow by an eighth. Unlimited until the
// first slow close. Pure (no timers, no I/O): the strategy feeds it and asks it.

/** TCP_DELACK_MAX: the longest the kernel holds the ACK of a SYN-ACK in delayed-ACK mode. */
export const DELAYED_ACK_WINDOW_MS = 200;

export interface GovernorOptions {
  /** Cut the limit when a close comes this late (ms). Default: a quarter of the window. */
  highMs?: number;
  /** Drop to minLimit when a close comes this late (ms). Default: half the window. */
  panicMs?: number;
  /** Let the limit grow again while every close is under this (ms). */
  lowMs?: number;
  /** Never hold below this many checks in the kernel. */
  minLimit?: number;
}

export class CloseGovernor {
  readonly highMs: number;
  readonly panicMs: number;
  readonly lowMs: number;
  readonly minLimit: number;
  /** Checks allowed in the kernel at once; Infinity until a close runs late. */
  limit = Infinity;
  /** Times the limit was cut. */
  cuts = 0;

  constructor(options: GovernorOptions = {}) {
    this.highMs = options.highMs ?? DELAYED_ACK_WINDOW_MS / 4;
    this.panicMs = options.panicMs ?? DELAYED_ACK_WINDOW_MS / 2;
    this.lowMs = options.lowMs ?? 10;
    this.minLimit = options.minLimit ?? 16;
  }

  /** Whether one more check may enter the kernel with `inKernel` already there. */
  admits(inKernel: number): boolean {
    return inKernel < this.limit;
  }

  /**
   * After a batch of records: the latest close latency in it (ms, -1 for none), the checks in the
   * kernel, and whether probes are waiting for room (only then is the limit what holds them back,
   * and worth raising).
   */
  observe(maxCloseLatencyMs: number, inKernel: number, waiting: boolean): void {
    if (maxCloseLatencyMs >= this.panicMs) {
      this.limit = this.minLimit;
      this.cuts++;
    } else if (maxCloseLatencyMs >= this.highMs) {
      this.limit = Math.max(this.minLimit, Math.floor(Math.min(this.limit, inKernel) / 2));
      this.cuts++;
    } else if (maxCloseLatencyMs >= 0 && maxCloseLatencyMs < this.lowMs && this.limit !== Infinity) {
      if (waiting) this.limit += Math.max(1, Math.floor(this.limit / 8));
    }
  }
}
