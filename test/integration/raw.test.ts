// The raw engine end to end, in a two-namespace testbed: the engine runs in the client
// namespace (through driver.ts), the server namespace runs a counting server, and tcpdump on the
// server's veth records what really crossed the wire.
import { execFileSync } from 'node:child_process';
import readline from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ExecutionContext } from 'ava';
import { privilegedTest, withTestbed } from '../helpers/testbed.js';
import { readPcapFileSync } from '../../src/capture/pcap-file.js';
import { findNft } from '../../src/firewall/nft-command.js';
import { TcpFlags } from '../../src/wire/index.js';
import type { Testbed } from '../../src/testbed/index.js';
import { DRIVER, parseDriverOutput, runDriver, tcpSegments, type DriverReport, type Segment } from './harness.js';

const FILTERED = 81;
const PROHIBITED = 82;
const CLOSED = 79;
const OPEN = 80;

function bracket(ip: string): string {
  return ip.includes(':') ? `[${ip}]` : ip;
}

/** The segments of one probe's conversation (client port <-> server port), in capture order. */
function conversation(segments: Segment[], clientPort: number, serverPort: number): Segment[] {
  return segments.filter(
    (s) => (s.srcPort === clientPort && s.dstPort === serverPort) || (s.srcPort === serverPort && s.dstPort === clientPort),
  );
}

function assertHalfOpen(t: ExecutionContext, segments: Segment[], client: string, server: string): void {
  const syn = segments.find((s) => s.src === client && s.dst === server && s.dstPort === OPEN && s.flags === 'S');
  if (!syn) {
    t.fail(`no SYN from ${client} to ${server}:${OPEN} in the capture`);
    return;
  }
  const talk = conversation(segments, syn.srcPort, OPEN);
  t.deepEqual(
    talk.map((s) => s.flags),
    ['S', 'S.', 'R'],
    `${client} -> ${server}: exactly SYN, SYN-ACK, RST on the wire`,
  );
  const [, synAck, rst] = talk;
  t.is(synAck.ack, (syn.seq + 1) >>> 0, 'the SYN-ACK acknowledges ISN+1');
  t.is(rst.seq, synAck.ack, 'the RST carries seq = the SYN-ACK ack (ISN+1)');
  t.false(
    talk.some((s) => s.src === client && s.flags.includes('.')),
    'the client never sends an ACK',
  );
}

