import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import {
  LinkType,
  MalformedPcapError,
  PCAP_GLOBAL_HEADER_LEN,
  PCAP_RECORD_HEADER_LEN,
  PcapWriter,
  encodePcap,
  parsePcap,
  readPcapFile,
  readPcapFileSync,
  recordInput,
} from '../../src/capture/pcap-file.js';
import type { PcapFile, PcapRecordInput } from '../../src/capture/pcap-file.js';
import { summarizeFrame } from '../../src/testbed/frame-summary.js';
import { SeedRun } from '../helpers/seeds.js';
import { prng } from '../wire/util.js';

const fixtures = fileURLToPath(new URL('../../fixtures/', import.meta.url));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pcap-file-test-'));
test.after.always(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** What each recorded fixture must hold: link type, then one token per packet. */
const fixtureCases: Array<{ file: string; linkType: number; packets: string[] }> = [
  { file: 'ipv4/open.pcap', linkType: LinkType.ETHERNET, packets: ['S', 'S.', 'R'] },
  { file: 'ipv4/open-sll.pcap', linkType: LinkType.LINUX_SLL, packets: ['S', 'S.', 'R'] },
  { file: 'ipv4/open-sll2.pcap', linkType: LinkType.LINUX_SLL2, packets: ['S', 'S.', 'R'] },
  { file: 'ipv4/open-connect-reset.pcap', linkType: LinkType.ETHERNET, packets: ['S', 'S.', '.', 'R.'] },
  { file: 'ipv4/closed.pcap', linkType: LinkType.ETHERNET, packets: ['S', 'R.'] },
  { file: 'ipv4/unreachable.pcap', linkType: LinkType.ETHERNET, packets: ['S', 'icmp 3/13', 'S', 'icmp 3/1', 'S', 'icmp 3/13'] },
  { file: 'ipv6/open.pcap', linkType: LinkType.ETHERNET, packets: ['S', 'S.', 'R'] },
  { file: 'ipv6/open-connect-reset.pcap', linkType: LinkType.ETHERNET, packets: ['S', 'S.', '.', 'R.'] },
  { file: 'ipv6/closed.pcap', linkType: LinkType.ETHERNET, packets: ['S', 'R.'] },
  { file: 'ipv6/unreachable.pcap', linkType: LinkType.ETHERNET, packets: ['S', 'icmp 1/1', 'S', 'icmp 1/0', 'S', 'icmp 1/1'] },
  { file: 'ipv6/fragment.pcap', linkType: LinkType.ETHERNET, packets: ['frag udp', 'frag'] },
  { file: 'ipv6/extension-header.pcap', linkType: LinkType.ETHERNET, packets: ['ext43 S', 'ext43 S.', 'ext43 .', 'ext43 R.'] },
];

function packetToken(linkType: number, data: Uint8Array): string {
  const s = summarizeFrame(linkType, data);
  if (s.extensionHeaders.includes(44)) return s.fragmentOffset === undefined ? 'frag udp' : 'frag';
  const prefix = s.extensionHeaders.length ? `ext${s.extensionHeaders.join(',')} ` : '';
  if (s.tcpFlags !== undefined) return `${prefix}${s.tcpFlags}`;
  if (s.icmpType !== undefined) return `${prefix}icmp ${s.icmpType}/${s.icmpCode}`;
  return `${prefix}proto ${s.protocol}`;
}

const readsFixture = test.macro({
  async exec(t, c: (typeof fixtureCases)[number]) {
    const file = await readPcapFile(path.join(fixtures, c.file));
    t.is(file.linkType, c.linkType);
    t.is(file.byteOrder, 'little');
    t.is(file.precision, 'micro');
    t.is(file.snapLen, 262144);
    t.is(file.damage, undefined);
    t.deepEqual(
      file.records.map((r) => packetToken(file.linkType, r.data)),
      c.packets,
    );
    for (const record of file.records) {
      t.is(record.capturedLength, record.data.byteLength);
      t.is(record.originalLength, record.capturedLength, 'nothing was cut by the snap length');
      t.true(record.tsSec > 1_600_000_000, 'a real capture time');
    }
    // A fixture's .txt is tcpdump's view of the same file: one header line per packet.
    const dump = fs.readFileSync(path.join(fixtures, c.file.replace(/\.pcap$/, '.txt')), 'utf8');
    t.is(dump.split('\n').filter((line) => /^\d\d:\d\d:\d\d\.\d{6} /.test(line)).length, c.packets.length);
  },
  title: (_, c: (typeof fixtureCases)[number]) => `reads fixture ${c.file}`,
});

for (const c of fixtureCases) test(readsFixture, c);

function ipv4Packet(id: number, payloadBytes = 0): Uint8Array {
  const b = new Uint8Array(20 + payloadBytes).fill(0xa5);
  b.set([0x45, 0, (20 + payloadBytes) >> 8, (20 + payloadBytes) & 0xff, id >> 8, id & 0xff, 0, 0, 64, 17, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2]);
  return b;
}

const sampleRecords: PcapRecordInput[] = [
  { data: ipv4Packet(1), time: { sec: 1_700_000_000, nsec: 123_456_000 } },
  { data: ipv4Packet(2, 100), time: { sec: 1_700_000_001, nsec: 999_999_000 } },
  { data: ipv4Packet(3, 7), time: { sec: 0, nsec: 0 }, originalLength: 1500 },
];

const roundTrips = test.macro({
  exec(t, options: { byteOrder: 'little' | 'big'; precision: 'micro' | 'nano' }) {
    const bytes = encodePcap({ linkType: LinkType.RAW, ...options }, sampleRecords);
    const file = parsePcap(bytes);
    t.like(file, { linkType: LinkType.RAW, snapLen: 262144, versionMajor: 2, versionMinor: 4, ...options });
    t.is(file.damage, undefined);
    t.deepEqual(
      file.records.map((r) => [r.tsSec, r.tsNsec, r.tsUsec, r.capturedLength, r.originalLength, Buffer.from(r.data).toString('hex')]),
      sampleRecords.map((r) => {
        const time = r.time as { sec: number; nsec: number };
        return [time.sec, time.nsec, time.nsec / 1000, r.data.byteLength, r.originalLength ?? r.data.byteLength, Buffer.from(r.data).toString('hex')];
      }),
    );
  },
  title: (_, o: { byteOrder: string; precision: string }) => `encode → parse round trip, ${o.byteOrder}-endian, ${o.precision}second timestamps`,
});

for (const byteOrder of ['little', 'big'] as const) {
  for (const precision of ['micro', 'nano'] as const) test(roundTrips, { byteOrder, precision });
}

// Known answers written by hand, so a byte-order mistake shared by encoder and parser shows.
const handWritten: Array<{ title: string; hex: string; expect: Partial<PcapFile>; record: [number, number, number, number, string] }> = [
  {
    title: 'big-endian, microseconds',
    hex: 'a1b2c3d4 0002 0004 00000000 00000000 0000ffff 00000065' + '00000005 00000007 00000002 00000003 abcd',
    expect: { byteOrder: 'big', precision: 'micro', snapLen: 65535, linkType: LinkType.RAW },
    record: [5, 7000, 2, 3, 'abcd'],
  },
  {
    title: 'little-endian, nanoseconds',
    hex: '4d3cb2a1 0200 0400 00000000 00000000 00000400 01000000' + '05000000 15cd5b07 01000000 01000000 ee',
    expect: { byteOrder: 'little', precision: 'nano', snapLen: 262144, linkType: LinkType.ETHERNET },
    record: [5, 123456789, 1, 1, 'ee'],
  },
  {
    title: 'big-endian, nanoseconds, FCS bits in the link type',
    hex: 'a1b23c4d 0002 0004 00000000 00000000 00040000 10000071' + '00000001 3b9ac9ff 00000000 00000040',
    expect: { byteOrder: 'big', precision: 'nano', linkType: LinkType.LINUX_SLL },
    record: [1, 999_999_999, 0, 64, ''],
  },
];

for (const c of handWritten) {
  test(`parses a hand-written ${c.title} file`, (t) => {
    const file = parsePcap(Buffer.from(c.hex.replace(/\s/g, ''), 'hex'));
    t.like(file, c.expect);
    t.is(file.records.length, 1);
    const r = file.records[0];
    t.deepEqual([r.tsSec, r.tsNsec, r.capturedLength, r.originalLength, Buffer.from(r.data).toString('hex')], c.record);
  });
}

/** Rewrites a little-endian micro file into big-endian, field by field, without our encoder. */
function swapToBigEndian(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes);
  const swap = (at: number, width: 2 | 4): void => {
    out.subarray(at, at + width).reverse();
  };
  for (const [at, width] of [[0, 4], [4, 2], [6, 2], [8, 4], [12, 4], [16, 4], [20, 4]] as const) swap(at, width);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = PCAP_GLOBAL_HEADER_LEN; at < bytes.byteLength; ) {
    const capturedLength = view.getUint32(at + 8, true);
    for (let field = 0; field < 16; field += 4) swap(at + field, 4);
    at += PCAP_RECORD_HEADER_LEN + capturedLength;
  }
  return out;
}

