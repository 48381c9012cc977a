// One table of cases, run against every strategy: the outcome per port, what crossed the wire,
// what the server application saw, AbortSignal, and what is left after close(). Where a
// strategy legitimately differs (connect completes the handshake; a kernel socket turns an
// ICMPv6 "prohibited" into an error only on its first retransmission), the table says so.
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ExecutionContext } from 'ava';
import { privilegedTest, withTestbed } from '../helpers/testbed.js';
import type { StrategyName } from '../../src/core/types.js';
import { DRIVER, parseDriverOutput, runDriver, tcpSegments, type Segment } from './harness.js';

const OPEN = 80;
const CLOSED = 79;
const FILTERED = 81;
const PROHIBITED = 82;

interface Expectation {
  strategy: StrategyName;
  /** The client's packets of an open check, as tcpdump flags. */
  openWire: string[];
  /** Connections the server application accepted for the two open checks (v4 and v6). */
  accepts: number;
  prohibited: { 4: string; 6: string };
}

const cases: Expectation[] = [
  { strategy: 'raw', openWire: ['S', 'S.', 'R'], accepts: 0, prohibited: { 4: 'EHOSTUNREACH', 6: 'EACCES' } },
  // The kernel aborts with SO_LINGER {1, 0}: its RST carries the ACK flag, and no bare ACK goes out.
  { strategy: 'socket', openWire: ['S', 'S.', 'R.'], accepts: 0, prohibited: { 4: 'EHOSTUNREACH', 6: 'EACCES' } },
  // The portable fallback: a full handshake, which the server application does see.
  { strategy: 'connect', openWire: ['S', 'S.', '.', 'R.'], accepts: 2, prohibited: { 4: 'EHOSTUNREACH', 6: 'EACCES' } },
];

function bracket(ip: string): string {
  return ip.includes(':') ? `[${ip}]` : ip;
}

function openConversation(segments: Segment[], client: string, server: string): string[] {
  const syn = segments.find((s) => s.src === client && s.dst === server && s.dstPort === OPEN && s.flags === 'S');
  if (!syn) return [];
  return segments
    .filter((s) => (s.srcPort === syn.srcPort && s.dstPort === OPEN) || (s.srcPort === OPEN && s.dstPort === syn.srcPort))
    .map((s) => s.flags);
}

for (const expected of cases) {
  privilegedTest(`${expected.strategy}: outcomes, wire, accept count and leaks (IPv4 + IPv6)`, async (t) => {
    const tb = await withTestbed(t, { filter: [FILTERED], prohibit: [PROHIBITED] });
    const server = await tb.startServer({ port: OPEN });
    const capture = await tb.capture({ filter: 'tcp or icmp or icmp6' });
    const ips = { 4: tb.address('server', 4), 6: tb.address('server', 6) } as const;
    const targets = [OPEN, CLOSED, FILTERED, PROHIBITED].flatMap((port) => [`${ips[4]}:${port}`, `[${ips[6]}]:${port}`]);
    const report = await runDriver(tb, { strategy: expected.strategy, timeout: 2500, targets, parallel: true });
    const segments = tcpSegments((await capture.stop()).file);

    t.is(report.startFailed, undefined, JSON.stringify(report.startFailed));
    t.is(report.ready?.name, expected.strategy);
    const by = new Map(report.results.map((r) => [r.target, r]));
    for (const family of [4, 6] as const) {
      const ip = bracket(ips[family]);
      t.is(by.get(`${ip}:${OPEN}`)?.status, 'open', `${ip} open`);
      t.is(by.get(`${ip}:${CLOSED}`)?.status, 'closed', `${ip} closed`);
      t.is(by.get(`${ip}:${CLOSED}`)?.code, 'ECONNREFUSED');
      t.is(by.get(`${ip}:${FILTERED}`)?.status, 'timeout', `${ip} filtered`);
      t.is(by.get(`${ip}:${FILTERED}`)?.code, 'ETIMEDOUT');
      t.is(by.get(`${ip}:${PROHIBITED}`)?.status, 'unreachable', `${ip} prohibited`);
      t.is(by.get(`${ip}:${PROHIBITED}`)?.code, expected.prohibited[family]);
      t.deepEqual(openConversation(segments, tb.address('client', family), ips[family]), expected.openWire, `IPv${family} open check on the wire`);
    }
    t.is(await server.acceptCount(), expected.accepts, 'what the server application saw');
    t.is(report.afterClose?.sockets.raw, 0, 'no raw socket after close()');
    t.is(report.afterClose?.sockets.packet, 0, 'no capture after close()');
    t.deepEqual(report.afterClose?.tables, [], 'no nftables table after close()');
  });

  privilegedTest(`${expected.strategy}: an AbortSignal aborts a check in flight and frees it`, async (t) => {
    const tb = await withTestbed(t, { filter: [FILTERED] });
    const report = await runDriver(tb, {
      strategy: expected.strategy,
      timeout: 10_000,
      abortAfterMs: 300,
      targets: [`${tb.address('server', 4)}:${FILTERED}`, `[${tb.address('server', 6)}]:${FILTERED}`],
      parallel: true,
    });
    t.is(report.rejected.length, 2, JSON.stringify(report.results));
    t.true(report.rejected.every((r) => r.rejected.name === 'TimeoutError'), 'rejected with the signal reason');
    t.is(report.stats?.inFlight, 0);
  });
}

/** Runs the driver as uid 65534 with every capability dropped, inside the client namespace. */
async function runUnprivileged(t: ExecutionContext, tbArgs: { ns: string; spec: unknown }): Promise<ReturnType<typeof parseDriverOutput>> {
  const argv = [
    'ip', 'netns', 'exec', tbArgs.ns,
    'setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all',
    process.execPath, '--import', 'tsx/esm', DRIVER, JSON.stringify(tbArgs.spec),
  ];
  let stdout = '';
  let stderr = '';
  let code: number | null = 0;
  try {
    stdout = execFileSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 60_000 });
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; status?: number | null };
    stdout = e.stdout ?? '';
    stderr = e.stderr ?? '';
    code = e.status ?? null;
  }
  t.log(stderr.trim());
  return parseDriverOutput(stdout, stderr, code);
}

privilegedTest('without any capability, auto falls back to socket and stays half-open', async (t) => {
  const tb = await withTestbed(t);
  const server = await tb.startServer({ port: OPEN });
  const capture = await tb.capture({ filter: `tcp port ${OPEN}` });
  const report = await runUnprivileged(t, {
    ns: tb.client.name,
    spec: { strategy: 'auto', timeout: 2000, targets: [`${tb.address('server', 4)}:${OPEN}`, `[${tb.address('server', 6)}]:${OPEN}`] },
  });
  await sleep(100);
  const segments = tcpSegments((await capture.stop()).file);
  t.is(report.ready?.name, 'socket', `auto chose ${report.ready?.name}: ${report.ready?.reason}`);
  t.regex(report.ready?.reason ?? '', /raw unavailable/);
  t.deepEqual(report.results.map((r) => r.status), ['open', 'open']);
  for (const family of [4, 6] as const) {
    t.deepEqual(openConversation(segments, tb.address('client', family), tb.address('server', family)), ['S', 'S.', 'R.'], `IPv${family}: SYN, SYN-ACK, RST and no ACK`);
  }
  t.is(await server.acceptCount(), 0);
});
