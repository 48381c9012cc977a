// What one round (a burst of probes to one target) says, smokeping style: how many probes were
// lost, how many replies came twice, and how the round-trip times spread.
//
// A round succeeds when at least one probe of the burst found the port open. Loss is the share
// of probes that did not (closed, timeout, unreachable or error all count as lost), and the
// latency figures are over the open probes only, so a fast RST never hides a dead service.
import type { CheckResult } from '../checker.js';
import type { CheckStatus } from '../core/types.js';

/** Upper bounds (ms) of the round histogram's buckets; one more bucket holds everything above. */
export const ROUND_HISTOGRAM_MS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000] as const;

export interface RoundLatency {
  min: number;
  avg: number;
  median: number;
  max: number;
}

export interface RoundStats {
  sent: number;
  statuses: Record<CheckStatus, number>;
  success: boolean;
  /** Non-open share of the burst, 0..1. */
  lossRatio: number;
  /**
   * TCP replies beyond one per answered probe (a SYN-ACK sent twice, say). Only known when the
   * monitor was given a reply counter (the CLI does, with the raw strategy).
   */
  duplicates?: number;
  /** Over open probes; undefined when none was open. */
  rttMs?: RoundLatency;
  /** Open probes per bucket of ROUND_HISTOGRAM_MS, plus a last bucket for anything slower. */
  histogram: number[];
}

/** The first bucket whose bound is at least `rttMs`; the last one past every bound. */
function histogramBucket(rttMs: number): number {
  let bucket = 0;
  while (bucket < ROUND_HISTOGRAM_MS.length && rttMs > ROUND_HISTOGRAM_MS[bucket]) bucket++;
  return bucket;
}

/** A count per check status, all zero (a round's tally, a target's since start). */
export function zeroStatusCounts(): Record<CheckStatus, number> {
  return { open: 0, closed: 0, timeout: 0, unreachable: 0, error: 0 };
}

export function summarizeRound(results: readonly CheckResult[], repliesSeen?: number): RoundStats {
  const statuses = zeroStatusCounts();
  const histogram = new Array<number>(ROUND_HISTOGRAM_MS.length + 1).fill(0);
  const rtts: number[] = [];
  for (const r of results) {
    statuses[r.status]++;
    const rtt = r.rttMs;
    if (r.status !== 'open' || rtt === undefined) continue;
    rtts.push(rtt);
    histogram[histogramBucket(rtt)]++;
  }
  const sent = results.length;
  const stats: RoundStats = {
    sent,
    statuses,
    success: statuses.open > 0,
    lossRatio: sent === 0 ? 1 : (sent - statuses.open) / sent,
    histogram,
  };
  if (repliesSeen !== undefined) stats.duplicates = Math.max(0, repliesSeen - statuses.open - statuses.closed);
  if (rtts.length > 0) {
    if (rtts.length > 1) rtts.sort((a, b) => a - b);
    const mid = rtts.length >> 1;
    stats.rttMs = {
      min: rtts[0],
      avg: rtts.reduce((sum, x) => sum + x, 0) / rtts.length,
      median: rtts.length % 2 === 1 ? rtts[mid] : (rtts[mid - 1] + rtts[mid]) / 2,
      max: rtts[rtts.length - 1],
    };
  }
  return stats;
}
