// Reply matching (src/engine/reply-match.ts) driven straight from the recorded fixtures: every SYN
// a fixture holds becomes a live probe in a ProbeTable (its seq the ISN), and every other packet
// must get exactly the verdict the recording says (open, closed, unreachable), for that probe's
// slot. Then the near misses: the same replies against a table whose ISN, local address or port is
// off by one give no verdict, and a SYN-ACK with no live probe is 'late-syn-ack'.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { readPcapFileSync } from '../../src/capture/pcap-file.js';
import { ipPacket } from '../../src/capture/link-layer.js';
import { ProbeTable } from '../../src/engine/probe-table.js';
import { matchReply, newReplyMatch, type MatchVerdict } from '../../src/engine/reply-match.js';
import { tupleKey } from '../../src/engine/tuple-key.js';
import { parseIp, parseTcp, TcpFlags } from '../../src/wire/index.js';
import type { Family } from '../../src/core/types.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures');

interface Frame {
  index: number;
  linkType: number;
  data: Uint8Array;
  /** Set for a pure SYN (our probe): what the probe table holds for it. */
  syn?: { family: Family; src: Uint8Array; dst: Uint8Array; srcPort: number; dstPort: number; seq: number };
}

function load(file: string): Frame[] {
  const pcap = readPcapFileSync(path.join(FIXTURES, file));
  return pcap.records.map((record, index) => {
    const frame: Frame = { index, linkType: pcap.linkType, data: record.data };
    const bytes = ipPacket(record.data, pcap.linkType);
    const ip = bytes && parseIp(bytes);
    if (!ip?.ok || ip.value.protocol !== 6 || ip.value.fragmentOffset !== 0) return frame;
    const tcp = parseTcp(bytes!.subarray(ip.value.payloadOffset, ip.value.payloadOffset + ip.value.payloadLength), ip.value);
    if (tcp.ok && tcp.value.flags === TcpFlags.SYN) {
      const { src, dst, version } = ip.value;
      frame.syn = { family: version, src, dst, srcPort: tcp.value.srcPort, dstPort: tcp.value.dstPort, seq: tcp.value.seq };
    }
    return frame;
  });
}

type Tweak = 'none' | 'isn' | 'local-address' | 'local-port';

/** A table holding one live probe per SYN of the fixture; returns the slot of each SYN's probe. */
function tableFor(frames: Frame[], tweak: Tweak = 'none'): { table: ProbeTable; slots: Map<number, number> } {
  const table = new ProbeTable(4);
  const slots = new Map<number, number>();
  for (const frame of frames) {
    const s = frame.syn;
    if (!s) continue;
    const localPort = tweak === 'local-port' ? (s.srcPort % 65535) + 1 : s.srcPort;
    const slot = table.allocate(tupleKey(s.dst, 0, s.dst.length, s.dstPort, localPort), () => {});
    table.family[slot] = s.family;
    table.localPort[slot] = localPort;
    table.remotePort[slot] = s.dstPort;
    table.remoteAddr.set(s.dst, slot * 16);
    table.localAddr.set(s.src, slot * 16);
    if (tweak === 'local-address') table.localAddr[slot * 16 + s.src.length - 1] ^= 1;
    table.isn[slot] = tweak === 'isn' ? (s.seq + 1) >>> 0 : s.seq;
    slots.set(frame.index, slot);
  }
  return { table, slots };
}

interface Case {
  file: string;
  /** Verdict for each packet that is not our SYN, in order; `syn` counts the fixture's SYNs from 0 and names the one it answers. */
  expected: Array<{ verdict: MatchVerdict; syn?: number }>;
}

