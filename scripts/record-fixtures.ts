// Records fixtures/**/*.pcap from real Linux kernels talking across a testbed (two network
// namespaces), keeps only the packets each fixture is about, and writes beside every .pcap a
// .txt with its `tcpdump -nn -vv -XX -r` dump, plus fixtures/README.md describing them all.
//
//   npm run fixtures                                   (compiled: node dist/scripts/record-fixtures.js)
//   node --import tsx/esm scripts/record-fixtures.ts   (from source)
//
// Needs root. Each recipe checks that it got exactly the packet kinds it expects and retries
// otherwise, so re-runs produce the same files up to timestamps, sequence numbers and checksums.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LinkType, PcapWriter, recordInput } from '../src/capture/pcap-file.js';
import type { PcapRecord } from '../src/capture/pcap-file.js';
import { Testbed, describeFrame, summarizeFrame } from '../src/testbed/index.js';
import type { Capture, FrameSummary } from '../src/testbed/index.js';
import type { Family } from '../src/core/types.js';

const SERVER_PORT = 80;
/** The server answers TCP to this port with ICMP admin-prohibited (an nftables reject rule). */
const PROHIBITED_PORT = 82;
/** Nothing listens here in the UDP sense either: the fragmented datagram goes to "discard". */
const UDP_PORT = 9;
/** Fixed client ports, so re-recorded files differ as little as possible. */
const CLIENT_PORT = { open: 40001, connectReset: 40002, closed: 40003, unreachable: 40004, extension: 40007, fragment: 40008 } as const;
/** A second client address whose replies the server sends through a segment-routing route. */
const SRH_CLIENT = '2001:2::11';
/** A prefix the server owns (local route) that the client reaches through an SRv6 route. */
const SRH_PREFIX = '2001:2:0:4::/64';
const SRH_TARGET = '2001:2:0:4::1';

interface Fixture {
  /** Relative to fixtures/. */
  file: string;
  linkType: number;
  records: PcapRecord[];
  /** What the file holds and how the packets were provoked, for the README. */
  about: string;
}

class Mismatch extends Error {}

type Predicate = (s: FrameSummary) => boolean;

const tcpFlags = (flags: string, dst?: string): Predicate => (s) => s.tcpFlags === flags && (dst === undefined || s.dst === dst);
const icmpAbout = (dst: string): Predicate => (s) => s.icmpType !== undefined && s.quoted?.dst === dst;

/** Picks, in order, the first record after the previous pick that matches each predicate. */
function pickInOrder(records: PcapRecord[], linkType: number, predicates: Predicate[]): PcapRecord[] {
  const picked: PcapRecord[] = [];
  let from = 0;
  for (const [index, predicate] of predicates.entries()) {
    const at = records.findIndex((r, i) => i >= from && predicate(summarizeFrame(linkType, r.data)));
    if (at < 0) {
      const seen = records.map((r) => `  ${describeFrame(linkType, r.data)}`).join('\n');
      throw new Mismatch(`expected packet #${index + 1} not found; the capture held:\n${seen}`);
    }
    picked.push(records[at]);
    from = at + 1;
  }
  return picked;
}

function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('package.json not found above this script');
    dir = parent;
  }
  return dir;
}

async function stopAll(...captures: Capture[]) {
  return Promise.all(captures.map((c) => c.stop()));
}

/** nftables table for the client namespace that drops SYN-ACKs from the server port. */
function dropSynAcks(port: number): string {
  return `table inet tshk_fixture {\n  chain input {\n    type filter hook input priority filter; policy accept;\n    tcp sport ${port} tcp flags & (syn | ack) == syn | ack drop\n  }\n}\n`;
}

/**
 * SYN, SYN-ACK, RST where the RST is the client KERNEL's answer to a SYN-ACK it has no socket
 * for, which is what a half-open check produces on the wire.
 */
