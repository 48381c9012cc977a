// One burst round: success, loss, duplicates, latency and histogram.
import test from 'ava';
import type { CheckResult } from '../../src/checker.js';
import { ROUND_HISTOGRAM_MS, summarizeRound } from '../../src/monitor/round.js';
import type { CheckStatus } from '../../src/core/types.js';

function r(status: CheckStatus, rttMs?: number): CheckResult {
  const result: CheckResult = { target: '198.18.0.2:80', ip: '198.18.0.2', port: 80, status, strategy: 'raw', attempts: 1 };
  if (rttMs !== undefined) result.rttMs = rttMs;
  return result;
}

interface Case {
  results: CheckResult[];
  replies?: number;
  success: boolean;
  lossRatio: number;
  duplicates?: number;
  rtt?: [min: number, avg: number, median: number, max: number];
}
const round = test.macro({
  exec(t, c: Case) {
    const s = summarizeRound(c.results, c.replies);
    t.is(s.sent, c.results.length);
    t.is(s.success, c.success);
    t.is(s.lossRatio, c.lossRatio);
    t.is(s.duplicates, c.duplicates);
    t.deepEqual(s.rttMs && [s.rttMs.min, s.rttMs.avg, s.rttMs.median, s.rttMs.max], c.rtt);
    t.is(s.histogram.reduce((a, b) => a + b, 0), s.statuses.open, 'the histogram holds the open probes');
  },
  title: (what = '') => `round: ${what}`,
});
test('all open', round, { results: [r('open', 1), r('open', 3), r('open', 2)], success: true, lossRatio: 0, rtt: [1, 2, 2, 3] });
test('one open is enough to succeed', round, { results: [r('timeout'), r('open', 4), r('timeout'), r('timeout')], success: true, lossRatio: 0.75, rtt: [4, 4, 4, 4] });
test('closed counts as lost, and its RTT stays out of the latency', round, { results: [r('closed', 0.1), r('open', 2), r('open', 4), r('closed', 0.1)], success: true, lossRatio: 0.5, rtt: [2, 3, 3, 4] });
test('nothing open fails', round, { results: [r('closed', 0.2), r('unreachable', 1), r('error')], success: false, lossRatio: 1 });
test('duplicates: replies beyond one per answered probe', round, { results: [r('open', 1), r('closed', 1), r('timeout')], replies: 4, success: true, lossRatio: 2 / 3, duplicates: 2, rtt: [1, 1, 1, 1] });
test('fewer replies than answers (missed by the capture) is no duplicate', round, { results: [r('open', 1), r('open', 1)], replies: 1, success: true, lossRatio: 0, duplicates: 0, rtt: [1, 1, 1, 1] });
test('an empty round is a total loss', round, { results: [], success: false, lossRatio: 1 });

test('histogram buckets: upper bounds inclusive, and an overflow bucket', (t) => {
  const s = summarizeRound([r('open', 0.1), r('open', 0.11), r('open', 1), r('open', 5000), r('open', 5001), r('open', 99_999)]);
  const at = (ms: number): number => s.histogram[ROUND_HISTOGRAM_MS.indexOf(ms as (typeof ROUND_HISTOGRAM_MS)[number])];
  t.is(s.histogram.length, ROUND_HISTOGRAM_MS.length + 1);
  t.is(at(0.1), 1);
  t.is(at(0.25), 1);
  t.is(at(1), 1);
  t.is(at(5000), 1);
  t.is(s.histogram.at(-1), 2);
});
