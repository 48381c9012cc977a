// The capture filter: its text (pure), that libpcap compiles it for every link type the engine
// opens (tcpdump -d, no privileges needed), and, as root, what it really lets through: packets
// built here are sent into a namespace where tcpdump captures with the filter.
import test, { type ExecutionContext } from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildCaptureFilter, MAX_FILTER_TARGETS, type CaptureFilterOptions } from '../../src/capture/filter.js';
import { InvalidArgumentError } from '../../src/core/errors.js';
import { parseAddress } from '../../src/wire/address.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const RANGE = [61000, 61999] as const;

// ---------------------------------------------------------------------------------------------
// The text

test('the default filter, both families, written out', (t) => {
  t.is(
    buildCaptureFilter({ portRange: RANGE, families: [4, 6] }),
    '(ip and tcp dst portrange 61000-61999 and (tcp[tcpflags] & (tcp-syn|tcp-ack) == (tcp-syn|tcp-ack) or tcp[tcpflags] & tcp-rst != 0))' +
      ' or (icmp and (icmp[icmptype] == icmp-unreach or icmp[icmptype] == icmp-timxceed) and icmp[17] == 6' +
      ' and icmp[8 + ((icmp[8] & 0x0f) << 2):2] >= 61000 and icmp[8 + ((icmp[8] & 0x0f) << 2):2] <= 61999)' +
      ' or (ip6 and ip6[6] == 6 and ip6[42:2] >= 61000 and ip6[42:2] <= 61999' +
      ' and (ip6[53] & (tcp-syn|tcp-ack) == (tcp-syn|tcp-ack) or ip6[53] & tcp-rst != 0))' +
      ' or (ip6 and ip6[6] == 58 and (ip6[40] == 1 or ip6[40] == 3) and ip6[54] == 6 and ip6[88:2] >= 61000 and ip6[88:2] <= 61999)' +
      // One extension header (hop-by-hop, routing, destination options): stepped over by its length.
      ' or (ip6 and (ip6[6] == 0 or ip6[6] == 43 or ip6[6] == 60)' +
      ' and ((ip6[40] == 6 and ip6[40 + ((ip6[41] + 1) << 3) + 2:2] >= 61000 and ip6[40 + ((ip6[41] + 1) << 3) + 2:2] <= 61999' +
      ' and (ip6[40 + ((ip6[41] + 1) << 3) + 13] & (tcp-syn|tcp-ack) == (tcp-syn|tcp-ack) or ip6[40 + ((ip6[41] + 1) << 3) + 13] & tcp-rst != 0))' +
      ' or (ip6[40] == 58 and (ip6[40 + ((ip6[41] + 1) << 3)] == 1 or ip6[40 + ((ip6[41] + 1) << 3)] == 3)' +
      ' and ip6[40 + ((ip6[41] + 1) << 3) + 14] == 6 and ip6[40 + ((ip6[41] + 1) << 3) + 48:2] >= 61000 and ip6[40 + ((ip6[41] + 1) << 3) + 48:2] <= 61999)))' +
      // A first fragment: 8 bytes of fragment header; later fragments never pass.
      ' or (ip6 and ip6[6] == 44 and ip6[42:2] & 0xfff8 == 0' +
      ' and ((ip6[40] == 6 and ip6[50:2] >= 61000 and ip6[50:2] <= 61999 and (ip6[61] & (tcp-syn|tcp-ack) == (tcp-syn|tcp-ack) or ip6[61] & tcp-rst != 0))' +
      ' or (ip6[40] == 58 and (ip6[48] == 1 or ip6[48] == 3) and ip6[62] == 6 and ip6[96:2] >= 61000 and ip6[96:2] <= 61999)))' +
      // An authentication header: its length counts 4-byte units, less 2.
      ' or (ip6 and ip6[6] == 51' +
      ' and ((ip6[40] == 6 and ip6[40 + ((ip6[41] + 2) << 2) + 2:2] >= 61000 and ip6[40 + ((ip6[41] + 2) << 2) + 2:2] <= 61999' +
      ' and (ip6[40 + ((ip6[41] + 2) << 2) + 13] & (tcp-syn|tcp-ack) == (tcp-syn|tcp-ack) or ip6[40 + ((ip6[41] + 2) << 2) + 13] & tcp-rst != 0))' +
      ' or (ip6[40] == 58 and (ip6[40 + ((ip6[41] + 2) << 2)] == 1 or ip6[40 + ((ip6[41] + 2) << 2)] == 3)' +
      ' and ip6[40 + ((ip6[41] + 2) << 2) + 14] == 6 and ip6[40 + ((ip6[41] + 2) << 2) + 48:2] >= 61000 and ip6[40 + ((ip6[41] + 2) << 2) + 48:2] <= 61999)))' +
      // Two or more: beyond BPF, passed when unicast for the TypeScript parser.
      ' or (ip6 and not ip6 multicast and (ip6[6] == 0 or ip6[6] == 43 or ip6[6] == 44 or ip6[6] == 51 or ip6[6] == 60)' +
      ' and (ip6[40] == 0 or ip6[40] == 43 or ip6[40] == 44 or ip6[40] == 51 or ip6[40] == 60))',
  );
});