async function recordOpen(tb: Testbed, family: Family): Promise<Fixture[]> {
  const client = tb.address('client', family);
  const server = tb.address('server', family);
  const filter = `tcp port ${SERVER_PORT} and host ${client}`;
  const ethernet = await tb.capture({ filter });
  const cooked = family === 4 ? [await tb.capture({ filter, iface: 'any', linkType: 'LINUX_SLL' }), await tb.capture({ filter, iface: 'any', linkType: 'LINUX_SLL2' })] : [];

  // 1. The client kernel sends a SYN; its SYN-ACK is dropped before the client socket sees it.
  await tb.exec('client', ['nft', '-f', '-'], { input: dropSynAcks(SERVER_PORT) });
  // 2. The socket is closed in SYN-SENT, which sends nothing, well before the client's own
  //    SYN retransmission at 1 s.
  const report = await tb.kernelConnect({ host: server, port: SERVER_PORT, localPort: CLIENT_PORT.open, then: 'abandon', abandonAfterMs: 300 });
  if (report.outcome !== 'abandoned') throw new Mismatch(`connect was ${report.outcome}, not abandoned`);
  // 3. The server retransmits its SYN-ACK after 1 s; with the drop rule gone the client kernel
  //    finds no socket for it and answers RST.
  await tb.exec('client', ['nft', 'delete', 'table', 'inet', 'tshk_fixture']);
  await ethernet.waitForPackets(4, 5000);
  const results = await stopAll(ethernet, ...cooked);

  const steps = [tcpFlags('S', server), tcpFlags('R', server)];
  return results.map((result, index) => {
    const linkType = result.file.linkType;
    const [syn, rst] = pickInOrder(result.records, linkType, steps);
    // Keep the SYN-ACK that drew the RST: the last one before it (the retransmission).
    const between = result.records.slice(result.records.indexOf(syn) + 1, result.records.indexOf(rst));
    const synAck = between.filter((r) => summarizeFrame(linkType, r.data).tcpFlags === 'S.').pop();
    if (!synAck) throw new Mismatch('no SYN-ACK between the SYN and the RST');
    const name = ['open', 'open-sll', 'open-sll2'][index];
    const how =
      'SYN from the client kernel; the first SYN-ACK was dropped by an nftables rule in the client namespace and the ' +
      'socket closed in SYN-SENT; the SYN-ACK kept here is the server\'s retransmission (about 1 s later), which the ' +
      'client kernel, having no socket for it, answered with a bare RST (seq = the SYN-ACK\'s ack)';
    const capturedOn = index === 0 ? 'the server veth (Ethernet)' : `\`-i any -y ${index === 1 ? 'LINUX_SLL' : 'LINUX_SLL2'}\` in the server namespace`;
    return { file: `ipv${family}/${name}.pcap`, linkType, records: [syn, synAck, rst], about: `${how}. Captured on ${capturedOn}.` };
  });
}

/** A full kernel handshake ended by `socket.resetAndDestroy()` (SO_LINGER 0). */
async function recordConnectReset(tb: Testbed, family: Family): Promise<Fixture[]> {
  const client = tb.address('client', family);
  const server = tb.address('server', family);
  const capture = await tb.capture({ filter: `tcp port ${SERVER_PORT} and host ${client}` });
  const report = await tb.kernelConnect({ host: server, port: SERVER_PORT, localPort: CLIENT_PORT.connectReset, then: 'reset' });
  if (report.outcome !== 'connected') throw new Mismatch(`connect was ${report.outcome}`);
  await capture.waitForPackets(4);
  const [result] = await stopAll(capture);
  const records = pickInOrder(result.records, result.file.linkType, [tcpFlags('S'), tcpFlags('S.'), tcpFlags('.'), tcpFlags('R.')]);
  return [{
    file: `ipv${family}/open-connect-reset.pcap`,
    linkType: result.file.linkType,
    records,
    about: 'A complete kernel handshake (SYN, SYN-ACK, ACK) that the client then aborts with `socket.resetAndDestroy()` (SO_LINGER 0), so the kernel sends RST-ACK. The server application accepted this connection.',
  }];
}

async function recordClosed(tb: Testbed, family: Family): Promise<Fixture[]> {
  const client = tb.address('client', family);
  const server = tb.address('server', family);
  const capture = await tb.capture({ filter: `tcp port ${tb.closedPort} and host ${client}` });
  const report = await tb.kernelConnect({ host: server, port: tb.closedPort, localPort: CLIENT_PORT.closed });
  if (report.code !== 'ECONNREFUSED') throw new Mismatch(`connect gave ${report.outcome} ${report.code}`);
  await capture.waitForPackets(2);
  const [result] = await stopAll(capture);
  const records = pickInOrder(result.records, result.file.linkType, [tcpFlags('S'), tcpFlags('R.')]);
  return [{
    file: `ipv${family}/closed.pcap`,
    linkType: result.file.linkType,
    records,
    about: `SYN from the client kernel to port ${tb.closedPort}, where nothing listens; the server kernel answers RST-ACK.`,
  }];
}

