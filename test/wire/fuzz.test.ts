// Robustness of every parser on bytes nobody vouches for (smoltcp's test_truncated and fuzz
// target, gopacket's FuzzDecodeFromBytes): random buffers, every prefix of valid packets, and
// random mutations of valid packets. Parsers must never throw, must terminate, must report
// impossible lengths as malformed, and whatever they accept must stay inside the input.
//
// Seeds follow test/helpers/seeds.ts: fixed ones plus a fresh one, printed; a failure names its
// seed and the TSHK_SEED=<seed> command that replays it. `npm run fuzz` runs many more.
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { describePacket } from '../../src/wire/describe.js';
import { parseEthernet } from '../../src/wire/ethernet.js';
import { parseIcmpv4 } from '../../src/wire/icmpv4.js';
import { parseIcmpv6 } from '../../src/wire/icmpv6.js';
import { ipPayload, parseIp } from '../../src/wire/ip.js';
import { Ipv4Packet, parseIpv4 } from '../../src/wire/ipv4.js';
import { Ipv6Packet, parseIpv6 } from '../../src/wire/ipv6.js';
import { buildIcmpError, buildRst, buildSyn, buildTcpPacket } from '../../src/wire/segment.js';
import type { MalformedReason, Parsed } from '../../src/wire/result.js';
import { parseSll, parseSll2 } from '../../src/wire/sll.js';
import type { TcpOption } from '../../src/wire/tcp.js';
import { TcpFlags, TcpPacket, emitTcp, parseTcp, tcpHeaderLen, tcpOptionsLen } from '../../src/wire/tcp.js';
import { SeedRun } from '../helpers/seeds.js';
import { hex, ip, linux, prng } from './util.js';

// The generator of the seed being run. Test bodies are synchronous, so one test runs at a time
// and each sets these before drawing (seeded() below).
let rnd = prng(0);
let where = '';
const int = (n: number): number => Math.floor(rnd() * n);

/** Runs `body` once per seed of the SeedRun rule; stops at the first seed with problems. */
function seeded(t: ExecutionContext, fixed: readonly number[], body: (run: SeedRun) => number): void {
  const run = new SeedRun(t, fixed);
  let problems = 0;
  for (const seed of run) {
    rnd = prng(seed);
    where = run.where(seed);
    problems += body(run);
    if (problems > 0) break;
  }
  run.done();
  t.is(problems, 0);
}

const reasons = new Set<MalformedReason>([
  'truncated',
  'bad-header-length',
  'bad-length',
  'bad-version',
  'bad-checksum',
  'bad-option',
  'bad-extension-header',
  'bad-port',
  'bad-flags',
  'unsupported',
]);

const v4 = { src: ip('198.18.0.1'), dst: ip('198.18.0.2') };
const v6 = { src: ip('2001:db8::1'), dst: ip('2001:db8::2') };

/** Every parser, on the same bytes; each returns its result for the invariant checks. */
const parsers: Array<[string, (b: Uint8Array) => Parsed<unknown> | string | unknown]> = [
  ['parseIp', (b) => parseIp(b)],
  ['parseIp (no checksum)', (b) => parseIp(b, { verifyChecksum: false })],
  ['parseIpv4', (b) => parseIpv4(b, { verifyChecksum: false })],
  ['parseIpv6', (b) => parseIpv6(b)],
  ['parseTcp v4', (b) => parseTcp(b, v4)],
  ['parseTcp v6 (no checksum)', (b) => parseTcp(b, v6, { verifyChecksum: false })],
  ['parseIcmpv4', (b) => parseIcmpv4(b)],
  ['parseIcmpv4 (no checksum)', (b) => parseIcmpv4(b, { verifyChecksum: false })],
  ['parseIcmpv6 (no checksum)', (b) => parseIcmpv6(b, v6, { verifyChecksum: false })],
  ['parseEthernet', (b) => parseEthernet(b)],
  ['parseSll', (b) => parseSll(b)],
  ['parseSll2', (b) => parseSll2(b)],
  ['describePacket', (b) => describePacket(b)],
  ['describePacket (checksums)', (b) => describePacket(b, { verifyChecksum: true })],
  ['Ipv4Packet.checked', (b) => Ipv4Packet.checked(b)],
  ['Ipv6Packet.checked', (b) => Ipv6Packet.checked(b)],
  ['TcpPacket.checked', (b) => TcpPacket.checked(b)],
];