const manyTargets = Array.from({ length: MAX_FILTER_TARGETS }, (_, i) =>
  i % 2 ? `2001:2::${(i + 1).toString(16)}` : `198.18.${i >> 8}.${i & 255}`,
);

interface ShapeCase {
  title: string;
  options: CaptureFilterOptions;
  has: string[];
  lacks: string[];
}
const shapes: ShapeCase[] = [
  {
    title: 'IPv4 only',
    options: { portRange: RANGE, families: [4] },
    has: ['(ip and tcp dst portrange 61000-61999', 'icmp-unreach'],
    lacks: ['ip6'],
  },
  { title: 'IPv6 only', options: { portRange: RANGE, families: [6] }, has: ['ip6[6] == 6', 'ip6[40] == 1'], lacks: ['(ip and', 'icmp['] },
  {
    title: 'IPv6 without the extension-header clause',
    options: { portRange: RANGE, families: [6], ipv6ExtensionHeaders: false },
    has: ['ip6[6] == 6'],
    lacks: ['ip6[6] == 0 ', 'ip6[6] == 44'],
  },
  {
    title: 'a single port compares with ==',
    options: { portRange: [40000, 40000], families: [4, 6] },
    has: ['portrange 40000-40000', 'ip6[42:2] == 40000', 'ip6[88:2] == 40000', '<< 2):2] == 40000'],
    lacks: ['>='],
  },
  {
    title: 'targets narrow replies by source and ICMP errors by the quoted destination',
    options: { portRange: RANGE, families: [4, 6], targets: ['198.18.0.2', '198.18.0.3', '2001:2::2'] },
    has: [
      '(src host 198.18.0.2 or src host 198.18.0.3)',
      '(icmp[24:4] == 0xc6120002 or icmp[24:4] == 0xc6120003)',
      'ip6 src host 2001:2::2',
      'ip6[72:4] == 0x20010002 and ip6[76:4] == 0x00000000 and ip6[80:4] == 0x00000000 and ip6[84:4] == 0x00000002',
    ],
    lacks: [],
  },
  {
    title: 'IPv4 targets only: no IPv6 clause at all',
    options: { portRange: RANGE, families: [4, 6], targets: ['198.18.0.2'] },
    has: ['src host 198.18.0.2'],
    lacks: ['ip6'],
  },
  {
    title: `more than ${MAX_FILTER_TARGETS} targets: ports only`,
    options: { portRange: RANGE, families: [4, 6], targets: [...manyTargets, '198.18.9.9'] },
    has: ['ip6[6] == 6'],
    lacks: ['src host'],
  },
  {
    title: 'an empty target list: ports only',
    options: { portRange: RANGE, families: [4], targets: [] },
    has: ['portrange'],
    lacks: ['src host'],
  },
];

const shape = test.macro({
  exec(t, c: ShapeCase) {
    const filter = buildCaptureFilter(c.options);
    for (const s of c.has) t.true(filter.includes(s), `has ${s}\n${filter}`);
    for (const s of c.lacks) t.false(filter.includes(s), `lacks ${s}\n${filter}`);
  },
  title: (_ = '', c: ShapeCase) => `filter text: ${c.title}`,
});
for (const c of shapes) test(shape, c);