privilegedTest('open, closed, filtered and prohibited ports over IPv4 and IPv6', async (t) => {
  const tb = await withTestbed(t, { filter: [FILTERED], prohibit: [PROHIBITED] });
  const server = await tb.startServer({ port: OPEN });
  const capture = await tb.capture({ filter: 'tcp or icmp or icmp6' });
  const v4 = tb.address('server', 4);
  const v6 = tb.address('server', 6);
  const targets = [OPEN, CLOSED, FILTERED, PROHIBITED].flatMap((port) => [`${v4}:${port}`, `[${v6}]:${port}`]);
  const report = await runDriver(tb, { strategy: 'raw', timeout: 1500, targets });
  const captured = await capture.stop();

  t.is(report.startFailed, undefined, JSON.stringify(report.startFailed));
  t.is(report.ready?.name, 'raw');
  t.is(report.tables.length, 1, 'the engine owns one nftables table while it runs');
  const byTarget = new Map(report.results.map((r) => [r.target, r]));
  const filteredAttempts = new Map<string, number | undefined>();
  for (const ip of [v4, v6]) {
    const open = byTarget.get(`${bracket(ip)}:${OPEN}`)!;
    t.is(open.status, 'open', `${ip} open`);
    t.is(open.ip, ip);
    t.is(open.attempts, 1);
    t.is(open.evidence?.flags, 'S.');
    t.true(typeof open.evidence?.mss === 'number', 'the SYN-ACK options are reported');
    t.true(open.rttMs !== undefined && open.rttMs >= 0);

    const closed = byTarget.get(`${bracket(ip)}:${CLOSED}`)!;
    t.is(closed.status, 'closed', `${ip} closed`);
    t.is(closed.code, 'ECONNREFUSED');
    t.is(closed.attempts, 1, 'answered before any retransmission');
    t.is(closed.evidence?.flags, 'R.');

    const filtered = byTarget.get(`${bracket(ip)}:${FILTERED}`)!;
    t.is(filtered.status, 'timeout', `${ip} filtered`);
    t.is(filtered.code, 'ETIMEDOUT');
    // The other ports of the destination answered within a few ms, so its measured RTO is the
    // 100 ms floor and all six default retransmissions fit: SYNs at 0, 100, 200, 300, 400, 500
    // and 700 ms of 1500. (RTO = SRTT + 4 RTTVAR, and every sample under 20 ms keeps that under
    // 5 x 20 = 100 ms.) A loaded machine can measure longer round trips (a reply that waited in
    // the capture ring while the loop was off the CPU): then the RTO is longer and fewer SYNs
    // fit, but the budget (engine/rto.ts SYNS_IN_BUDGET) still spreads four over the timeout.
    const samples = [open, closed, byTarget.get(`${bracket(ip)}:${PROHIBITED}`)!].map((r) => r.rttMs);
    const floorRto = samples.every((ms) => ms !== undefined && ms <= 20);
    if (floorRto) t.is(filtered.attempts, 7, `every retransmission inside a 1.5 s timeout (round trips ${samples.join(', ')} ms)`);
    else t.true(filtered.attempts >= 3 && filtered.attempts <= 7, `retransmitted within the budget: ${filtered.attempts} SYNs (round trips ${samples.join(', ')} ms)`);
    filteredAttempts.set(ip, filtered.attempts);

    const prohibited = byTarget.get(`${bracket(ip)}:${PROHIBITED}`)!;
    t.is(prohibited.status, 'unreachable', `${ip} prohibited`);
    t.is(prohibited.attempts, 1, 'unreachable at once, not after a timeout');
    t.is(prohibited.evidence?.responder, ip);
  }
  t.is(byTarget.get(`${v4}:${PROHIBITED}`)!.code, 'EHOSTUNREACH', 'ICMP 3/13 reads as Linux does');
  t.is(byTarget.get(`${v4}:${PROHIBITED}`)!.evidence?.icmpCode, 13);
  t.is(byTarget.get(`[${v6}]:${PROHIBITED}`)!.code, 'EACCES', 'ICMPv6 1/1 reads as Linux does');

  const segments = tcpSegments(captured.file);
  for (const ip of [v4, v6]) {
    const syns = segments.filter((s) => s.dst === ip && s.dstPort === FILTERED && s.flags === 'S').length;
    t.is(syns, filteredAttempts.get(ip) ?? -1, `${ip}:${FILTERED}: as many SYNs on the wire as the result's attempts`);
  }
  assertHalfOpen(t, segments, tb.address('client', 4), v4);
  assertHalfOpen(t, segments, tb.address('client', 6), v6);
  t.is(await server.acceptCount(), 0, 'the server application never saw a connection');

  t.deepEqual(report.afterClose?.tables, [], 'close() removed the nftables table');
  t.is(report.afterClose?.sockets.raw, 0, 'close() closed the raw sockets');
  t.is(report.afterClose?.sockets.packet, 0, 'close() closed the capture');
  t.is(report.stats?.inFlight, 0);
});