function isParsed(r: unknown): r is Parsed<unknown> {
  return typeof r === 'object' && r !== null && 'ok' in r;
}

/**
 * Runs every parser on `b`; checks it did not throw, that a failure has a known reason and a
 * detail, and that what was accepted lies inside `b`. Returns the number of problems found
 * (reported through `t` with the seed and the input).
 */
function runAll(t: ExecutionContext, b: Uint8Array, label: string): number {
  let problems = 0;
  const fail = (msg: string): void => {
    problems++;
    t.fail(`${msg} [${label}, ${where}, input ${Buffer.from(b).toString('hex')}]`);
  };
  for (const [name, parse] of parsers) {
    let r: unknown;
    try {
      r = parse(b);
    } catch (error) {
      fail(`${name} threw ${String(error)}`);
      continue;
    }
    if (typeof r === 'string') {
      if (r.length === 0) fail(`${name} returned an empty line`);
      continue;
    }
    if (!isParsed(r)) {
      fail(`${name} returned ${String(r)}`);
      continue;
    }
    if (!r.ok) {
      if (!reasons.has(r.reason) || typeof r.detail !== 'string' || r.detail === '') fail(`${name} gave ${JSON.stringify(r)}`);
      continue;
    }
    const v = r.value as Record<string, unknown>;
    if (name.startsWith('parseIp') && name !== 'parseIpv4' && name !== 'parseIpv6') {
      const d = v as { payloadOffset: number; payloadLength: number };
      if (d.payloadOffset < 20 || d.payloadLength < 0 || d.payloadOffset + d.payloadLength > b.length) fail(`${name} accepted impossible bounds ${JSON.stringify(d)}`);
    }
    if (name === 'parseIpv4' || name === 'parseIpv6') {
      const d = v as { headerLen: number; payloadLength: number };
      if (d.headerLen < 20 || d.payloadLength < 0 || d.headerLen + d.payloadLength > b.length) fail(`${name} accepted impossible bounds`);
    }
    if (name.startsWith('parseTcp')) {
      const s = v as { headerLen: number; payloadLength: number };
      if (s.headerLen < 20 || s.headerLen > 60 || s.headerLen + s.payloadLength !== b.length) fail(`${name} accepted impossible bounds`);
    }
    if (name.startsWith('parseIcmp')) {
      const m = v as { payloadLength: number };
      if (m.payloadLength !== b.length - 8) fail(`${name} payload length ${m.payloadLength} for ${b.length} bytes`);
    }
    if (name === 'parseEthernet' || name.startsWith('parseSll')) {
      const f = v as { payloadOffset: number };
      if (f.payloadOffset > b.length) fail(`${name} payload offset past the end`);
    }
  }
  return problems;
}