const invalid: Array<[string, unknown, InvalidArgumentError['code']]> = [
  ['a reversed range', { portRange: [2, 1], families: [4] }, 'ERR_SHAKER_INVALID_OPTION'],
  ['port 0', { portRange: [0, 1], families: [4] }, 'ERR_SHAKER_INVALID_OPTION'],
  ['port 65536', { portRange: [1, 65536], families: [4] }, 'ERR_SHAKER_INVALID_OPTION'],
  ['no families', { portRange: RANGE, families: [] }, 'ERR_SHAKER_INVALID_OPTION'],
  ['family 5', { portRange: RANGE, families: [5] }, 'ERR_SHAKER_INVALID_OPTION'],
  ['a host name target', { portRange: RANGE, families: [4], targets: ['example.com'] }, 'ERR_SHAKER_INVALID_ADDRESS'],
  ['a target with a zone id', { portRange: RANGE, families: [6], targets: ['fe80::1%eth0'] }, 'ERR_SHAKER_INVALID_ADDRESS'],
  ['a filter-syntax target', { portRange: RANGE, families: [4], targets: ['1.2.3.4 or tcp'] }, 'ERR_SHAKER_INVALID_ADDRESS'],
  ['an IPv6 target with families [4]', { portRange: RANGE, families: [4], targets: ['2001:2::1'] }, 'ERR_SHAKER_INVALID_ADDRESS'],
];
const rejects = test.macro({
  exec(t, options: unknown, code: InvalidArgumentError['code']) {
    const error = t.throws(() => buildCaptureFilter(options as CaptureFilterOptions), { instanceOf: InvalidArgumentError });
    t.is(error?.code, code);
  },
  title: (label = '') => `buildCaptureFilter rejects ${label}`,
});
for (const [label, options, code] of invalid) test(label, rejects, options, code);

// ---------------------------------------------------------------------------------------------
// Compiles: `tcpdump -d -y LINKTYPE` runs libpcap's compiler and optimiser without capturing.

const haveTcpdump = spawnSync('tcpdump', ['--version']).status === 0;
const needTcpdump = haveTcpdump || process.env.CI === 'true';
if (!needTcpdump) console.warn('test/capture/filter.test.ts: SKIPPING compile tests: tcpdump is not installed (apt-get install tcpdump)');

/** The link types src/capture/pcap.ts opens: Ethernet (and lo), `any` (SLL, SLL2 since libpcap 1.10), tun (RAW). */
const linkTypes = ['EN10MB', 'LINUX_SLL', 'LINUX_SLL2', 'RAW'];
const compileCases: Array<[string, CaptureFilterOptions]> = [
  ['both families', { portRange: RANGE, families: [4, 6] }],
  ['IPv4', { portRange: RANGE, families: [4] }],
  ['IPv6 without extension headers', { portRange: [1, 1], families: [6], ipv6ExtensionHeaders: false }],
  ['targets', { portRange: RANGE, families: [4, 6], targets: ['198.18.0.2', '2001:2::2'] }],
  [`${MAX_FILTER_TARGETS} targets`, { portRange: RANGE, families: [4, 6], targets: manyTargets }],
];

const compiles = test.macro({
  exec(t, options: CaptureFilterOptions) {
    const filter = buildCaptureFilter(options);
    for (const linkType of linkTypes) {
      const r = spawnSync('tcpdump', ['-d', '-y', linkType, filter], { encoding: 'utf8' });
      t.is(r.status, 0, `${linkType}: ${r.stderr}`);
      const instructions = r.stdout.trim().split('\n').length;
      // BPF_MAXINSNS: the kernel refuses longer programs.
      t.true(instructions < 4096, `${linkType}: ${instructions} instructions`);
      if (linkType === 'EN10MB') t.log(`${instructions} BPF instructions (EN10MB)`);
    }
  },
  title: (label = '') => `compiles for ${linkTypes.join(', ')}: ${label}`,
});
for (const [label, options] of compileCases) (needTcpdump ? test : test.skip)(label, compiles, options);

// ---------------------------------------------------------------------------------------------
// What passes: two namespaces on a veth pair. The peer sends hand-built packets to the engine
// side, where two tcpdumps capture inbound traffic, one with the plain filter and one with
// targets. Each packet carries its case number in the IPv4 identification or IPv6 flow label.

const isRoot = process.getuid?.() === 0;
const privileged = isRoot || process.env.CI === 'true';
const skipReason = 'the capture test needs root (network namespaces, raw sockets): run as root or with CI=true';
if (!privileged) {
  console.warn(`test/capture/filter.test.ts: SKIPPING the semantic capture test: ${skipReason}`);
  test('the semantic capture test was skipped', (t) => {
    t.log(`SKIPPED: ${skipReason}`);
    t.pass();
  });
}

const ENGINE = { 4: '198.18.0.1', 6: '2001:2::1' } as const;
const PEER = { 4: '198.18.0.2', 6: '2001:2::2' } as const;
const TARGETS = [PEER[4], PEER[6]];
const TCP = 6;
const UDP = 17;
const ICMP = 1;
const ICMPV6 = 58;
const HOP_BY_HOP = 0;
const DEST_OPTS = 60;
const FRAGMENT = 44;
const AH = 51;
const Flags = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10 } as const;

