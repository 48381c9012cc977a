// What the socket and connect strategies share: the stats() counters (one per outcome status,
// plus probes started and aborted; inFlight is the caller's to add, it knows its own table) and
// the wait for a probe that an AbortSignal may cut short.
import { unwatchAbort, watchAbort } from '../core/abort-watch.js';
import type { CheckStatus, ProbeOutcome } from '../core/types.js';

const statusCounter: Record<CheckStatus, keyof Omit<ProbeCounters, 'record' | 'snapshot'>> = {
  open: 'open',
  closed: 'closed',
  timeout: 'timeout',
  unreachable: 'unreachable',
  error: 'errors',
};

export class ProbeCounters {
  probesStarted = 0;
  open = 0;
  closed = 0;
  timeout = 0;
  unreachable = 0;
  errors = 0;
  aborted = 0;

  /** Counts the outcome under its status and hands it back, for `return counters.record(...)`. */
  record(outcome: ProbeOutcome): ProbeOutcome {
    this[statusCounter[outcome.status]]++;
    return outcome;
  }

  snapshot(inFlight: number): Record<string, number> {
    const { probesStarted, open, closed, timeout, unreachable, errors, aborted } = this;
    return { probesStarted, open, closed, timeout, unreachable, errors, aborted, inFlight };
  }
}

/**
 * Waits for a probe to settle while `signal` may abort it; the abort listener is removed
 * whichever way it ends (undici's pattern), so a long-lived signal collects no listeners.
 */
export async function untilSettled<T>(settled: Promise<T>, signal: AbortSignal | undefined, onAbort: (reason: unknown) => void): Promise<T> {
  // One listener per signal however many probes share it (core/abort-watch.ts).
  const watcher = signal === undefined ? undefined : () => onAbort(signal.reason);
  if (watcher) watchAbort(signal!, watcher);
  try {
    return await settled;
  } finally {
    if (watcher) unwatchAbort(signal!, watcher);
  }
}
