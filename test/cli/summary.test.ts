// The closing lines of a tcp-checker run: counts in the Go tool's words and nearest-rank latency
// percentiles. Elapsed time and rate depend on the clock, so only their shape is checked.
import test from 'ava';
import type { CheckResult } from '../../src/checker.js';
import { formatRate } from '../../src/cli/format.js';
import { formatMs, Summary } from '../../src/cli/summary.js';
import type { CheckStatus } from '../../src/core/types.js';

function result(status: CheckStatus, rttMs?: number): CheckResult {
  const r: CheckResult = { target: '198.18.0.2:80', ip: '198.18.0.2', port: 80, status, strategy: 'raw', attempts: 1 };
  if (rttMs !== undefined) r.rttMs = rttMs;
  return r;
}

function lines(summary: Summary, interruptedBy?: string): string[] {
  const text = summary.render(interruptedBy);
  return text.slice(0, -1).split('\n');
}

interface CountCase {
  planned: number;
  statuses: CheckStatus[];
  succeed: number;
  connect: number;
  timeout: number;
  other: number;
  allSucceeded: boolean;
}
const counts = test.macro({
  exec(t, c: CountCase) {
    const summary = new Summary(c.planned);
    for (const s of c.statuses) summary.add(result(s));
    const out = summary.render();
    t.true(out.endsWith('\n'));
    const [first, succeed, errors] = lines(summary);
    t.regex(first, new RegExp(`^Finished ${c.statuses.length}/${c.planned} checks in \\d+\\.\\d{3}m?s$`));
    t.is(succeed, `  Succeed: ${c.succeed}`);
    t.is(errors, `  Errors: connect ${c.connect}, timeout ${c.timeout}, other ${c.other}`);
    t.is(summary.allSucceeded, c.allSucceeded);
  },
  title: (what = '') => `counts: ${what}`,
});
test('all open', counts, { planned: 3, statuses: ['open', 'open', 'open'], succeed: 3, connect: 0, timeout: 0, other: 0, allSucceeded: true });
test('closed and unreachable are connect errors', counts, {
  planned: 4,
  statuses: ['open', 'closed', 'unreachable', 'closed'],
  succeed: 1,
  connect: 3,
  timeout: 0,
  other: 0,
  allSucceeded: false,
});
test('timeouts and other errors', counts, {
  planned: 5,
  statuses: ['timeout', 'error', 'timeout', 'open', 'error'],
  succeed: 1,
  connect: 0,
  timeout: 2,
  other: 2,
  allSucceeded: false,
});
test('fewer done than planned (interrupted) is not all succeeded', counts, { planned: 10, statuses: ['open', 'open'], succeed: 2, connect: 0, timeout: 0, other: 0, allSucceeded: false });
test('nothing done', counts, { planned: 0, statuses: [], succeed: 0, connect: 0, timeout: 0, other: 0, allSucceeded: true });

test('the interruption is named on the first line', (t) => {
  const summary = new Summary(5);
  summary.add(result('open'));
  t.regex(lines(summary, 'SIGINT')[0], /^Finished 1\/5 checks in \S+ \(interrupted by SIGINT\)$/);
});

interface PercentileCase {
  rtts: number[];
  p50: number;
  p90: number;
  p99: number;
  max: number;
}
const percentiles = test.macro({
  exec(t, c: PercentileCase) {
    const summary = new Summary(c.rtts.length);
    for (const rtt of c.rtts) summary.add(result('open', rtt));
    const latency = lines(summary).find((l) => l.startsWith('  Latency:'));
    t.is(latency, `  Latency: p50 ${formatMs(c.p50)}, p90 ${formatMs(c.p90)}, p99 ${formatMs(c.p99)}, max ${formatMs(c.max)}`);
  },
  title: (what = '') => `percentiles: ${what}`,
});
// Nearest rank: the value at rank ceil(q * n) of the sorted list.
test('1..100 ms', percentiles, { rtts: Array.from({ length: 100 }, (_, i) => 100 - i), p50: 50, p90: 90, p99: 99, max: 100 });
test('ten shuffled values', percentiles, { rtts: [5, 1, 9, 3, 7, 2, 8, 4, 10, 6], p50: 5, p90: 9, p99: 10, max: 10 });
test('one value is every percentile', percentiles, { rtts: [0.125], p50: 0.125, p90: 0.125, p99: 0.125, max: 0.125 });
test('numeric, not lexicographic, order', percentiles, { rtts: [100, 9, 20, 1000, 3], p50: 20, p90: 1000, p99: 1000, max: 1000 });
test('1000 values', percentiles, { rtts: Array.from({ length: 1000 }, (_, i) => (i * 7919) % 1000), p50: 499, p90: 899, p99: 989, max: 999 });

test('results without an RTT (timeouts) are counted but not in the percentiles', (t) => {
  const summary = new Summary(3);
  summary.add(result('timeout'));
  summary.add(result('open', 4));
  summary.add(result('closed', 2));
  t.true(lines(summary).includes(`  Latency: p50 ${formatMs(2)}, p90 ${formatMs(4)}, p99 ${formatMs(4)}, max ${formatMs(4)}`));
});

test('no Latency line when nothing had an RTT; no Rate line for a single check', (t) => {
  const summary = new Summary(1);
  summary.add(result('timeout'));
  const out = lines(summary);
  t.is(out.length, 3);
  t.false(out.some((l) => l.includes('Latency') || l.includes('Rate')));
});

test('a Rate line, checks per second, for more than one check', (t) => {
  const summary = new Summary(2);
  summary.add(result('open', 1));
  summary.add(result('open', 1));
  t.regex(lines(summary).at(-1) ?? '', /^ {2}Rate: \d+(\.\d+)? checks\/s$/);
});

test('a slow run reports its real rate, never "Rate: 0" (issue 13: --rate 0.5 -n 3)', (t) => {
  let now = 0;
  const summary = new Summary(3, () => now);
  for (let i = 0; i < 3; i++) summary.add(result('open', 1));
  now = 4000;
  t.is(lines(summary).at(-1), '  Rate: 0.75 checks/s');
  now = 3_000_000;
  t.is(lines(summary).at(-1), '  Rate: 0.001 checks/s');
});

const rates = test.macro({
  exec(t, perSecond: number, text: string) {
    t.is(formatRate(perSecond), text);
  },
  title: (_p, perSecond: number, text: string) => `formatRate(${perSecond}) is ${text}`,
});
for (const [perSecond, text] of [
  [0.4999, '0.5'],
  [0.75, '0.75'],
  [9.96, '10'],
  [12.4, '12'],
  [150_123.7, '150124'],
] as const) test(rates, perSecond, text);

const formats = test.macro({
  exec(t, ms: number, text: string) {
    t.is(formatMs(ms), text);
  },
  title: (_p, ms: number, text: string) => `formatMs(${ms}) is ${text}`,
});
for (const [ms, text] of [
  [0, '0.000ms'],
  [0.0004, '0.000ms'],
  [1.5, '1.500ms'],
  [999.999, '999.999ms'],
  [1000, '1.000s'],
  [61_234.5, '61.234s'], // toFixed rounds half-way values by their binary value
] as const) test(formats, ms, text);