const addr = (ip: string): Uint8Array => {
  const bytes = parseAddress(ip);
  if (!bytes) throw new Error(`bad address ${ip}`);
  return bytes;
};

// Builders. No TCP/UDP/ICMP checksums: the filter never reads them, and the kernel drops what
// it must only after capture. The kernel fills the IPv4 header checksum (raw(7), IP_HDRINCL).
function tcpHeader(srcPort: number, dstPort: number, flags: number): Uint8Array {
  const b = new Uint8Array(20);
  const v = new DataView(b.buffer);
  v.setUint16(0, srcPort);
  v.setUint16(2, dstPort);
  v.setUint32(4, 0x01020304);
  if (flags & Flags.ACK) v.setUint32(8, 0x0a0b0c0d);
  b[12] = 5 << 4;
  b[13] = flags;
  v.setUint16(14, 65535);
  return b;
}

function udpHeader(srcPort: number, dstPort: number): Uint8Array {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint16(0, srcPort);
  v.setUint16(2, dstPort);
  v.setUint16(4, 8);
  return b;
}

/** `optionWords` 32-bit words of IPv4 options (NOPs), to move the quoted TCP header. */
function ipv4(id: number, src: string, dst: string, protocol: number, payload: Uint8Array, optionWords = 0): Uint8Array {
  const headerLen = 20 + 4 * optionWords;
  const b = new Uint8Array(headerLen + payload.length);
  const v = new DataView(b.buffer);
  b[0] = 0x40 | (headerLen / 4);
  v.setUint16(2, b.length);
  v.setUint16(4, id);
  b[8] = 64;
  b[9] = protocol;
  b.set(addr(src), 12);
  b.set(addr(dst), 16);
  b.fill(1, 20, headerLen); // NOP options
  b.set(payload, headerLen);
  return b;
}

function ipv6(flowLabel: number, src: string, dst: string, nextHeader: number, payload: Uint8Array): Uint8Array {
  const b = new Uint8Array(40 + payload.length);
  const v = new DataView(b.buffer);
  v.setUint32(0, (6 << 28) | flowLabel);
  v.setUint16(4, payload.length);
  b[6] = nextHeader;
  b[7] = 64;
  b.set(addr(src), 8);
  b.set(addr(dst), 24);
  b.set(payload, 40);
  return b;
}

function icmpMessage(type: number, code: number, quoted: Uint8Array): Uint8Array {
  const b = new Uint8Array(8 + quoted.length);
  b[0] = type;
  b[1] = code;
  b.set(quoted, 8);
  return b;
}

/** A hop-by-hop header (RFC 8200 §4.3) holding one 4-byte PadN, then `payload`. */
function hopByHop(next: number, payload: Uint8Array): Uint8Array {
  const b = new Uint8Array(8 + payload.length);
  b[0] = next;
  b[1] = 0;
  b[2] = 1; // PadN
  b[3] = 4;
  b.set(payload, 8);
  return b;
}

/** A fragment header (RFC 8200 §4.5): `offset` in 8-byte units, then `payload`. */
function fragment(next: number, offset: number, more: boolean, payload: Uint8Array): Uint8Array {
  const b = new Uint8Array(8 + payload.length);
  b[0] = next;
  b[2] = (offset << 3) >> 8;
  b[3] = ((offset << 3) & 0xff) | (more ? 1 : 0);
  b.set([0, 0, 0x12, 0x34], 4);
  b.set(payload, 8);
  return b;
}

/** An authentication header (RFC 4302 §2): 12 fixed bytes and a 12-byte ICV, so 24 bytes, length field 4. */
function authHeader(next: number, payload: Uint8Array): Uint8Array {
  const b = new Uint8Array(24 + payload.length);
  b[0] = next;
  b[1] = 24 / 4 - 2;
  b.set([0, 0, 1, 0], 4); // SPI 256
  b.set([0, 0, 0, 1], 8); // sequence number 1
  b.set(payload, 24);
  return b;
}

/** What one of our SYNs looked like, as a router quotes it: IP header + first 8 TCP bytes. */
function quotedSyn4(srcPort: number, dst: string, optionWords = 0): Uint8Array {
  return ipv4(4242, ENGINE[4], dst, TCP, tcpHeader(srcPort, 80, Flags.SYN).subarray(0, 8), optionWords);
}
function quotedSyn6(srcPort: number, dst: string): Uint8Array {
  return ipv6(0, ENGINE[6], dst, TCP, tcpHeader(srcPort, 80, Flags.SYN));
}