test('a fixture swapped to big-endian parses to the same records', (t) => {
  const original = fs.readFileSync(path.join(fixtures, 'ipv6/unreachable.pcap'));
  const little = parsePcap(original);
  const big = parsePcap(swapToBigEndian(original));
  t.is(big.byteOrder, 'big');
  t.deepEqual({ ...big, byteOrder: 'little' }, little);
});

test('data is a copy that does not alias the input buffer', (t) => {
  const bytes = encodePcap({ linkType: LinkType.RAW }, sampleRecords);
  const file = parsePcap(bytes);
  bytes.fill(0);
  t.is(file.records[0].data[0], 0x45);
  t.false(Buffer.isBuffer(file.records[0].data));
});

// --- damaged input: the documented contract ------------------------------------------------

const open = fs.readFileSync(path.join(fixtures, 'ipv4/open.pcap'));
const openRecords = parsePcap(open).records;
const lastRecordOffset = open.byteLength - PCAP_RECORD_HEADER_LEN - openRecords[2].capturedLength;

const wholeFileRejected: Array<{ title: string; bytes: Uint8Array; message: RegExp }> = [
  { title: 'empty input', bytes: new Uint8Array(0), message: /shorter than the 24-byte global header/ },
  { title: 'a cut global header', bytes: open.subarray(0, 23), message: /23 bytes is shorter/ },
  { title: 'text', bytes: Buffer.from('this is not a capture file at all'), message: /unknown magic number 0x74686973/ },
  { title: 'a pcapng file', bytes: Buffer.from('0a0d0d0a1c0000004d3c2b1a01000000ffffffffffffffff1c000000', 'hex'), message: /pcapng/ },
  { title: 'version 3.0', bytes: Buffer.from('d4c3b2a1030000000000000000000000ffff000001000000', 'hex'), message: /unsupported pcap version 3\.0/ },
];

