// The pcapng reader: Wireshark-written fixtures read back packet for packet like the classic pcap
// they were made from; hand-built blocks (big-endian sections, nanosecond and power-of-two
// timestamp units, if_tsoffset, simple and obsolete packet blocks, unknown blocks); and the
// failure contract (not pcapng: MalformedPcapError; damage later: the packets before it).
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { parseCapture } from '../../src/capture/capture-file.js';
import { MalformedPcapError, parsePcap, LinkType } from '../../src/capture/pcap-file.js';
import { isPcapng, parsePcapng, PcapngBlockType, type PcapngDamage } from '../../src/capture/pcapng.js';
import { prng } from '../wire/util.js';

const fixtures = fileURLToPath(new URL('../../fixtures/', import.meta.url));
const read = (name: string): Uint8Array => fs.readFileSync(`${fixtures}${name}`);

const sameAsPcap = test.macro({
  exec(t, pcapng: string, sources: string[]) {
    const file = parsePcapng(read(pcapng));
    t.is(file.damage, undefined);
    t.is(file.byteOrder, 'little');
    const expected = sources
      .flatMap((name) => {
        const pcap = parsePcap(read(name));
        return pcap.records.map((r) => ({ ...r, linkType: pcap.linkType }));
      })
      // mergecap interleaves by time (stable for equal times, in file order).
      .sort((a, b) => a.tsSec - b.tsSec || a.tsNsec - b.tsNsec);
    t.is(file.packets.length, expected.length);
    file.packets.forEach((p, i) => {
      const e = expected[i];
      t.deepEqual(
        { linkType: p.linkType, tsSec: p.tsSec, tsNsec: p.tsNsec, capturedLength: p.capturedLength, originalLength: p.originalLength },
        { linkType: e.linkType, tsSec: e.tsSec, tsNsec: e.tsNsec, capturedLength: e.capturedLength, originalLength: e.originalLength },
        `packet ${i}`,
      );
      t.deepEqual(p.data, e.data, `packet ${i} bytes`);
    });
  },
  title: (_p, pcapng: string) => `${pcapng} reads like the pcap it was made from`,
});
test(sameAsPcap, 'pcapng/ipv4-open.pcapng', ['ipv4/open.pcap']);
test(sameAsPcap, 'pcapng/ipv6-closed.pcapng', ['ipv6/closed.pcap']);
test(sameAsPcap, 'pcapng/ipv4-unreachable.pcapng', ['ipv4/unreachable.pcap']);
test(sameAsPcap, 'pcapng/mixed-link-types.pcapng', ['ipv4/open.pcap', 'ipv4/open-sll.pcap', 'ipv4/open-sll2.pcap']);

test('the mixed file keeps one interface per link type, each packet with its own', (t) => {
  const file = parsePcapng(read('pcapng/mixed-link-types.pcapng'));
  t.deepEqual(file.interfaces[0].map((i) => i.linkType), [LinkType.ETHERNET, LinkType.LINUX_SLL, LinkType.LINUX_SLL2]);
  t.deepEqual([...new Set(file.packets.map((p) => p.linkType))].sort((a, b) => a - b), [LinkType.ETHERNET, LinkType.LINUX_SLL, LinkType.LINUX_SLL2]);
});

test('parseCapture tells pcap from pcapng', (t) => {
  t.is(parseCapture(read('ipv4/open.pcap')).format, 'pcap');
  t.is(parseCapture(read('pcapng/ipv4-open.pcapng')).format, 'pcapng');
  t.true(isPcapng(read('pcapng/ipv4-open.pcapng')));
  t.false(isPcapng(read('ipv4/open.pcap')));
  t.throws(() => parsePcap(read('pcapng/ipv4-open.pcapng')), { instanceOf: MalformedPcapError, message: /pcapng/ });
});

// --- hand-built files -----------------------------------------------------------------------------