interface WireCase {
  title: string;
  family: 4 | 6;
  /** Builds the packet with the case's marker (IPv4 id / IPv6 flow label). */
  build: (marker: number) => Uint8Array;
  /** Passes the plain filter / the filter with targets [PEER]. */
  pass: boolean;
  passWithTargets: boolean;
}

type Packet = Pick<WireCase, 'family' | 'build'>;
const v4 = (src: string, protocol: number, payload: Uint8Array, optionWords = 0): Packet => ({
  family: 4,
  build: (m) => ipv4(m, src, ENGINE[4], protocol, payload, optionWords),
});
const v6 = (src: string, next: number, payload: Uint8Array, dst: string = ENGINE[6]): Packet => ({
  family: 6,
  build: (m) => ipv6(m, src, dst, next, payload),
});
const fromPeer = (port: number, flags: number): Uint8Array => tcpHeader(8080, port, flags);
const SYN_ACK = Flags.SYN | Flags.ACK;
const ROUTER = { 4: '198.18.0.254', 6: '2001:2::fe' } as const;

/** [passes the plain filter, passes the one with targets] */
const BOTH = [true, true] as const;
const PLAIN_ONLY = [true, false] as const;
const NEITHER = [false, false] as const;

const rows: Array<[title: string, expect: readonly [boolean, boolean], packet: Packet]> = [
  ['v4 SYN-ACK to a port in range', BOTH, v4(PEER[4], TCP, fromPeer(61001, SYN_ACK))],
  ['v4 SYN-ACK to a port out of range', NEITHER, v4(PEER[4], TCP, fromPeer(50001, SYN_ACK))],
  ['v4 SYN-ACK just above the range', NEITHER, v4(PEER[4], TCP, fromPeer(62000, SYN_ACK))],
  ['v4 SYN-ACK at the low end', BOTH, v4(PEER[4], TCP, fromPeer(61000, SYN_ACK))],
  ['v4 RST-ACK', BOTH, v4(PEER[4], TCP, fromPeer(61002, Flags.RST | Flags.ACK))],
  ['v4 bare RST', BOTH, v4(PEER[4], TCP, fromPeer(61003, Flags.RST))],
  ['v4 plain ACK', NEITHER, v4(PEER[4], TCP, fromPeer(61004, Flags.ACK))],
  ['v4 SYN alone', NEITHER, v4(PEER[4], TCP, fromPeer(61005, Flags.SYN))],
  ['v4 PSH-ACK data', NEITHER, v4(PEER[4], TCP, fromPeer(61005, Flags.PSH | Flags.ACK))],
  ['v4 SYN-ACK from a non-target', PLAIN_ONLY, v4('198.18.0.3', TCP, fromPeer(61006, SYN_ACK))],
  ['v4 UDP to a port in range', NEITHER, v4(PEER[4], UDP, udpHeader(53, 61007))],
  ['ICMP host unreachable about our probe to a target', BOTH, v4(ROUTER[4], ICMP, icmpMessage(3, 1, quotedSyn4(61008, PEER[4])))],
  ['ICMP host unreachable about a probe to a non-target', PLAIN_ONLY, v4(ROUTER[4], ICMP, icmpMessage(3, 1, quotedSyn4(61009, '198.18.0.9')))],
  ['ICMP unreachable quoting a header with options', BOTH, v4(ROUTER[4], ICMP, icmpMessage(3, 13, quotedSyn4(61010, PEER[4], 2)))],
  ['ICMP time exceeded about our probe', BOTH, v4(ROUTER[4], ICMP, icmpMessage(11, 0, quotedSyn4(61011, PEER[4])))],
  ['ICMP unreachable about a port outside the range', NEITHER, v4(PEER[4], ICMP, icmpMessage(3, 3, quotedSyn4(50002, PEER[4])))],
  [
    'ICMP unreachable about UDP from a port in range',
    NEITHER,
    v4(PEER[4], ICMP, icmpMessage(3, 3, ipv4(1, ENGINE[4], PEER[4], UDP, udpHeader(61012, 53)))),
  ],
  ['ICMP echo request', NEITHER, v4(PEER[4], ICMP, icmpMessage(8, 0, new Uint8Array(8)))],
  ['v6 SYN-ACK to a port in range', BOTH, v6(PEER[6], TCP, fromPeer(61013, SYN_ACK))],
  ['v6 SYN-ACK to a port out of range', NEITHER, v6(PEER[6], TCP, fromPeer(50003, SYN_ACK))],
  ['v6 RST', BOTH, v6(PEER[6], TCP, fromPeer(61014, Flags.RST))],
  ['v6 plain ACK', NEITHER, v6(PEER[6], TCP, fromPeer(61015, Flags.ACK))],
  ['v6 SYN-ACK from a non-target', PLAIN_ONLY, v6('2001:2::3', TCP, fromPeer(61016, SYN_ACK))],
  ['v6 UDP to a port in range', NEITHER, v6(PEER[6], UDP, udpHeader(53, 61017))],
  ['ICMPv6 unreachable about our probe to a target', BOTH, v6(ROUTER[6], ICMPV6, icmpMessage(1, 3, quotedSyn6(61018, PEER[6])))],
  ['ICMPv6 unreachable about a probe to a non-target', PLAIN_ONLY, v6(ROUTER[6], ICMPV6, icmpMessage(1, 3, quotedSyn6(61019, '2001:2::9')))],
  ['ICMPv6 time exceeded about our probe', BOTH, v6(ROUTER[6], ICMPV6, icmpMessage(3, 0, quotedSyn6(61020, PEER[6])))],
  ['ICMPv6 unreachable about a port outside the range', NEITHER, v6(PEER[6], ICMPV6, icmpMessage(1, 4, quotedSyn6(50004, PEER[6])))],
  ['ICMPv6 packet too big', NEITHER, v6(PEER[6], ICMPV6, icmpMessage(2, 0, quotedSyn6(61021, PEER[6])))],
  ['ICMPv6 echo request', NEITHER, v6(PEER[6], ICMPV6, icmpMessage(128, 0, new Uint8Array(8)))],
  [
    'v6 SYN-ACK behind a hop-by-hop header (left for the TS parser)',
    BOTH,
    v6(PEER[6], HOP_BY_HOP, hopByHop(TCP, fromPeer(61022, SYN_ACK))),
  ],
  [
    'v6 multicast behind a hop-by-hop header (MLD-like)',
    NEITHER,
    v6(PEER[6], HOP_BY_HOP, hopByHop(ICMPV6, icmpMessage(143, 0, new Uint8Array(8))), 'ff02::16'),
  ],
  // Issue 13: past one extension header the filter reads what follows, as without it.
  ['v6 SYN-ACK behind a hop-by-hop header to a port out of range', NEITHER, v6(PEER[6], HOP_BY_HOP, hopByHop(TCP, fromPeer(50005, SYN_ACK)))],
  ['v6 plain ACK behind a hop-by-hop header', NEITHER, v6(PEER[6], HOP_BY_HOP, hopByHop(TCP, fromPeer(61023, Flags.ACK)))],
  ['v6 UDP behind a hop-by-hop header', NEITHER, v6(PEER[6], HOP_BY_HOP, hopByHop(UDP, udpHeader(53, 61024)))],
  ['v6 SYN-ACK behind a hop-by-hop header from a non-target', PLAIN_ONLY, v6('2001:2::3', HOP_BY_HOP, hopByHop(TCP, fromPeer(61025, SYN_ACK)))],
  ['v6 RST behind a destination-options header', BOTH, v6(PEER[6], DEST_OPTS, hopByHop(TCP, fromPeer(61026, Flags.RST)))],
  [
    'ICMPv6 unreachable behind a destination-options header, about our probe',
    BOTH,
    v6(ROUTER[6], DEST_OPTS, hopByHop(ICMPV6, icmpMessage(1, 3, quotedSyn6(61027, PEER[6])))),
  ],
  [
    'ICMPv6 echo request behind a destination-options header',
    NEITHER,
    v6(PEER[6], DEST_OPTS, hopByHop(ICMPV6, icmpMessage(128, 0, new Uint8Array(8)))),
  ],
  ['v6 SYN-ACK in a first fragment', BOTH, v6(PEER[6], FRAGMENT, fragment(TCP, 0, true, fromPeer(61028, SYN_ACK)))],
  ['v6 non-first fragment', NEITHER, v6(PEER[6], FRAGMENT, fragment(TCP, 3, false, fromPeer(61029, SYN_ACK)))],
  ['v6 SYN-ACK behind an authentication header', BOTH, v6(PEER[6], AH, authHeader(TCP, fromPeer(61030, SYN_ACK)))],
  ['v6 UDP behind an authentication header', NEITHER, v6(PEER[6], AH, authHeader(UDP, udpHeader(53, 61031)))],
  [
    'v6 SYN-ACK behind two extension headers (beyond BPF: left for the TS parser)',
    BOTH,
    v6(PEER[6], HOP_BY_HOP, hopByHop(DEST_OPTS, hopByHop(TCP, fromPeer(61032, SYN_ACK)))),
  ],
];
const wireCases: WireCase[] = rows.map(([title, [pass, passWithTargets], packet]) => ({ title, pass, passWithTargets, ...packet }));