privilegedTest('forged replies that do not match the probe are ignored; a matching one counts', async (t) => {
  const tb = await withTestbed(t, { filter: [FILTERED] });
  const capture = await tb.capture({ filter: `tcp dst port ${FILTERED}` });
  const client = tb.address('client', 4);
  const server = tb.address('server', 4);
  // The injector runs before any probe starts: starting node under load takes seconds, longer
  // than a probe's timeout, and a reply forged that late would test nothing.
  const injector = await startInjector(tb);

  const probeAndForge = async (timeout: number, forge: (syn: Segment) => unknown[]): Promise<DriverReport> => {
    const seen = new Set(tcpSegments(readPcapFileSync(capture.path)).map((s) => s.srcPort));
    let finished = false;
    const run = runDriver(tb, { strategy: 'raw', timeout, retries: 0, targets: [`${server}:${FILTERED}`] }).finally(() => (finished = true));
    // Polls the capture (no clock: as long as the driver runs) for this probe's SYN.
    let syn: Segment | undefined;
    while (!syn && !finished) {
      await sleep(10);
      syn = tcpSegments(readPcapFileSync(capture.path)).find((s) => s.flags === 'S' && !seen.has(s.srcPort));
    }
    if (!syn) throw new Error(`the probe SYN never showed up in the capture: ${JSON.stringify(await run)}`);
    t.is(await injector.send(forge(syn)), forge(syn).length);
    return run;
  };

  const tcp = (syn: Segment, fields: { srcPort?: number; seq?: number; ack: number; flags: number }) => ({
    kind: 'tcp',
    src: server,
    dst: client,
    srcPort: fields.srcPort ?? FILTERED,
    dstPort: syn.srcPort,
    seq: fields.seq ?? 12345,
    ack: fields.ack,
    flags: fields.flags,
  });

  const forged = await probeAndForge(2500, (syn) => [
    tcp(syn, { ack: (syn.seq + 2) >>> 0, flags: TcpFlags.SYN | TcpFlags.ACK }), // wrong ack
    tcp(syn, { ack: syn.seq, flags: TcpFlags.SYN | TcpFlags.ACK }), // ack = ISN, not ISN+1
    tcp(syn, { srcPort: FILTERED + 1, ack: (syn.seq + 1) >>> 0, flags: TcpFlags.SYN | TcpFlags.ACK }), // wrong port
    tcp(syn, { ack: (syn.seq + 7) >>> 0, flags: TcpFlags.RST | TcpFlags.ACK }), // RST, wrong ack
    tcp(syn, { seq: 0, ack: 0, flags: TcpFlags.RST }), // RST that acknowledges nothing
    {
      kind: 'icmp-about-syn', // an ICMP error quoting a SYN with another sequence number
      src: server,
      dst: client,
      type: 3,
      code: 13,
      synSrc: client,
      synDst: server,
      synSrcPort: syn.srcPort,
      synDstPort: FILTERED,
      synSeq: (syn.seq + 1000) >>> 0,
    },
  ]);
  t.is(forged.results.length, 1);
  t.is(forged.results[0].status, 'timeout', 'no forged reply decided the check');
  t.true((forged.stats?.repliesIgnored ?? 0) >= 6, `ignored ${forged.stats?.repliesIgnored}`);
  // A SYN-ACK to our port that matches nothing gets the RST the kernel would have sent (the shim
  // took that job from it), rate-limited; never a verdict.
  t.is(forged.stats?.rstSent, forged.stats?.strayedSynAcksReset, 'every RST answers one of the 3 stray SYN-ACKs');
  t.true((forged.stats?.rstSent ?? 0) <= 3);
  t.is(forged.stats?.open, 0);

  // A long timeout: the verdict comes from the SYN-ACK, whenever the loaded machine delivers it.
  const genuine = await probeAndForge(30_000, (syn) => [tcp(syn, { ack: (syn.seq + 1) >>> 0, flags: TcpFlags.SYN | TcpFlags.ACK })]);
  t.is(genuine.results[0].status, 'open', 'the same injection path with the right ack is believed');
  t.is(genuine.stats?.rstSent, 1);
  await capture.stop();
});

/** test/integration/inject.ts in the server namespace, started and ready; `send` forges packets. */
async function startInjector(tb: Testbed): Promise<{ send(packets: unknown[]): Promise<number> }> {
  const script = new URL('./inject.ts', import.meta.url).pathname;
  const child = tb.spawn('server', [process.execPath, '--import', import.meta.resolve('tsx/esm'), script]);
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const lines = readline.createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const next = async (): Promise<Record<string, number | boolean>> => {
    const line = await lines.next();
    if (line.done) throw new Error(`the injector ended: ${stderr}`);
    return JSON.parse(line.value) as Record<string, number | boolean>;
  };
  await next(); // {ready: true}
  return {
    async send(packets) {
      child.stdin!.write(`${JSON.stringify(packets)}\n`);
      return Number((await next()).sent);
    },
  };
}

privilegedTest('an AbortSignal aborts a check in flight', async (t) => {
  const tb = await withTestbed(t, { filter: [FILTERED] });
  const report = await runDriver(tb, { strategy: 'raw', timeout: 10_000, abortAfterMs: 200, targets: [`${tb.address('server', 4)}:${FILTERED}`] });
  t.is(report.results.length, 0);
  t.is(report.rejected.length, 1);
  t.is(report.rejected[0].rejected.name, 'TimeoutError', 'rejected with the signal reason (AbortSignal.timeout)');
  t.is(report.stats?.inFlight, 0, 'the probe left the table');
});