/** Three SYNs that each draw an ICMP destination-unreachable of a different code. */
async function recordUnreachable(tb: Testbed, family: Family): Promise<Fixture[]> {
  const server = tb.address('server', family);
  const hostUnreachable = family === 4 ? tb.errorRoutes.hostUnreachable.ipv4 : tb.errorRoutes.hostUnreachable.ipv6;
  const prohibited = family === 4 ? tb.errorRoutes.prohibited.ipv4 : tb.errorRoutes.prohibited.ipv6;
  const capture = await tb.capture({ filter: family === 4 ? 'tcp or icmp' : 'tcp or (icmp6 and ip6[40] < 128)' });
  const targets: Array<[string, number]> = [[server, PROHIBITED_PORT], [hostUnreachable, SERVER_PORT], [prohibited, SERVER_PORT]];
  for (const [index, [host, port]] of targets.entries()) {
    const report = await tb.kernelConnect({ host, port, localPort: CLIENT_PORT.unreachable + index, timeoutMs: 4000 });
    if (report.outcome !== 'error') throw new Mismatch(`connect to ${host}.${port} was ${report.outcome}`);
  }
  const [result] = await stopAll(capture);
  const steps = targets.flatMap(([host]) => [tcpFlags('S', host), icmpAbout(host)]);
  const records = pickInOrder(result.records, result.file.linkType, steps);
  const codes = family === 4 ? ['type 3 code 13', 'type 3 code 1', 'type 3 code 13'] : ['type 1 code 1', 'type 1 code 0', 'type 1 code 1'];
  return [{
    file: `ipv${family}/unreachable.pcap`,
    linkType: result.file.linkType,
    records,
    about:
      `Three SYN / ICMP${family === 6 ? 'v6' : ''} destination-unreachable pairs: ` +
      `(1) to ${server}.${PROHIBITED_PORT}, rejected by the server's nftables rule \`reject with ${family === 4 ? 'icmp' : 'icmpv6'} type admin-prohibited\` (${codes[0]}); ` +
      `(2) to ${hostUnreachable}, hitting an \`unreachable\` route on the server acting as router (${codes[1]}); ` +
      `(3) to ${prohibited}, hitting a \`prohibit\` route (${codes[2]}).` +
      (family === 6 ? ' Linux may retransmit the SYN after an ICMPv6 error before giving up; only the first pair of each is kept.' : ''),
  }];
}

/**
 * A TCP exchange whose every packet carries an IPv6 Segment Routing Header (routing header
 * type 4, RFC 8754), inserted by `encap seg6 mode inline` routes on both sides.
 */
async function recordExtensionHeader(tb: Testbed): Promise<Fixture[]> {
  const { client, server } = tb;
  for (const end of [client, server]) {
    // "lo" too: a segment that is a local address is processed again after looping back through it.
    await tb.exec(end.role, ['sysctl', '-q', '-w', 'net.ipv6.conf.all.seg6_enabled=1', 'net.ipv6.conf.lo.seg6_enabled=1', `net.ipv6.conf.${end.iface}.seg6_enabled=1`]);
  }
  await tb.exec('client', ['ip', '-6', 'route', 'replace', SRH_PREFIX, 'encap', 'seg6', 'mode', 'inline', 'segs', server.ipv6, 'dev', client.iface]);
  // The first segment must not match the encap route itself (the kernel drops such loops), so
  // each side routes through the peer's veth address, which then forwards to itself.
  await tb.exec('server', ['ip', '-6', 'route', 'replace', `${SRH_CLIENT}/128`, 'encap', 'seg6', 'mode', 'inline', 'segs', client.ipv6, 'dev', server.iface]);
  const capture = await tb.capture({ filter: `ip6 and ip6[6] == 43` });
  const report = await tb.kernelConnect({ host: SRH_TARGET, port: SERVER_PORT, localAddress: SRH_CLIENT, localPort: CLIENT_PORT.extension, then: 'reset' });
  if (report.outcome !== 'connected') throw new Mismatch(`connect through SRv6 was ${report.outcome} ${report.code ?? ''}`);
  await capture.waitForPackets(4);
  const [result] = await stopAll(capture);
  const withSrh = (flags: string): Predicate => (s) => s.tcpFlags === flags && s.extensionHeaders[0] === 43;
  const records = pickInOrder(result.records, result.file.linkType, [withSrh('S'), withSrh('S.'), withSrh('.'), withSrh('R.')]);
  return [{
    file: 'ipv6/extension-header.pcap',
    linkType: result.file.linkType,
    records,
    about:
      `SYN, SYN-ACK, ACK, RST-ACK between ${SRH_CLIENT} and ${SRH_TARGET} (a server-local prefix), every packet carrying a ` +
      `Segment Routing Header (IPv6 routing header type 4, next header 43) with two segments, segments-left 1, ` +
      `added by \`ip -6 route ... encap seg6 mode inline\` routes in both namespaces (the IPv6 destination is the ` +
      `peer's veth address until the SRH is processed). The TCP header follows the SRH.`,
  }];
}