for (const c of wholeFileRejected) {
  test(`rejects ${c.title} with MalformedPcapError`, (t) => {
    const error = t.throws(() => parsePcap(c.bytes), { instanceOf: MalformedPcapError, message: c.message });
    t.is(error?.code, 'ERR_SHAKER_MALFORMED_PCAP');
  });
}

const damagedCases: Array<{ title: string; bytes: Uint8Array; kept: number; kind: string; offset: number }> = [
  { title: 'the last record cut short', bytes: open.subarray(0, open.byteLength - 5), kept: 2, kind: 'truncated-record-data', offset: lastRecordOffset },
  { title: 'a half record header after the last record', bytes: Buffer.concat([open, Buffer.alloc(7, 0xa5)]), kept: 3, kind: 'truncated-record-header', offset: open.byteLength },
  { title: 'the last record header cut', bytes: open.subarray(0, lastRecordOffset + 10), kept: 2, kind: 'truncated-record-header', offset: lastRecordOffset },
  {
    title: 'an impossible captured length',
    bytes: Buffer.concat([open, Buffer.from('00000000000000000000ffff00000000', 'hex')]),
    kept: 3,
    kind: 'impossible-length',
    offset: open.byteLength,
  },
  {
    title: 'a sub-second field of a million microseconds',
    bytes: Buffer.concat([open, Buffer.from('0000000040420f000000000000000000', 'hex')]),
    kept: 3,
    kind: 'impossible-length',
    offset: open.byteLength,
  },
];