/** Valid packets and frames: the real Linux captures plus what the builders make. */
function corpus(): Array<[string, Uint8Array]> {
  const out: Array<[string, Uint8Array]> = Object.entries(linux).map(([k, v]) => [k, Uint8Array.from(v)]);
  const buf = new Uint8Array(1500);
  const take = (name: string, n: number): void => {
    out.push([name, buf.slice(0, n)]);
  };
  take('syn v4', buildSyn(buf, 0, { ...v4, srcPort: 40000, dstPort: 80, seq: 1, tsVal: 1 }));
  const syn4 = out[out.length - 1][1];
  take('syn v6', buildSyn(buf, 0, { ...v6, srcPort: 40000, dstPort: 443, seq: 2, tsVal: 2 }));
  const syn6 = out[out.length - 1][1];
  take('rst v4', buildRst(buf, 0, { ...v4, srcPort: 40000, dstPort: 80, seq: 2 }));
  take(
    'syn v6 with extension chain',
    buildSyn(buf, 0, {
      ...v6,
      srcPort: 1,
      dstPort: 2,
      seq: 3,
      tsVal: 4,
      extensionHeaders: [
        { kind: 'hop-by-hop', options: [{ type: 5, data: Uint8Array.of(0, 0) }] },
        { kind: 'destination', options: [{ type: 0x1e, data: Uint8Array.of(9) }] },
        { kind: 'routing', routingType: 4, segmentsLeft: 0, data: new Uint8Array(20) },
        { kind: 'fragment', fragmentOffset: 0, moreFragments: true, identification: 7 },
        { kind: 'other', protocol: 51, data: new Uint8Array(14) },
      ],
    }),
  );
  take(
    'ack with sack and payload',
    buildTcpPacket(buf, 0, {
      ...v4,
      srcPort: 80,
      dstPort: 40000,
      seq: 5,
      ack: 6,
      flags: TcpFlags.ACK | TcpFlags.PSH,
      options: [{ kind: 'nop' }, { kind: 'nop' }, { kind: 'sack', blocks: [{ left: 1, right: 2 }, { left: 3, right: 4 }] }],
      payload: Uint8Array.of(1, 2, 3, 4, 5),
    }),
  );
  take('icmp v4 error', buildIcmpError(buf, 0, { src: ip('10.0.0.1'), dst: v4.src, type: 3, code: 1, original: syn4 }));
  take('icmp v4 error, 28-byte quote', buildIcmpError(buf, 0, { src: ip('10.0.0.1'), dst: v4.src, type: 11, code: 0, original: syn4, quoteLength: 28 }));
  take('icmp v6 error', buildIcmpError(buf, 0, { src: ip('2001:db8::fe'), dst: v6.src, type: 1, code: 4, original: syn6 }));
  out.push(['ethernet + vlan frame', Uint8Array.from(Buffer.concat([hex`0200 0000 0002 0200 0000 0001 8100 0064 0800`, syn4]))]);
  out.push(['sll frame', Uint8Array.from(Buffer.concat([hex`0000 0304 0006 0000 0000 0000 0000 0800`, syn4]))]);
  out.push(['sll2 frame', Uint8Array.from(Buffer.concat([hex`86dd 0000 0000 0001 0304 0006 0000 0000 0000 0000`, syn6]))]);
  return out;
}

test('random buffers never throw and stay in bounds', (t) => {
  seeded(t, [1, 2], (run) => {
    let problems = 0;
    for (let i = 0; i < 4000 && problems === 0; i++, run.inputs++) {
      const b = new Uint8Array(int(130));
      for (let j = 0; j < b.length; j++) b[j] = int(256);
      // Steer a share of them past the first checks: plausible version/IHL, lengths that fit.
      if (b.length >= 40 && i % 3 === 0) {
        b[0] = i % 2 === 0 ? 0x45 : 0x60;
        if (b[0] === 0x45) {
          b[2] = 0;
          b[3] = b.length;
          new Ipv4Packet(b).fillChecksum();
        } else {
          b[4] = 0;
          b[5] = b.length - 40;
        }
      }
      problems += runAll(t, b, `random #${i}`);
    }
    return problems;
  });
});

test('every truncation of every valid packet is parsed without throwing, and prefixes shorter than the stated length are rejected', (t) => {
  let problems = 0;
  for (const [name, full] of corpus()) {
    const isIp = (full[0] >>> 4 === 4 || full[0] >>> 4 === 6) && !name.includes('frame');
    for (let n = 0; n <= full.length; n++) {
      const prefix = full.subarray(0, n);
      problems += runAll(t, prefix, `${name}[0..${n})`);
      if (isIp && n < full.length) {
        const r = parseIp(prefix, { verifyChecksum: false });
        if (r.ok) {
          problems++;
          t.fail(`parseIp accepted ${n} of the ${full.length} bytes of ${name}`);
        } else if (r.reason !== 'truncated') {
          problems++;
          t.fail(`parseIp called a ${n}-byte prefix of ${name} ${r.reason}, not truncated`);
        }
      }
    }
    if (isIp) {
      const d = parseIp(full, { verifyChecksum: false });
      t.true(d.ok, `${name} parses whole`);
      if (d.ok && d.value.protocol === 6) {
        const seg = ipPayload(full, d.value);
        const tcp = parseTcp(seg, d.value, { verifyChecksum: false });
        t.true(tcp.ok, `${name} TCP parses whole`);
        if (tcp.ok) {
          for (let n = 0; n < tcp.value.headerLen; n++) {
            const r = parseTcp(seg.subarray(0, n), d.value, { verifyChecksum: false });
            if (r.ok || r.reason !== 'truncated') {
              problems++;
              t.fail(`parseTcp on ${n} of ${tcp.value.headerLen} header bytes of ${name}: ${JSON.stringify(r)}`);
            }
          }
        }
      }
    }
  }
  t.is(problems, 0);
});