/** A UDP datagram larger than the link MTU, fragmented by the sending kernel (Fragment header, 44). */
async function recordFragment(tb: Testbed): Promise<Fixture[]> {
  const capture = await tb.capture({ filter: 'ip6 and ip6[6] == 44' });
  const report = await tb.kernelSendUdp({ host: tb.server.ipv6, port: UDP_PORT, localPort: CLIENT_PORT.fragment, payloadBytes: 2000 });
  if (report.outcome !== 'sent') throw new Mismatch(`UDP send was ${report.outcome} ${report.code ?? ''}`);
  await capture.waitForPackets(2);
  const [result] = await stopAll(capture);
  const fragment = (first: boolean): Predicate => (s) => s.extensionHeaders.includes(44) && (first ? s.fragmentOffset === undefined : s.fragmentOffset !== undefined);
  const records = pickInOrder(result.records, result.file.linkType, [fragment(true), fragment(false)]);
  return [{
    file: 'ipv6/fragment.pcap',
    linkType: result.file.linkType,
    records,
    about:
      `A 2000-byte UDP datagram from ${tb.client.ipv6} to ${tb.server.ipv6} port ${UDP_PORT}, fragmented by the client ` +
      `kernel over the 1500-byte MTU: two packets with a Fragment header (next header 44), the first (offset 0, M=1) ` +
      `holding the UDP header, the second (offset 1448) only data.`,
  }];
}

async function withRetries<T>(name: string, attempts: number, recipe: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await recipe();
    } catch (error) {
      if (!(error instanceof Mismatch) || attempt >= attempts) throw error;
      console.warn(`record-fixtures: ${name}: attempt ${attempt} did not give the expected packets, retrying:\n${error.message}`);
    }
  }
}

