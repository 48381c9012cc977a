// Shared pieces of the engine's integration tests: run the driver inside the client namespace
// and read its JSON lines; turn a server-side capture into TCP/ICMP summaries with the project's
// own parsers.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Testbed } from '../../src/testbed/index.js';
import type { PcapFile } from '../../src/capture/pcap-file.js';
import { ipPacket } from '../../src/capture/link-layer.js';
import { formatAddress, formatTcpFlags, parseIp, parseTcp } from '../../src/wire/index.js';
import type { CheckResult } from '../../src/index.js';

export const DRIVER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'driver.ts');

export interface DriverSpec {
  strategy?: 'auto' | 'raw' | 'socket' | 'connect';
  targets: string[];
  timeout?: number;
  retries?: number;
  family?: 4 | 6 | 'both' | 'prefer4' | 'prefer6';
  raw?: Record<string, unknown>;
  abortAfterMs?: number;
  holdMs?: number;
  parallel?: boolean;
  afterMs?: number;
  checkers?: number;
}

export interface DriverReport {
  ready?: { name: string; reason: string };
  tables: string[];
  /** `checker`: which of the driver's Checkers (spec.checkers > 1 only). */
  results: Array<CheckResult & { error?: { name: string; code: string; message: string }; checker?: number }>;
  rejected: Array<{ target: string; rejected: { name: string; code?: string; message: string } }>;
  stats?: Record<string, number>;
  /** Every checker's stats, by index (the last one is also `stats`). */
  statsByChecker: Array<Record<string, number>>;
  afterClose?: { tables: string[]; sockets: { raw: number; packet: number; total: number }; handles: string[] };
  startFailed?: { name: string; code?: string; message: string };
  stderr: string;
  exitCode: number | null;
}

export function parseDriverOutput(stdout: string, stderr: string, exitCode: number | null): DriverReport {
  const report: DriverReport = { tables: [], results: [], rejected: [], statsByChecker: [], stderr, exitCode };
  for (const line of stdout.split('\n')) {
    if (!line.trim()) continue;
    let value: Record<string, unknown>;
    try {
      value = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    if (value.ready) {
      report.ready = value.ready as DriverReport['ready'];
      report.tables = value.tables as string[];
    }
    if (value.result) {
      const result = value.result as DriverReport['results'][number];
      report.results.push(value.checker === undefined ? result : { ...result, checker: value.checker as number });
    }
    if (value.rejected) report.rejected.push(value as unknown as DriverReport['rejected'][number]);
    if (value.stats) {
      report.stats = value.stats as Record<string, number>;
      report.statsByChecker[(value.checker as number | undefined) ?? 0] = report.stats;
    }
    if (value.afterClose) report.afterClose = value.afterClose as DriverReport['afterClose'];
    if (value.startFailed) report.startFailed = value.startFailed as DriverReport['startFailed'];
  }
  return report;
}

export async function runDriver(tb: Testbed, spec: DriverSpec, timeoutMs = 60_000): Promise<DriverReport> {
  const r = await tb.execNode(DRIVER, [JSON.stringify(spec)], { timeoutMs });
  return parseDriverOutput(r.stdout, r.stderr, r.code);
}

export interface Segment {
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  flags: string;
  seq: number;
  ack: number;
}

/** Every TCP segment of a capture, in order, as tcpdump would summarise it. */
export function tcpSegments(file: PcapFile): Segment[] {
  const out: Segment[] = [];
  for (const record of file.records) {
    const bytes = ipPacket(record.data, file.linkType);
    if (!bytes) continue;
    const ip = parseIp(bytes);
    if (!ip.ok || ip.value.protocol !== 6) continue;
    const d = ip.value;
    const tcp = parseTcp(bytes.subarray(d.payloadOffset, d.payloadOffset + d.payloadLength), d);
    if (!tcp.ok) continue;
    out.push({
      src: formatAddress(d.src),
      dst: formatAddress(d.dst),
      srcPort: tcp.value.srcPort,
      dstPort: tcp.value.dstPort,
      flags: formatTcpFlags(tcp.value.flags),
      seq: tcp.value.seq,
      ack: tcp.value.ack,
    });
  }
  return out;
}