test('random mutations of valid packets never throw and stay in bounds', (t) => {
  const packets = corpus();
  seeded(t, [1, 2], (run) => {
    let problems = 0;
    for (let i = 0; i < 6000 && problems === 0; i++, run.inputs++) {
      const [name, full] = packets[int(packets.length)];
      const b = Uint8Array.from(full);
      const edits = 1 + int(4);
      for (let e = 0; e < edits; e++) {
        const at = int(b.length);
        // Mostly whole random bytes; sometimes a single bit, sometimes 0 or 0xff (length fields).
        const kind = int(4);
        b[at] = kind === 0 ? b[at] ^ (1 << int(8)) : kind === 1 ? 0 : kind === 2 ? 0xff : int(256);
      }
      const cut = int(3) === 0 ? b.subarray(0, int(b.length + 1)) : b;
      problems += runAll(t, cut, `${name} mutated #${i}`);
    }
    return problems;
  });
});

/** Random TCP options, within the 40 bytes of option space, without EOL (which ends the list). */
function randomOptions(): TcpOption[] {
  const out: TcpOption[] = [];
  for (let k = int(7); k > 0; k--) {
    let opt: TcpOption;
    switch (int(7)) {
      case 0:
        opt = { kind: 'nop' };
        break;
      case 1:
        opt = { kind: 'mss', mss: int(0x10000) };
        break;
      case 2:
        opt = { kind: 'window-scale', shift: int(256) };
        break;
      case 3:
        opt = { kind: 'sack-permitted' };
        break;
      case 4:
        opt = { kind: 'timestamps', tsVal: (rnd() * 2 ** 32) >>> 0, tsEcr: (rnd() * 2 ** 32) >>> 0 };
        break;
      case 5: {
        const blocks = [];
        for (let n = 1 + int(3); n > 0; n--) blocks.push({ left: (rnd() * 2 ** 32) >>> 0, right: (rnd() * 2 ** 32) >>> 0 });
        opt = { kind: 'sack', blocks };
        break;
      }
      default: {
        // Any kind that is not one of the interpreted ones.
        let type = int(256);
        while ([0, 1, 2, 3, 4, 5, 8].includes(type)) type = int(256);
        opt = { kind: 'unknown', type, data: Uint8Array.from({ length: int(8) }, () => int(256)) };
      }
    }
    if (tcpOptionsLen([...out, opt]) <= 40) out.push(opt);
  }
  return out;
}

test('emit then parse round-trips random TCP headers (options in order, padding read back as EOL)', (t) => {
  const buf = new Uint8Array(80);
  seeded(t, [1, 2], (run) => {
    let problems = 0;
    for (let i = 0; i < 3000 && problems === 0; i++, run.inputs++) {
      const options = randomOptions();
      const repr = {
        srcPort: 1 + int(0xffff),
        dstPort: 1 + int(0xffff),
        seq: (rnd() * 2 ** 32) >>> 0,
        ack: (rnd() * 2 ** 32) >>> 0,
        flags: int(0x1000) & ~(TcpFlags.SYN | TcpFlags.RST),
        window: int(0x10000),
        urgent: int(0x10000),
        options,
      };
      const addrs = i % 2 === 0 ? v4 : v6;
      const n = emitTcp(buf, 0, repr, addrs, undefined, Uint8Array.of(i & 0xff));
      const r = parseTcp(buf.subarray(0, n), addrs);
      const padded = tcpHeaderLen(repr) - 20 > tcpOptionsLen(options);
      const expected = padded ? [...options, { kind: 'eol' } as const] : options;
      if (!r.ok) {
        problems++;
        t.fail(`${where} #${i}: ${r.detail}`);
      } else {
        t.deepEqual(r.value, { ...repr, options: expected, headerLen: tcpHeaderLen(repr), payloadLength: 1, checksum: r.value.checksum }, `${where} #${i}`);
      }
    }
    return problems;
  });
});