privilegedTest('a retransmitted SYN-ACK gets one more RST at most and never a second verdict', async (t) => {
  const tb = await withTestbed(t);
  await tb.startServer({ port: OPEN });
  // The server loses our RSTs (dropped after tcpdump has seen them), so its kernel keeps the
  // half-open connection and retransmits the SYN-ACK after 1 s and 3 s.
  await tb.exec('server', [findNft(), '-f', '-'], {
    input: 'table inet lose_rst {\n  chain in {\n    type filter hook input priority 0;\n    tcp flags & rst == rst drop\n  }\n}\n',
  });
  const capture = await tb.capture({ filter: `tcp port ${OPEN}` });
  // The capture stays open past the 3 s retransmission (it closes 2 s after the last probe by
  // default), so the engine sees both late SYN-ACKs and must answer only the first.
  const report = await runDriver(tb, {
    strategy: 'raw',
    timeout: 1000,
    raw: { captureIdleMs: 6000 },
    targets: [`${tb.address('server', 4)}:${OPEN}`],
    afterMs: 4000,
  });
  const segments = tcpSegments((await capture.stop()).file);
  t.is(report.results.length, 1);
  t.is(report.results[0].status, 'open');
  const synAcks = segments.filter((s) => s.flags === 'S.').length;
  const rsts = segments.filter((s) => s.flags === 'R').length;
  t.true(synAcks >= 3, `the server retransmitted its SYN-ACK (${synAcks} seen)`);
  t.is(rsts, 2, 'one RST for the verdict, one more for the first retransmission, then silence');
  t.true((report.stats?.duplicateSynAcks ?? 0) >= 2, `late SYN-ACKs seen: ${report.stats?.duplicateSynAcks}`);
  t.is(report.stats?.open, 1, 'one verdict');
});

async function holdAndKill(t: ExecutionContext, tb: Testbed, signal: NodeJS.Signals): Promise<void> {
  const child = tb.spawn('client', [process.execPath, '--import', 'tsx/esm', DRIVER, JSON.stringify({ strategy: 'raw', holdMs: 60_000, targets: [] })]);
  let stdout = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  for (let i = 0; i < 500 && !stdout.includes('"holding"'); i++) await sleep(20);
  const held = parseDriverOutput(stdout, '', null);
  t.is(held.tables.length, 1, `the engine installed its table before ${signal}`);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  await exited;
  // The kernel drops an owner table when nft's netlink socket closes; nft exits once the pipe
  // from the dead engine closes. Give it a moment.
  let tables = '';
  for (let i = 0; i < 100; i++) {
    tables = (await tb.exec('client', [findNft(), 'list', 'tables'])).stdout.trim();
    if (tables === '') break;
    await sleep(20);
  }
  t.is(tables, '', `no nftables table left after ${signal}`);
  // Processes are not namespaced here, network namespaces are: `ip netns pids` lists the
  // processes living in the client namespace.
  const pids = execFileSync('sh', ['-c', `ip netns pids ${tb.client.name} | xargs -r ps -o comm= -p || true`], { encoding: 'utf8' });
  t.false(/^nft$/m.test(pids), `no nft child left in the namespace (${pids.trim() || 'none'})`);
}

privilegedTest('SIGTERM and SIGKILL leave no table behind, and a new engine starts cleanly', async (t) => {
  const tb = await withTestbed(t);
  await holdAndKill(t, tb, 'SIGTERM');
  await holdAndKill(t, tb, 'SIGKILL');
  const again = await runDriver(tb, { strategy: 'raw', targets: [`${tb.address('server', 4)}:${CLOSED}`] });
  t.is(again.results[0]?.status, 'closed');
  t.deepEqual(again.afterClose?.tables, []);
});

privilegedTest('local targets: 127.0.0.1, ::1 and localhost, on the loopback interface', async (t) => {
  const tb = await withTestbed(t);
  // A listener on 127.0.0.1 only, inside the client namespace, counting what it accepts.
  const listener = tb.spawn('client', [
    process.execPath,
    '-e',
    "let n=0; require('net').createServer((s)=>{n++; s.destroy()}).listen(8080,'127.0.0.1',()=>console.log('listening')); process.on('SIGTERM',()=>{console.log('accepted '+n); process.exit(0)})",
  ]);
  let out = '';
  listener.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  for (let i = 0; i < 250 && !out.includes('listening'); i++) await sleep(20);
  const report = await runDriver(tb, {
    strategy: 'raw',
    timeout: 1000,
    targets: ['127.0.0.1:8080', '[::1]:8080', 'localhost:8080', '127.0.0.1:8081'],
  });
  const exited = new Promise((resolve) => listener.once('exit', resolve));
  listener.kill('SIGTERM');
  await exited;
  const by = new Map(report.results.map((r) => [r.target, r]));
  t.is(by.get('127.0.0.1:8080')?.status, 'open');
  t.is(by.get('[::1]:8080')?.status, 'closed', '::1 has no listener');
  t.is(by.get('localhost:8080')?.status, 'open', 'localhost is open although ::1 refuses: no false "down"');
  t.is(by.get('localhost:8080')?.ip, '127.0.0.1', 'the result names the address that answered');
  t.is(by.get('127.0.0.1:8081')?.status, 'closed');
  t.true(out.includes('accepted 0'), `the local listener accepted nothing (${out.trim()})`);
});
