// The stats() counters the socket and connect strategies share: one per outcome status, plus
// probes started and aborted. inFlight is the caller's to add, it knows its own table.
import type { CheckStatus, ProbeOutcome } from '../types.js';

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
