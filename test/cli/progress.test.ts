// The progress line is a pure function of counts, elapsed time and terminal width.
import test from 'ava';
import { renderProgress, type ProgressView } from '../../src/cli/progress.js';
import { formatDuration } from '../../src/cli/format.js';

const view = (over: Partial<ProgressView>): ProgressView => ({ done: 0, planned: 100, open: 0, failed: 0, elapsedMs: 0, columns: 200, ...over });

const renders = test.macro({
  exec(t, v: Partial<ProgressView>, expected: string) {
    t.is(renderProgress(view(v)), expected);
  },
  title: (what = '') => `renders ${what}`,
});
test('the start', renders, {}, `[${'-'.repeat(40)}]   0%    0/100  open 0  failed 0  0ms`);
test('half way, with an ETA', renders, { done: 50, open: 45, failed: 5, elapsedMs: 1000 }, `[${'#'.repeat(20)}${'-'.repeat(20)}]  50%   50/100  open 45  failed 5  1.0s  ETA 1.0s`);
test('the end: no ETA', renders, { done: 100, open: 100, elapsedMs: 65_000 }, `[${'#'.repeat(40)}] 100%  100/100  open 100  failed 0  1m05s`);
test('counts keep their width', renders, { done: 7, planned: 12345, open: 7, elapsedMs: 10 }, `[${'-'.repeat(40)}]   0%      7/12345  open 7  failed 0  10ms  ETA 18s`.replace('18s', formatDuration((10 / 7) * (12345 - 7))));

const fits = test.macro({
  exec(t, columns: number) {
    const line = renderProgress(view({ done: 123_456, planned: 1_000_000, open: 120_000, failed: 3456, elapsedMs: 98_765, columns }));
    t.true(line.length <= columns - 1, `${line.length} chars for ${columns} columns: ${line}`);
    t.false(line.includes('\n'));
  },
  title: (_p, columns: number) => `fits a ${columns}-column terminal`,
});
for (const columns of [200, 120, 80, 60, 40, 20, 1]) test(fits, columns);

test('the bar narrows before the numbers go', (t) => {
  const line = renderProgress(view({ done: 50, open: 50, elapsedMs: 500, columns: 70 }));
  t.regex(line, /^\[#+-+\]  50%/);
  t.true(line.endsWith('ETA 500ms'));
});

test('over-counting never draws past 100%', (t) => {
  t.regex(renderProgress(view({ done: 120, planned: 100 })), /^\[#{40}\] 100%/);
});

test('nothing planned reads as done', (t) => {
  t.regex(renderProgress(view({ planned: 0 })), /^\[#{40}\] 100%/);
});

const durations = test.macro({
  exec(t, ms: number, text: string) {
    t.is(formatDuration(ms), text);
  },
  title: (_p, ms: number, text: string) => `formatDuration(${ms}) is ${text}`,
});
for (const [ms, text] of [
  [0, '0ms'],
  [999.4, '999ms'],
  [1000, '1.0s'],
  [59_949, '59.9s'],
  [60_000, '1m00s'],
  [3_599_999, '59m59s'],
  [3_600_000, '1h00m'],
  [90_061_000, '25h01m'],
] as const) test(durations, ms, text);