for (const c of damagedCases) {
  test(`keeps the records before ${c.title} and reports the damage`, (t) => {
    const file = parsePcap(c.bytes);
    t.is(file.records.length, c.kept);
    t.deepEqual(file.records, openRecords.slice(0, c.kept));
    t.like(file.damage, { kind: c.kind as never, offset: c.offset, recordIndex: c.kept });
    t.regex(file.damage?.message ?? '', new RegExp(`^record ${c.kept} at byte ${c.offset}: `));
  });
}

test('every prefix of every fixture parses or throws MalformedPcapError, nothing else', (t) => {
  for (const c of fixtureCases) {
    const bytes = fs.readFileSync(path.join(fixtures, c.file));
    for (let length = 0; length <= bytes.byteLength; length++) {
      const prefix = bytes.subarray(0, length);
      if (length < PCAP_GLOBAL_HEADER_LEN) {
        t.throws(() => parsePcap(prefix), { instanceOf: MalformedPcapError });
        continue;
      }
      const file = parsePcap(prefix);
      t.is(file.damage === undefined, isRecordBoundary(bytes, length), `${c.file}[0..${length}]`);
    }
  }
});

function isRecordBoundary(bytes: Uint8Array, length: number): boolean {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = PCAP_GLOBAL_HEADER_LEN;
  while (at < length) at += PCAP_RECORD_HEADER_LEN + view.getUint32(at + 8, true);
  return at === length;
}

test('random bytes behind a valid header never throw', (t) => {
  const header = open.subarray(0, PCAP_GLOBAL_HEADER_LEN);
  const run = new SeedRun(t, [1]);
  for (const seed of run) {
    const random = prng(seed);
    const randomBytes = (n: number) => Buffer.from(Uint8Array.from({ length: n }, () => Math.floor(random() * 256)));
    for (let i = 0; i < 1000; i++, run.inputs++) {
      // Half behind a valid global header (records parse or are cut short), half bare.
      const bytes = i % 2 === 0 ? Buffer.concat([header, randomBytes(i % 97)]) : randomBytes(i % 64);
      try {
        const file = parsePcap(bytes);
        if (!Array.isArray(file.records)) return t.fail(`${run.where(seed)} #${i}: no record list`);
      } catch (error) {
        if (i % 2 === 0 || !(error instanceof MalformedPcapError)) {
          return t.fail(`${run.where(seed)} #${i}: ${bytes.toString('hex')} threw ${String(error)}`);
        }
      }
    }
  }
  run.done();
  t.pass();
});

test('readPcapFile lets I/O errors through as Node errors', async (t) => {
  await t.throwsAsync(readPcapFile(path.join(tmp, 'missing.pcap')), { code: 'ENOENT' });
});

// --- the writer ------------------------------------------------------------------------------

test('PcapWriter output reads back record for record', (t) => {
  const file = path.join(tmp, 'writer.pcap');
  const fixture = parsePcap(open);
  const writer = PcapWriter.open(file, { linkType: fixture.linkType });
  for (const record of fixture.records) writer.write(recordInput(record));
  t.is(writer.recordCount, 3);
  writer.close();
  writer.close();
  t.true(writer.closed);
  t.deepEqual(fs.readFileSync(file), open, 'byte-identical to the tcpdump-written fixture');
  t.throws(() => writer.write(new Uint8Array(1)), { message: /closed/ });
});

test('PcapWriter cuts records to the snap length and keeps the original length', (t) => {
  const file = path.join(tmp, 'snap.pcap');
  const writer = PcapWriter.open(file, { linkType: LinkType.RAW, snapLen: 24, precision: 'nano' });
  writer.write(ipv4Packet(9, 100), { sec: 10, nsec: 1 });
  writer.close();
  const [record] = readPcapFileSync(file).records;
  t.like(record, { capturedLength: 24, originalLength: 120, tsSec: 10, tsNsec: 1 });
});