const cases: Case[] = [
  // SYN, SYN-ACK, our RST (no ACK bit, and from our own address: answers nothing).
  ...['ipv4/open.pcap', 'ipv4/open-sll.pcap', 'ipv4/open-sll2.pcap', 'ipv6/open.pcap'].map((file) => ({
    file,
    expected: [{ verdict: 'open' as const, syn: 0 }, { verdict: 'ignored' as const }],
  })),
  // A kernel connect() that completed: SYN, SYN-ACK, ACK, RST-ACK; only the SYN-ACK answers. The
  // client's own RST-ACK matches no live probe's tuple: 'late-rst', which the engine drops
  // unless it names a tuple a live probe left (its ack would have to be that probe's ISN + 1).
  ...['ipv4/open-connect-reset.pcap', 'ipv6/open-connect-reset.pcap'].map((file) => ({
    file,
    expected: [{ verdict: 'open' as const, syn: 0 }, { verdict: 'ignored' as const }, { verdict: 'late-rst' as const }],
  })),
  ...['ipv4/closed.pcap', 'ipv6/closed.pcap'].map((file) => ({ file, expected: [{ verdict: 'closed' as const, syn: 0 }] })),
  // Three SYNs, each answered by an ICMP error quoting it.
  ...['ipv4/unreachable.pcap', 'ipv6/unreachable.pcap'].map((file) => ({
    file,
    expected: [
      { verdict: 'unreachable' as const, syn: 0 },
      { verdict: 'unreachable' as const, syn: 1 },
      { verdict: 'unreachable' as const, syn: 2 },
    ],
  })),
];

const recorded = test.macro({
  exec(t, c: Case) {
    const frames = load(c.file);
    const { table, slots } = tableFor(frames);
    const synIndexes = frames.filter((f) => f.syn).map((f) => f.index);
    const replies = frames.filter((f) => !f.syn);
    t.is(replies.length, c.expected.length, 'packets that are not our SYN');
    const into = newReplyMatch();
    for (const [i, frame] of replies.entries()) {
      const want = c.expected[i];
      const got = matchReply(table, frame.data, frame.linkType, false, into);
      t.is(got.verdict, want.verdict, `${c.file}#${frame.index}`);
      t.is(got.slot, want.syn === undefined ? -1 : slots.get(synIndexes[want.syn])!, `${c.file}#${frame.index} slot`);
      // The general parsers (checksums verified) agree with the in-place view.
      const verified = matchReply(table, frame.data, frame.linkType, true);
      t.is(verified.verdict, want.verdict, `${c.file}#${frame.index} with checksums verified`);
      t.is(verified.slot, got.slot);
    }
  },
  title: (_, c: Case) => `recorded replies get their recorded verdict: ${c.file}`,
});

for (const c of cases) test(recorded, c);

const nearMiss = test.macro({
  exec(t, c: Case, tweak: Tweak) {
    const frames = load(c.file);
    const { table } = tableFor(frames, tweak);
    for (const frame of frames.filter((f) => !f.syn)) {
      const got = matchReply(table, frame.data, frame.linkType, false);
      t.is(got.slot, -1, `${c.file}#${frame.index}`);
      t.true(['ignored', 'late-syn-ack', 'late-rst'].includes(got.verdict), `${c.file}#${frame.index}: ${got.verdict}`);
    }
  },
  title: (_, c: Case, tweak: Tweak) => `a probe whose ${tweak} is off by one is answered by nothing in ${c.file}`,
});

for (const c of cases) for (const tweak of ['isn', 'local-address', 'local-port'] as const) test(nearMiss, c, tweak);

test('with no live probe: a SYN-ACK is late-syn-ack, a RST-ACK late-rst, an ICMP error ignored', (t) => {
  const empty = new ProbeTable(4);
  const verdictOf = (file: string, index: number): MatchVerdict => {
    const frame = load(file)[index];
    return matchReply(empty, frame.data, frame.linkType, false).verdict;
  };
  t.is(verdictOf('ipv4/open.pcap', 1), 'late-syn-ack');
  t.is(verdictOf('ipv6/open.pcap', 1), 'late-syn-ack');
  t.is(verdictOf('ipv4/closed.pcap', 1), 'late-rst');
  t.is(verdictOf('ipv6/closed.pcap', 1), 'late-rst');
  t.is(verdictOf('ipv6/unreachable.pcap', 1), 'ignored');
});

test('fragments and extension-header packets that are not replies get no verdict', (t) => {
  for (const file of ['ipv6/fragment.pcap', 'ipv6/extension-header.pcap']) {
    const frames = load(file);
    const { table } = tableFor(frames);
    for (const frame of frames) {
      const got = matchReply(table, frame.data, frame.linkType, false);
      t.is(got.slot, -1, `${file}#${frame.index}`);
      t.not(got.verdict, 'open');
    }
  }
});

test('a frame whose link layer does not parse is malformed', (t) => {
  const got = matchReply(new ProbeTable(4), new Uint8Array([1, 2, 3]), 1, false);
  t.is(got.verdict, 'malformed');
  t.is(got.ipAt, -1);
});