/** Markers are 1-based case numbers plus this, so a stray packet with id 0/1 never matches. */
const MARKER_BASE = 100;

/** The markers of the packets in a pcap file (Ethernet): IPv4 identification, IPv6 flow label. */
function markersIn(file: string): number[] {
  const b = readFileSync(file);
  if (b.length < 24) return [];
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const little = v.getUint32(0, true) === 0xa1b2c3d4;
  check(v.getUint32(20, little) === 1, 'the capture is Ethernet');
  const markers: number[] = [];
  for (let o = 24; o + 16 <= b.length; ) {
    const caplen = v.getUint32(o + 8, little);
    const frame = o + 16;
    const etherType = v.getUint16(frame + 12);
    if (etherType === 0x0800) markers.push(v.getUint16(frame + 14 + 4));
    else if (etherType === 0x86dd) markers.push(v.getUint32(frame + 14) & 0xfffff);
    o = frame + caplen;
  }
  return markers;
}

function check(condition: boolean, what: string): void {
  if (!condition) throw new Error(`assertion failed: ${what}`);
}

function must(argv: readonly string[]): string {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

function deleteNamespace(ns: string): void {
  for (const pid of spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout.split(/\s+/).filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // already gone
    }
  }
  spawnSync('ip', ['netns', 'del', ns]);
}

