// One probe's answer in the Prometheus text format (version 0.0.4), as blackbox_exporter writes
// it: the three metrics its dashboards and alerts use (probe_success, probe_duration_seconds,
// probe_ip_protocol) under the same names, then tcp-shaker's own under probe_tcp_shaker_*.
// Pure: values in, text out. A fresh text per probe (blackbox builds a fresh registry per probe
// too), so no label set of one target ever lingers in another's answer.
import type { CheckResult } from '../checker.js';
import type { CheckStatus } from '../core/types.js';

export const PROBE_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export interface ProbeReport {
  /** One result per probe of the burst, in order. */
  results: readonly CheckResult[];
  /** From the request to the last result, name resolution included. */
  durationMs: number;
  /** The timeout each check had (after the scrape header's cap). */
  timeoutMs: number;
}

const STATUSES: readonly CheckStatus[] = ['open', 'closed', 'timeout', 'unreachable', 'error'];
// Which result speaks for a burst: any open one; else the most definite (as Checker.check ranks addresses).
const RANK: Record<CheckStatus, number> = { open: 0, closed: 1, unreachable: 2, timeout: 3, error: 4 };

/** The result that decides the probe. */
export function decidingResult(results: readonly CheckResult[]): CheckResult {
  return results.reduce((best, r) => (RANK[r.status] < RANK[best.status] ? r : best));
}

/** Label values escape backslash, double quote and newline (the exposition format's rule). */
function label(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labels(pairs: Record<string, string | number | undefined>): string {
  const present = Object.entries(pairs).filter(([, v]) => v !== undefined && v !== '');
  return present.length === 0 ? '' : `{${present.map(([k, v]) => `${k}="${label(String(v))}"`).join(',')}}`;
}

/** Seconds without float noise in the last digits (1.2e-7 stays exact, 0.1+0.2 does not print 0.30000000000000004). */
function seconds(ms: number): string {
  return String(Number((ms / 1000).toPrecision(9)));
}

export function probeText(report: ProbeReport): string {
  const lines: string[] = [];
  const gauge = (name: string, help: string, samples: Array<[string, string | number]>): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
    for (const [labelText, value] of samples) lines.push(`${name}${labelText} ${value}`);
  };
  const result = decidingResult(report.results);
  const evidence = result.evidence ?? {};
  const ipProtocol = result.ip === '' ? 0 : result.ip.includes(':') ? 6 : 4;

  gauge('probe_success', 'Displays whether or not the probe was a success (the port answered open)', [['', result.status === 'open' ? 1 : 0]]);
  gauge('probe_duration_seconds', 'Returns how long the probe took to complete in seconds', [['', seconds(report.durationMs)]]);
  gauge('probe_ip_protocol', 'Specifies whether probe ip protocol is IP4 or IP6 (0: no address)', [['', ipProtocol]]);
  gauge('probe_tcp_shaker_status', 'The verdict of the half-open check: 1 on its line', STATUSES.map((s) => [labels({ status: s }), s === result.status ? 1 : 0]));
  gauge('probe_tcp_shaker_info', 'What answered: the address probed, the reply flags or ICMP sender, the errno-style code', [
    [labels({ ip: result.ip, code: result.status === 'open' ? undefined : result.code, flags: evidence.flags, responder: evidence.responder, strategy: result.strategy }), 1],
  ]);
  if (result.rttMs !== undefined) gauge('probe_tcp_shaker_rtt_seconds', 'From the SYN to its answer (SYN-ACK, RST or ICMP)', [['', seconds(result.rttMs)]]);
  gauge('probe_tcp_shaker_syns_sent', 'SYNs sent by this probe, retransmissions and the whole burst included', [
    ['', report.results.reduce((n, r) => n + r.attempts, 0)],
  ]);
  gauge('probe_tcp_shaker_probes', 'Probes in the burst, by whether they answered open', [
    [labels({ open: 'true' }), report.results.filter((r) => r.status === 'open').length],
    [labels({ open: 'false' }), report.results.filter((r) => r.status !== 'open').length],
  ]);
  gauge('probe_tcp_shaker_timeout_seconds', 'The timeout each check had, after the scrape timeout cap', [['', seconds(report.timeoutMs)]]);
  if (evidence.ttl !== undefined) gauge('probe_tcp_shaker_reply_ttl', 'IPv4 TTL or IPv6 hop limit of the answer', [['', evidence.ttl]]);
  if (evidence.window !== undefined) gauge('probe_tcp_shaker_reply_window', 'TCP window of the SYN-ACK or RST', [['', evidence.window]]);
  if (evidence.mss !== undefined) gauge('probe_tcp_shaker_reply_mss', 'MSS option of the SYN-ACK', [['', evidence.mss]]);
  if (evidence.icmpType !== undefined) {
    gauge('probe_tcp_shaker_icmp_type', 'Type of the ICMP or ICMPv6 error that answered', [['', evidence.icmpType]]);
    gauge('probe_tcp_shaker_icmp_code', 'Code of the ICMP or ICMPv6 error that answered', [['', evidence.icmpCode ?? 0]]);
  }
  return `${lines.join('\n')}\n`;
}