/** One block: type, length, body padded to 4, length again. */
function block(type: number, body: number[], little: boolean): number[] {
  const padded = [...body, ...new Array((4 - (body.length % 4)) % 4).fill(0)];
  const length = padded.length + 12;
  return [...u32(type, little), ...u32(length, little), ...padded, ...u32(length, little)];
}
function u32(v: number, little: boolean): number[] {
  const b = [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
  return little ? b.reverse() : b;
}
function u16(v: number, little: boolean): number[] {
  const b = [(v >>> 8) & 0xff, v & 0xff];
  return little ? b.reverse() : b;
}
function shb(little: boolean): number[] {
  return block(PcapngBlockType.SECTION_HEADER, [...u32(0x1a2b3c4d, little), ...u16(1, little), ...u16(0, little), ...new Array(8).fill(0xff)], little);
}
function option(code: number, value: number[], little: boolean): number[] {
  return [...u16(code, little), ...u16(value.length, little), ...value, ...new Array((4 - (value.length % 4)) % 4).fill(0)];
}
function idb(linkType: number, little: boolean, options: number[] = []): number[] {
  const opts = options.length > 0 ? [...options, ...u16(0, little), ...u16(0, little)] : [];
  return block(PcapngBlockType.INTERFACE_DESCRIPTION, [...u16(linkType, little), 0, 0, ...u32(65535, little), ...opts], little);
}
function epb(iface: number, units: bigint, data: number[], little: boolean, originalLength = data.length): number[] {
  const high = Number(units >> 32n);
  const low = Number(units & 0xffffffffn);
  return block(
    PcapngBlockType.ENHANCED_PACKET,
    [...u32(iface, little), ...u32(high, little), ...u32(low, little), ...u32(data.length, little), ...u32(originalLength, little), ...data],
    little,
  );
}

const DATA = [0x45, 0, 0, 20, 1, 2, 3];

test('big-endian section, nanosecond units, if_tsoffset, and an unknown block skipped', (t) => {
  const le = false;
  const bytes = Uint8Array.from([
    ...shb(le),
    ...idb(LinkType.RAW, le, [...option(9, [9], le), ...option(14, [0, 0, 0, 0, 0, 0, 0, 10], le)]),
    ...block(0x00000bad, [1, 2, 3, 4], le), // custom/unknown: skipped
    ...epb(0, 1_700_000_000_123_456_789n, DATA, le, 100),
  ]);
  const file = parsePcapng(bytes);
  t.is(file.byteOrder, 'big');
  t.is(file.damage, undefined);
  t.is(file.packets.length, 1);
  t.like(file.packets[0], { linkType: LinkType.RAW, tsSec: 1_700_000_010, tsNsec: 123_456_789, capturedLength: 7, originalLength: 100 });
  t.deepEqual([...file.packets[0].data], DATA);
});

test('power-of-two timestamp units (if_tsresol with the high bit set)', (t) => {
  const bytes = Uint8Array.from([...shb(true), ...idb(LinkType.ETHERNET, true, option(9, [0x80 | 20], true)), ...epb(0, (5n << 20n) + (1n << 19n), DATA, true)]);
  t.like(parsePcapng(bytes).packets[0], { tsSec: 5, tsNsec: 500_000_000 });
});

test('simple and obsolete packet blocks, and a second section in the other byte order', (t) => {
  const spb = block(PcapngBlockType.SIMPLE_PACKET, [...u32(DATA.length, true), ...DATA], true);
  const opb = block(
    PcapngBlockType.OBSOLETE_PACKET,
    [...u16(0, false), ...u16(0, false), ...u32(0, false), ...u32(2_000_000, false), ...u32(DATA.length, false), ...u32(DATA.length, false), ...DATA],
    false,
  );
  const bytes = Uint8Array.from([...shb(true), ...idb(LinkType.RAW, true), ...spb, ...shb(false), ...idb(LinkType.ETHERNET, false), ...opb]);
  const file = parsePcapng(bytes);
  t.is(file.damage, undefined);
  t.is(file.interfaces.length, 2);
  t.like(file.packets[0], { section: 0, linkType: LinkType.RAW, tsSec: 0, capturedLength: 7 });
  t.like(file.packets[1], { section: 1, linkType: LinkType.ETHERNET, tsSec: 2, tsNsec: 0 });
});

const damaged = test.macro({
  exec(t, bytes: number[], kind: PcapngDamage['kind'], packets: number) {
    const file = parsePcapng(Uint8Array.from(bytes));
    t.is(file.damage?.kind, kind);
    t.is(file.packets.length, packets);
  },
  title: (what = '') => `damage: ${what}`,
});
const good = [...shb(true), ...idb(LinkType.RAW, true), ...epb(0, 1n, DATA, true)];
test('a truncated last block', damaged, [...good, ...epb(0, 2n, DATA, true).slice(0, 20)], 'truncated-block', 1);
test('a trailing length that disagrees', damaged, [...good, ...block(6, [1, 2, 3, 4], true).slice(0, -4), 99, 0, 0, 0], 'impossible-length', 1);
test('a packet on an undescribed interface', damaged, [...good, ...epb(3, 2n, DATA, true)], 'bad-block', 1);
test('a length not a multiple of 4', damaged, [...good, ...u32(6, true), ...u32(13, true), 0, 0, 0, 0, 0], 'impossible-length', 1);

test('not pcapng at all: MalformedPcapError, one line', (t) => {
  for (const bytes of [new Uint8Array(0), Uint8Array.from([0x0a, 0x0d, 0x0d, 0x0a]), Uint8Array.from([...shb(true)].map((b, i) => (i === 8 ? 0 : b)))]) {
    const error = t.throws(() => parsePcapng(bytes), { instanceOf: MalformedPcapError });
    t.false(error!.message.includes('\n'));
  }
});

test('every prefix and random mutation of a fixture parses or throws MalformedPcapError, nothing else', (t) => {
  const seed = Number(process.env.TSHK_SEED ?? process.env.PCAPNG_SEED ?? Math.floor(Math.random() * 2 ** 31));
  t.log(`seed ${seed} (replay: PCAPNG_SEED=${seed})`);
  const random = prng(seed);
  const original = read('pcapng/mixed-link-types.pcapng');
  const attempt = (bytes: Uint8Array): void => {
    try {
      parsePcapng(bytes);
    } catch (error) {
      if (!(error instanceof MalformedPcapError)) throw error;
    }
  };
  for (let n = 0; n <= original.length; n++) attempt(original.subarray(0, n));
  for (let i = 0; i < 2000; i++) {
    const bytes = Uint8Array.from(original);
    for (let k = 0; k < 4; k++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
    attempt(bytes);
  }
  t.pass();
});
