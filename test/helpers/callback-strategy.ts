// A Strategy with the callback API (submit), answering only when the test says so: what
// Checker.checkMany drives the raw engine through, without root or packets. Every probe waits
// in `pending` until answer() or answerAll(); cancellers are counted.
import { Checker } from '../../src/checker.js';
import type { ProbeOptions, ProbeOutcome, ProbeTarget, Strategy } from '../../src/core/types.js';

export interface PendingProbe {
  target: ProbeTarget;
  options: ProbeOptions;
  callback: (outcome: ProbeOutcome) => void;
  cancelled: boolean;
}

export class CallbackStrategy implements Strategy {
  readonly name = 'raw' as const;
  readonly pending = new Set<PendingProbe>();
  submitted = 0;
  cancelled = 0;
  maxInFlight = 0;
  closed = false;

  async start(): Promise<void> {}
  async close(): Promise<void> {
    this.closed = true;
  }
  stats(): Record<string, number> {
    return { probesStarted: this.submitted, inFlight: this.pending.size };
  }

  probe(target: ProbeTarget, options: ProbeOptions): Promise<ProbeOutcome> {
    return new Promise((resolve) => this.submit(target, options, resolve));
  }

  submit(target: ProbeTarget, options: ProbeOptions, callback: (outcome: ProbeOutcome) => void): () => void {
    const probe: PendingProbe = { target, options, callback, cancelled: false };
    this.pending.add(probe);
    this.submitted++;
    this.maxInFlight = Math.max(this.maxInFlight, this.pending.size);
    return () => {
      if (!this.pending.delete(probe)) return;
      probe.cancelled = true;
      this.cancelled++;
    };
  }

  /** Answers the oldest `count` probes (or those `pick` chooses) with what `outcome` says. */
  answer(count: number, outcome: (p: PendingProbe) => ProbeOutcome = open): number {
    let n = 0;
    for (const probe of [...this.pending]) {
      if (n >= count) break;
      this.pending.delete(probe);
      probe.callback(outcome(probe));
      n++;
    }
    return n;
  }

  answerAll(outcome: (p: PendingProbe) => ProbeOutcome = open): number {
    return this.answer(Infinity, outcome);
  }
}

export function open(): ProbeOutcome {
  return { status: 'open', attempts: 1, rttMs: 0.25, evidence: { flags: 'S.', ttl: 64, window: 65535, mss: 1460 } };
}

export async function callbackChecker(options: ConstructorParameters<typeof Checker>[0] = {}): Promise<{ checker: Checker; strategy: CallbackStrategy }> {
  const strategy = new CallbackStrategy();
  const checker = new Checker({ ...options, strategyFactory: async () => strategy });
  await checker.start();
  return { checker, strategy };
}

/**
 * The same with the numeric-handle API (submitHandle/cancelHandle), as the raw engine has it:
 * every third check gets a negative handle, as one still waiting inside the engine would.
 * `cancelOrder` records the handles cancelled, in order; `closureSubmits` counts submit() calls.
 */
export class HandleStrategy extends CallbackStrategy {
  readonly cancelOrder: number[] = [];
  closureSubmits = 0;
  private readonly byHandle = new Map<number, PendingProbe>();
  private nextId = 0;

  override submit(target: ProbeTarget, options: ProbeOptions, callback: (outcome: ProbeOutcome) => void): () => void {
    this.closureSubmits++;
    return super.submit(target, options, callback);
  }

  submitHandle(target: ProbeTarget, options: ProbeOptions, callback: (outcome: ProbeOutcome) => void): number {
    const id = this.nextId++;
    const handle = id % 3 === 2 ? -2 - id : id;
    const probe: PendingProbe = { target, options, callback: (o) => (this.byHandle.delete(handle), callback(o)), cancelled: false };
    this.byHandle.set(handle, probe);
    this.pending.add(probe);
    this.submitted++;
    this.maxInFlight = Math.max(this.maxInFlight, this.pending.size);
    return handle;
  }

  cancelHandle(handle: number): void {
    this.cancelOrder.push(handle);
    const probe = this.byHandle.get(handle);
    this.byHandle.delete(handle);
    if (!probe || !this.pending.delete(probe)) return;
    probe.cancelled = true;
    this.cancelled++;
  }
}

export async function handleChecker(): Promise<{ checker: Checker; strategy: HandleStrategy }> {
  const strategy = new HandleStrategy();
  const checker = new Checker({ strategyFactory: async () => strategy });
  await checker.start();
  return { checker, strategy };
}