function writeFixture(fixturesDir: string, fixture: Fixture): string {
  const file = path.join(fixturesDir, fixture.file);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const writer = PcapWriter.open(file, { linkType: fixture.linkType });
  for (const record of fixture.records) writer.write(recordInput(record));
  writer.close();
  // Relative path and fixed cwd, so the dump names the file the same way on every machine.
  const dump = execFileSync('tcpdump', ['-nn', '-vv', '-XX', '-r', fixture.file], { cwd: fixturesDir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  fs.writeFileSync(file.replace(/\.pcap$/, '.txt'), `# tcpdump -nn -vv -XX -r ${fixture.file}\n${dump}`);
  return file;
}

const linkTypeNames: Record<number, string> = {
  [LinkType.ETHERNET]: 'ETHERNET (1)',
  [LinkType.LINUX_SLL]: 'LINUX_SLL (113)',
  [LinkType.LINUX_SLL2]: 'LINUX_SLL2 (276)',
};

function toolVersion(argv: string[]): string {
  try {
    const out = execFileSync(argv[0], argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return out.split('\n')[0].trim();
  } catch (error) {
    const stdout = (error as { stdout?: string }).stdout ?? '';
    return stdout.split('\n')[0].trim() || 'unknown';
  }
}

function readme(fixtures: Fixture[]): string {
  const rows = fixtures.map((f) => {
    const lines = f.records.map((r) => describeFrame(f.linkType, r.data)).join('<br>');
    return `| \`${f.file}\` | ${linkTypeNames[f.linkType] ?? f.linkType} | ${f.records.length} | ${lines} |`;
  });
  const details = fixtures.map((f) => `- \`${f.file}\`: ${f.about}`);
  return `# Packet fixtures

Real packets from real Linux kernels, recorded by \`scripts/record-fixtures.ts\` across the
testbed (\`src/testbed/\`): two network namespaces joined by a veth pair, client
198.18.0.1 / 2001:2::1, server 198.18.0.2 / 2001:2::2 (the RFC 2544 / RFC 5180 benchmarking
ranges), fixed MAC addresses 02:74:73:68:6b:01 / 02:74:73:68:6b:02, checksum offload off on
both ends (\`ethtool -K veth tx off rx off\`) so every checksum in the files is the real one.
The server runs a Node TCP listener on port ${SERVER_PORT}; client packets come from kernel sockets
(\`net.connect\`, \`dgram\`) started with \`ip netns exec <client-ns> node ...\`.

Each capture is \`tcpdump -i <server veth> -nn -U --immediate-mode -s 0 -w ...\` in the server
namespace (or \`-i any -y LINUX_SLL\` / \`LINUX_SLL2\` for the cooked ones), with a filter
for the exchange; the script then keeps only the packets listed below (timestamps and
original lengths preserved) and writes them with \`PcapWriter\` (classic pcap, little-endian,
microsecond timestamps, snap length 262144). Each \`.pcap\` has a \`.txt\` beside it holding
its \`tcpdump -nn -vv -XX -r\` output.

Recorded on kernel \`${os.release()}\` with ${toolVersion(['tcpdump', '--version'])} (${toolVersion(['ip', '-V'])}), ${new Date().toISOString().slice(0, 10)}.

Re-record with \`npm run fixtures\` (builds, then runs \`node dist/scripts/record-fixtures.js\`) or
\`node --import tsx/esm scripts/record-fixtures.ts\`, as root. Re-runs give the same files, packet
for packet, except for timestamps, initial sequence numbers, IP ids, IPv6 flow labels and
fragment identifications, TCP timestamp options and the checksums that depend on them; client
ports are fixed. A recipe that does not get exactly
the expected packets is retried, then fails loudly.

| file | link type | packets | packets (summary) |
| --- | --- | --- | --- |
${rows.join('\n')}

Only the files listed here come from this script; other directories under \`fixtures/\` (such as
\`nft/\`) belong to the tests that use them.

## How each one was provoked

${details.join('\n')}
`;
}

async function main(): Promise<void> {
  const fixturesDir = path.join(packageRoot(), 'fixtures');
  const tb = await Testbed.create({
    prohibit: [PROHIBITED_PORT],
    localPrefixes: [SRH_PREFIX],
    extraAddresses: { client: [`${SRH_CLIENT}/64`] },
  });
  const fixtures: Fixture[] = [];
  try {
    await tb.startServer({ port: SERVER_PORT });
    const recipes: Array<[string, () => Promise<Fixture[]>]> = [];
    for (const family of [4, 6] as const) {
      recipes.push([`ipv${family} open`, () => recordOpen(tb, family)]);
      recipes.push([`ipv${family} open-connect-reset`, () => recordConnectReset(tb, family)]);
      recipes.push([`ipv${family} closed`, () => recordClosed(tb, family)]);
      recipes.push([`ipv${family} unreachable`, () => recordUnreachable(tb, family)]);
    }
    recipes.push(['ipv6 fragment', () => recordFragment(tb)]);
    // Last: it changes routes and sysctls the other recipes do not expect.
    recipes.push(['ipv6 extension-header', () => recordExtensionHeader(tb)]);
    // Optional arguments select recipes by substring ("ipv6", "unreachable"); the README is
    // rewritten only after a full run.
    const only = process.argv.slice(2);
    for (const [name, recipe] of recipes) {
      if (only.length > 0 && !only.some((word) => name.includes(word))) continue;
      for (const fixture of await withRetries(name, 3, recipe)) {
        writeFixture(fixturesDir, fixture);
        fixtures.push(fixture);
        console.log(`record-fixtures: ${fixture.file}: ${fixture.records.length} packets`);
      }
    }
  } finally {
    await tb.destroy();
  }
  if (process.argv.length <= 2) fs.writeFileSync(path.join(fixturesDir, 'README.md'), readme(fixtures));
  console.log(`record-fixtures: wrote ${fixtures.length} fixtures and README.md under ${fixturesDir}`);
}

main().catch((error: unknown) => {
  console.error(`record-fixtures: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