test('PcapWriter files are readable after every flush, before close', (t) => {
  const file = path.join(tmp, 'flush.pcap');
  using writer = PcapWriter.open(file, { linkType: LinkType.RAW });
  writer.write(ipv4Packet(1));
  t.is(readPcapFileSync(file).records.length, 0, 'buffered');
  writer.flush();
  t.is(readPcapFileSync(file).records.length, 1);
  writer.write(ipv4Packet(2));
  writer.write(ipv4Packet(3));
  writer.flush();
  const read = readPcapFileSync(file);
  t.is(read.records.length, 3);
  t.is(read.damage, undefined);
});

test('PcapWriter with bufferBytes 0 writes each record at once; default time is now', (t) => {
  const file = path.join(tmp, 'unbuffered.pcap');
  const before = Date.now() / 1000;
  const writer = PcapWriter.open(file, { linkType: LinkType.RAW, bufferBytes: 0 });
  writer.write(ipv4Packet(1));
  const [record] = readPcapFileSync(file).records;
  writer.close();
  t.true(record.tsSec >= Math.floor(before) && record.tsSec <= Date.now() / 1000 + 1);
});

test('PcapWriter refuses a bad link type or snap length', (t) => {
  t.throws(() => PcapWriter.open(path.join(tmp, 'bad.pcap'), { linkType: -1 }), { instanceOf: RangeError });
  t.throws(() => PcapWriter.open(path.join(tmp, 'bad.pcap'), { linkType: 1, snapLen: 0 }), { instanceOf: RangeError });
});

function tcpdumpAvailable(): boolean {
  try {
    execFileSync('tcpdump', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const tcpdumpReads = test.macro({
  exec(t, options: { precision: 'micro' | 'nano'; byteOrder: 'little' | 'big' }) {
    if (!tcpdumpAvailable()) {
      const message = 'SKIPPED: tcpdump is not installed (apt-get install tcpdump)';
      t.log(message);
      console.warn(`*** ${message} ***`);
      if (process.env.CI === 'true') t.fail(message);
      else t.pass();
      return;
    }
    const file = path.join(tmp, `tcpdump-${options.precision}-${options.byteOrder}.pcap`);
    fs.writeFileSync(file, encodePcap({ linkType: LinkType.RAW, ...options }, sampleRecords));
    const argv = ['-nn', '-tt', `--time-stamp-precision=${options.precision}`, '-r', file];
    const out = execFileSync('tcpdump', argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const lines = out.trim().split('\n');
    t.is(lines.length, sampleRecords.length);
    const fraction = options.precision === 'nano' ? '123456000' : '123456';
    t.regex(lines[0], new RegExp(`^1700000000\\.${fraction} IP 198\\.18\\.0\\.1 > 198\\.18\\.0\\.2:`));
  },
  title: (_, o: { byteOrder: string; precision: string }) => `tcpdump -r reads PcapWriter output (${o.precision}, ${o.byteOrder}-endian)`,
});

test(tcpdumpReads, { precision: 'micro', byteOrder: 'little' });
test(tcpdumpReads, { precision: 'nano', byteOrder: 'big' });

test('tcpdump reads a file written by PcapWriter.open', (t) => {
  if (!tcpdumpAvailable()) {
    t.log('SKIPPED: tcpdump is not installed');
    console.warn('*** SKIPPED: tcpdump is not installed ***');
    t.pass();
    return;
  }
  const file = path.join(tmp, 'writer-tcpdump.pcap');
  const writer = PcapWriter.open(file, { linkType: LinkType.ETHERNET });
  for (const record of parsePcap(fs.readFileSync(path.join(fixtures, 'ipv6/closed.pcap'))).records) writer.write(recordInput(record));
  writer.close();
  const out = execFileSync('tcpdump', ['-nn', '-r', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  t.regex(out, /2001:2::1\.40003 > 2001:2::2\.1: Flags \[S\]/);
  t.regex(out, /2001:2::2\.1 > 2001:2::1\.40003: Flags \[R\.\]/);
});
