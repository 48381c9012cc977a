// What tcp-checker prints per check and, in monitor mode, per state change and round: one text
// line for people, or one JSON line for programs. Pure functions from values to strings.
import type { CheckResult } from '../checker.js';
import type { MonitorChange, MonitorRound } from '../monitor/monitor.js';
import type { HealthStatus } from '../monitor/health.js';
import { formatRtt } from './format.js';

import { resultJson } from './json-lines.js';

/** The fields of check(), with the error as {name, code, message} (shape-aware: json-lines.ts). */
export { resultJson };

function where(result: CheckResult): string {
  return result.ip ? `${result.ip.includes(':') ? `[${result.ip}]` : result.ip}:${result.port}` : result.target;
}

/** "198.18.0.2:80: open [S.] in 0.312ms, 1 SYN" (the -v line). */
export function resultLine(result: CheckResult): string {
  const at = where(result);
  const rtt = result.rttMs !== undefined ? ` in ${result.rttMs.toFixed(3)}ms` : '';
  const code = result.code && result.status !== 'open' ? ` (${result.code})` : '';
  const flags = result.evidence?.flags ? ` [${result.evidence.flags}]` : '';
  const name = at === result.target ? at : `${result.target} (${at})`;
  return `${name}: ${result.status}${code}${flags}${rtt}, ${result.attempts} SYN${result.attempts === 1 ? '' : 's'}`;
}

const STATE: Record<HealthStatus, string> = { unknown: 'UNKNOWN', up: 'UP', down: 'DOWN' };

/** The label, and the probe when the label does not already name it ("web (198.18.0.2:80)"). */
function label(target: string, probe: string): string {
  return target.includes(probe) ? target : `${target} (${probe})`;
}

/** The last result that speaks for the round: an open one going up, else the last one. */
function deciding(round: MonitorRound, up: boolean): CheckResult | undefined {
  return (up ? round.results.find((r) => r.status === 'open') : undefined) ?? round.results.at(-1);
}

/** "2026-05-01T10:00:00.000Z target 198.18.0.2:80 DOWN -> UP (2/2 successes, last rtt 0.31ms)". */
export function changeLine(change: MonitorChange): string {
  const up = change.to === 'up';
  const last = deciding(change.round, up);
  let detail: string;
  if (up) detail = last?.rttMs !== undefined ? `last rtt ${formatRtt(last.rttMs)}` : 'last open';
  else detail = `last ${last?.status ?? 'error'}${last?.code ? ` ${last.code}` : ''}`;
  const counted = `${change.consecutive}/${change.needed} ${up ? 'successes' : 'failures'}`;
  return `${change.time.toISOString()} target ${label(change.target, change.probe)} ${STATE[change.from]} -> ${STATE[change.to]} (${counted}, ${detail})`;
}

export function changeJson(change: MonitorChange): string {
  const last = deciding(change.round, change.to === 'up');
  return JSON.stringify({
    time: change.time.toISOString(),
    event: 'change',
    target: change.target,
    probe: change.probe,
    from: STATE[change.from],
    to: STATE[change.to],
    consecutive: change.consecutive,
    needed: change.needed,
    lastStatus: last?.status,
    lastCode: last?.code,
    lastRttMs: last?.rttMs,
  });
}

/** "... round 198.18.0.2:80 #12: 5/5 open, loss 0%, dup 0, rtt 0.21/0.30/0.41ms, UP, next in 2000ms" (-v). */
export function roundLine(round: MonitorRound): string {
  const loss = `loss ${Math.round(round.lossRatio * 100)}%`;
  const dup = round.duplicates !== undefined ? `, dup ${round.duplicates}` : '';
  const rtt = round.rttMs ? `, rtt min/avg/max ${formatRtt(round.rttMs.min)}/${formatRtt(round.rttMs.avg)}/${formatRtt(round.rttMs.max)}` : '';
  const failures = Object.entries(round.statuses)
    .filter(([status, n]) => status !== 'open' && n > 0)
    .map(([status, n]) => `${n} ${status}`);
  const others = failures.length > 0 ? ` (${failures.join(', ')})` : '';
  return (
    `${round.time.toISOString()} round ${label(round.target, round.probe)} #${round.round}: ` +
    `${round.statuses.open}/${round.sent} open${others}, ${loss}${dup}${rtt}, ${STATE[round.status]}, next in ${Math.round(round.nextInMs)}ms`
  );
}

export function roundJson(round: MonitorRound): string {
  const { results, time, ...rest } = round;
  return JSON.stringify({
    time: time.toISOString(),
    event: 'round',
    ...rest,
    status: STATE[round.status],
    results: results.map((r) => JSON.parse(resultJson(r)) as unknown),
  });
}