async function waitFor(what: string, predicate: () => boolean, timeoutMs = 10000): Promise<void> {
  const start = performance.now();
  while (!predicate()) {
    if (performance.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Starts tcpdump writing to `file`; resolves once it listens (tcpdump says so after setting the
 * filter); the returned function stops it. Immediate mode: without it libpcap reads the kernel's
 * ring a block at a time, a block is handed over only when full or after its timeout, and tcpdump
 * stopped before that loses what the block holds (a packet that passed the filter went missing
 * this way under load).
 */
async function capture(t: ExecutionContext, ns: string, filter: string, file: string): Promise<() => Promise<void>> {
  const argv = ['netns', 'exec', ns, 'tcpdump', '-i', 've', '-Q', 'in', '--immediate-mode', '-U', '-w', file, filter];
  const child = spawn('ip', argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  await waitFor(`tcpdump to listen (${stderr})`, () => stderr.includes('listening on') || child.exitCode !== null);
  if (child.exitCode !== null) throw new Error(`tcpdump failed: ${stderr}`);
  return async () => {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
  };
}

/** Sends raw packets from inside `ns` through the native addon (header-included raw sockets). */
function sendRaw(ns: string, packets: Array<{ family: 4 | 6; dst: string; bytes: Uint8Array }>): void {
  const require = createRequire(import.meta.url);
  const sender = `
const [gypBuild, root, ...jobs] = process.argv.slice(1);
const addon = require(gypBuild)(root);
const fds = {};
for (const job of jobs) {
  const [family, dst, bytes] = job.split(':');
  const fd = (fds[family] ??= addon.openRaw(Number(family), 0));
  if (fd < 0) throw new Error('openRaw: ' + fd);
  const rc = addon.send(fd, Buffer.from(bytes, 'hex'), Buffer.from(dst, 'hex'));
  if (rc < 0) throw new Error('send: ' + rc + ' for ' + bytes);
}
for (const fd of Object.values(fds)) addon.close(fd);`;
  const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
  const jobs = packets.map((p) => `${p.family}:${hex(addr(p.dst))}:${hex(p.bytes)}`);
  must(['ip', 'netns', 'exec', ns, process.execPath, '-e', sender, require.resolve('node-gyp-build'), root, ...jobs]);
}

(privileged ? test.serial : test.serial.skip)('on the wire: exactly the replies the engine needs get through', async (t) => {
  const engine = `tsk-flt-${process.pid}-e`;
  const peer = `tsk-flt-${process.pid}-p`;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tsk-filter-'));
  t.teardown(() => {
    deleteNamespace(engine);
    deleteNamespace(peer);
    rmSync(dir, { recursive: true, force: true });
  });
  must(['ip', 'netns', 'add', engine]);
  must(['ip', 'netns', 'add', peer]);
  must(['ip', '-n', engine, 'link', 'add', 've', 'type', 'veth', 'peer', 'name', 'vp', 'netns', peer]);
  for (const [ns, dev, side] of [[engine, 've', ENGINE], [peer, 'vp', PEER]] as const) {
    must(['ip', '-n', ns, 'addr', 'add', `${side[4]}/24`, 'dev', dev]);
    must(['ip', '-n', ns, 'addr', 'add', `${side[6]}/64`, 'dev', dev, 'nodad']);
    must(['ip', '-n', ns, 'link', 'set', dev, 'up']);
  }

  const plainFile = path.join(dir, 'plain.pcap');
  const targetsFile = path.join(dir, 'targets.pcap');
  const stopPlain = await capture(t, engine, buildCaptureFilter({ portRange: RANGE, families: [4, 6] }), plainFile);
  const stopTargets = await capture(t, engine, buildCaptureFilter({ portRange: RANGE, families: [4, 6], targets: TARGETS }), targetsFile);
  // An everything-capture proves each packet arrived, so a missing one means "filtered out".
  const everythingFile = path.join(dir, 'everything.pcap');
  const stopEverything = await capture(t, engine, 'ip or ip6', everythingFile);

  // After the cases, a sentinel every filter passes, sent last: each capture stops only once it
  // holds the sentinel and every case it should hold, so no clock decides what "arrived" means.
  const all = wireCases.map((_, i) => MARKER_BASE + i + 1);
  const sentinel = MARKER_BASE + wireCases.length + 1;
  const packets = new Map<number, { family: 4 | 6; dst: string; bytes: Uint8Array }>([
    ...wireCases.map((c, i) => [MARKER_BASE + i + 1, { family: c.family, dst: ENGINE[c.family], bytes: c.build(MARKER_BASE + i + 1) }] as const),
    [sentinel, { family: 4, dst: ENGINE[4], bytes: wireCases[0].build(sentinel) }],
  ]);
  // Some of what the sender hands the peer's kernel right after the link comes up sometimes never
  // reaches the engine namespace (seen under load: runs of 6 to 15 packets, IPv6 and the IPv4
  // sentinel alike, send() having succeeded; the cause is not pinned down). The everything-capture
  // tells "not delivered" from "filtered out", so what it did not see is sent again.
  let unseen = [...all, sentinel];
  for (let round = 1; unseen.length > 0; round++) {
    if (round > 5) return t.fail(`markers ${unseen.join(', ')} never reached the engine namespace in 5 sends`);
    if (round > 1) t.log(`send ${round}: markers ${unseen.join(', ')} had not arrived`);
    sendRaw(peer, unseen.map((m) => packets.get(m)!)); // ascending: the sentinel still goes last
    await waitFor('every packet to arrive', () => unseen.every((m) => markersIn(everythingFile).includes(m)), 3000).catch(() => undefined);
    const seen = new Set(markersIn(everythingFile));
    unseen = unseen.filter((m) => !seen.has(m));
  }
  const waits: Array<[file: string, markers: number[]]> = [
    [everythingFile, [...all, sentinel]],
    [plainFile, [...all.filter((_, i) => wireCases[i].pass), sentinel]],
    [targetsFile, [...all.filter((_, i) => wireCases[i].passWithTargets), sentinel]],
  ];
  for (const [file, markers] of waits) {
    // A packet the filter should pass that never shows up fails below, with its title.
    await waitFor(`${path.basename(file)} to hold its packets`, () => markers.every((m) => markersIn(file).includes(m))).catch(() => undefined);
  }
  await Promise.all([stopPlain(), stopTargets(), stopEverything()]);

  const plain = new Set(markersIn(plainFile));
  const withTargets = new Set(markersIn(targetsFile));
  for (const [i, c] of wireCases.entries()) {
    const marker = MARKER_BASE + i + 1;
    t.is(plain.has(marker), c.pass, `plain filter: ${c.title}`);
    t.is(withTargets.has(marker), c.passWithTargets, `filter with targets: ${c.title}`);
  }
  const stray = [...plain, ...withTargets].filter((m) => !all.includes(m) && m !== sentinel);
  if (stray.length > 0) t.log(spawnSync('tcpdump', ['-nn', '-v', '-r', plainFile], { encoding: 'utf8' }).stdout);
  t.deepEqual(stray, [], 'nothing else (ARP, neighbour discovery, kernel replies) got through');
  t.log(`${wireCases.length} packets: ${plain.size} passed the plain filter, ${withTargets.size} the one with targets`);
});
