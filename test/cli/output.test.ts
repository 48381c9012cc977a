// What the command line prints per check, per state change and per round.
import test from 'ava';
import type { CheckResult } from '../../src/checker.js';
import { ConnectError } from '../../src/core/errors.js';
import type { MonitorChange, MonitorRound } from '../../src/monitor/monitor.js';
import { summarizeRound } from '../../src/monitor/round.js';
import { changeJson, changeLine, resultJson, resultLine, roundJson, roundLine } from '../../src/cli/output.js';

const TIME = new Date('2026-05-01T10:00:00.000Z');

const open: CheckResult = { target: '198.18.0.2:80', ip: '198.18.0.2', port: 80, status: 'open', strategy: 'raw', attempts: 1, rttMs: 0.3125, evidence: { flags: 'S.' } };
const closed: CheckResult = {
  target: 'web.example:80',
  ip: '2001:2::2',
  port: 80,
  status: 'closed',
  code: 'ECONNREFUSED',
  strategy: 'raw',
  attempts: 2,
  rttMs: 1,
  error: new ConnectError('connection to [2001:2::2]:80 refused (RST)', 'ECONNREFUSED'),
};
const timedOut: CheckResult = { target: '198.18.0.9:80', ip: '198.18.0.9', port: 80, status: 'timeout', code: 'ETIMEDOUT', strategy: 'raw', attempts: 3 };

function round(results: CheckResult[], over: Partial<MonitorRound> = {}): MonitorRound {
  return { ...summarizeRound(results), time: TIME, target: '198.18.0.2:80', probe: '198.18.0.2:80', round: 4, status: 'up', interval: 'inter', nextInMs: 2000, results, ...over };
}

function change(from: MonitorChange['from'], to: MonitorChange['to'], results: CheckResult[], over: Partial<MonitorChange> = {}): MonitorChange {
  return { time: TIME, target: '198.18.0.2:80', probe: '198.18.0.2:80', from, to, consecutive: to === 'up' ? 2 : 3, needed: to === 'up' ? 2 : 3, round: round(results), ...over };
}

const lines = test.macro({
  exec(t, actual: string, expected: string) {
    t.is(actual, expected);
  },
  title: (what = '') => `prints ${what}`,
});
test('an open check (-v)', lines, resultLine(open), '198.18.0.2:80: open [S.] in 0.313ms, 1 SYN');
test('a closed check of a name (-v)', lines, resultLine(closed), 'web.example:80 ([2001:2::2]:80): closed (ECONNREFUSED) in 1.000ms, 2 SYNs');
test('DOWN -> UP', lines, changeLine(change('down', 'up', [open])), '2026-05-01T10:00:00.000Z target 198.18.0.2:80 DOWN -> UP (2/2 successes, last rtt 0.31ms)');
test('UNKNOWN -> UP', lines, changeLine(change('unknown', 'up', [timedOut, open])), '2026-05-01T10:00:00.000Z target 198.18.0.2:80 UNKNOWN -> UP (2/2 successes, last rtt 0.31ms)');
test('UP -> DOWN', lines, changeLine(change('up', 'down', [closed])), '2026-05-01T10:00:00.000Z target 198.18.0.2:80 UP -> DOWN (3/3 failures, last closed ECONNREFUSED)');
test('a named target', lines, changeLine(change('up', 'down', [timedOut], { target: 'web-1' })), '2026-05-01T10:00:00.000Z target web-1 (198.18.0.2:80) UP -> DOWN (3/3 failures, last timeout ETIMEDOUT)');
test('a round (-v)', lines, roundLine(round([open, timedOut])), '2026-05-01T10:00:00.000Z round 198.18.0.2:80 #4: 1/2 open (1 timeout), loss 50%, rtt min/avg/max 0.31ms/0.31ms/0.31ms, UP, next in 2000ms');
test('a round with duplicates, nothing open', lines, roundLine({ ...round([closed], { status: 'down', interval: 'downinter', nextInMs: 5000 }), duplicates: 1 }), '2026-05-01T10:00:00.000Z round 198.18.0.2:80 #4: 0/1 open (1 closed), loss 100%, dup 1, DOWN, next in 5000ms');

test('a check as JSON: the fields of check(), the error as name/code/message', (t) => {
  t.deepEqual(JSON.parse(resultJson(closed)), {
    target: 'web.example:80',
    ip: '2001:2::2',
    port: 80,
    status: 'closed',
    code: 'ECONNREFUSED',
    strategy: 'raw',
    attempts: 2,
    rttMs: 1,
    error: { name: 'ConnectError', code: 'ECONNREFUSED', message: 'connection to [2001:2::2]:80 refused (RST)' },
  });
  t.deepEqual(JSON.parse(resultJson(open)), { ...open });
});

test('a change as JSON', (t) => {
  t.deepEqual(JSON.parse(changeJson(change('up', 'down', [closed]))), {
    time: '2026-05-01T10:00:00.000Z',
    event: 'change',
    target: '198.18.0.2:80',
    probe: '198.18.0.2:80',
    from: 'UP',
    to: 'DOWN',
    consecutive: 3,
    needed: 3,
    lastStatus: 'closed',
    lastCode: 'ECONNREFUSED',
    lastRttMs: 1,
  });
});

test('a round as JSON', (t) => {
  const json = JSON.parse(roundJson(round([open, timedOut]))) as Record<string, unknown>;
  t.like(json, { time: '2026-05-01T10:00:00.000Z', event: 'round', target: '198.18.0.2:80', round: 4, sent: 2, lossRatio: 0.5, status: 'UP', interval: 'inter', nextInMs: 2000 });
  t.is((json.results as unknown[]).length, 2);
  t.is((json.histogram as number[]).reduce((a, b) => a + b, 0), 1);
});
