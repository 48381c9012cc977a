import test from 'ava';
import type { MalformedReason } from '../../src/wire/result.js';
import { Ipv4Packet, emitIpv4, ipv4HeaderLen, parseIpv4 } from '../../src/wire/ipv4.js';
import type { Ipv4Repr } from '../../src/wire/ipv4.js';
import { filled, hex, ip, linux, toHex } from './util.js';

// IP (tos 0x0, ttl 64, id 0, offset 0, flags [DF], proto TCP (6), length 60)
//     127.0.0.1.47001 > 127.0.0.1.54340: Flags [S.] ... (the Linux SYN-ACK, IP header only below)
const synAckHeader: Ipv4Repr = {
  src: ip('127.0.0.1'),
  dst: ip('127.0.0.1'),
  protocol: 6,
  ttl: 64,
  tos: 0,
  ident: 0,
  dontFragment: true,
  moreFragments: false,
  fragmentOffset: 0,
  options: new Uint8Array(0),
  headerLen: 20,
  totalLength: 60,
  payloadLength: 40,
  checksum: 0x3cba,
};

// IP (tos 0xc0, ttl 1, id 0, offset 0, flags [DF], proto IGMP (2), length 32, options (RA))
//     192.168.0.1 > 224.0.0.251: igmp v2 report 224.0.0.251
const withRouterAlert = hex`
  46c0 0020 0000 4000 0102 4273 c0a8 0001
  e000 00fb 9404 0000 1600 0904 e000 00fb`;
const withRouterAlertRepr: Ipv4Repr = {
  src: ip('192.168.0.1'),
  dst: ip('224.0.0.251'),
  protocol: 2,
  ttl: 1,
  tos: 0xc0,
  ident: 0,
  dontFragment: true,
  moreFragments: false,
  fragmentOffset: 0,
  options: Uint8Array.from(hex`9404 0000`),
  headerLen: 24,
  totalLength: 32,
  payloadLength: 8,
  checksum: 0x4273,
};

const parses = test.macro({
  exec(t, bytes: Uint8Array, expected: Ipv4Repr) {
    const r = parseIpv4(bytes);
    t.true(r.ok, r.ok ? '' : r.detail);
    if (r.ok) t.deepEqual(r.value, expected);
  },
  title: (provided = '') => `parse ${provided}`,
});

const emits = test.macro({
  exec(t, bytes: Uint8Array, repr: Ipv4Repr) {
    const buf = filled(bytes.length + 8);
    const n = emitIpv4(buf, 4, repr);
    t.is(n, repr.headerLen);
    t.is(toHex(buf.subarray(4, 4 + n)), toHex(bytes.subarray(0, n)));
    t.true(buf.subarray(0, 4).every((b) => b === 0xa5), 'bytes before the offset untouched');
    t.true(buf.subarray(4 + n).every((b) => b === 0xa5), 'bytes past the header untouched');
  },
  title: (provided = '') => `emit ${provided}`,
});

test('Linux SYN-ACK header', parses, linux.synAckV4, synAckHeader);
test('Linux SYN-ACK header', emits, linux.synAckV4, synAckHeader);
test('header with a Router Alert option (RFC 2113)', parses, withRouterAlert, withRouterAlertRepr);
test('header with a Router Alert option (RFC 2113)', emits, withRouterAlert, withRouterAlertRepr);

test('parse accepts trailing bytes past the total length (Ethernet minimum-frame padding)', (t) => {
  // IP 127.0.0.1.47002 > 127.0.0.1.53412: Flags [R.], seq 0, ack 3091305992, win 0, length 0 + 6 bytes of padding
  const padded = Buffer.concat([linux.rstAckV4, Buffer.alloc(6)]);
  const r = parseIpv4(padded);
  t.true(r.ok);
  if (r.ok) t.is(r.value.payloadLength, 20);
});

test('emit pads options to 4 bytes with zeros (EOL) and sets IHL', (t) => {
  const buf = filled(40);
  const n = emitIpv4(buf, 0, { src: ip('10.0.0.1'), dst: ip('10.0.0.2'), protocol: 17, options: hex`01 01 01`, payloadLength: 0 });
  t.is(n, 24);
  t.is(buf[0], 0x46);
  t.is(toHex(buf.subarray(20, 24)), '01010100');
  const back = parseIpv4(buf.subarray(0, 24));
  t.true(back.ok, back.ok ? '' : back.detail);
  if (back.ok) {
    t.is(back.value.ttl, 64, 'TTL defaults to 64');
    t.false(back.value.dontFragment);
  }
});

test('emit fragments: offset in bytes, MF', (t) => {
  const buf = filled(20);
  emitIpv4(buf, 0, { src: ip('10.0.0.1'), dst: ip('10.0.0.2'), protocol: 6, moreFragments: true, fragmentOffset: 1480, ident: 0x1234, payloadLength: 0 });
  t.is(toHex(buf.subarray(4, 8)), '123420b9'); // MF | 185
  const r = parseIpv4(buf);
  t.true(r.ok);
  if (r.ok) {
    t.is(r.value.fragmentOffset, 1480);
    t.true(r.value.moreFragments);
  }
});

test('emit with fixLengths false and computeChecksums false writes the given (broken) fields', (t) => {
  const buf = filled(20);
  emitIpv4(
    buf,
    0,
    { ...synAckHeader, headerLen: 16, totalLength: 7, checksum: 0xbeef },
    { fixLengths: false, computeChecksums: false },
  );
  t.is(buf[0], 0x44);
  t.is(toHex(buf.subarray(2, 4)), '0007');
  t.is(toHex(buf.subarray(10, 12)), 'beef');
});

test('emit throws RangeError on programmer errors', (t) => {
  const repr = { src: ip('10.0.0.1'), dst: ip('10.0.0.2'), protocol: 6, payloadLength: 0 };
  t.throws(() => emitIpv4(new Uint8Array(19), 0, repr), { instanceOf: RangeError });
  t.throws(() => emitIpv4(new Uint8Array(64), 0, { ...repr, options: new Uint8Array(41) }), { instanceOf: RangeError });
  t.throws(() => emitIpv4(new Uint8Array(64), 0, { ...repr, src: ip('::1') }), { instanceOf: RangeError });
  t.throws(() => emitIpv4(new Uint8Array(64), 0, { ...repr, fragmentOffset: 3 }), { instanceOf: RangeError });
  t.throws(() => emitIpv4(new Uint8Array(64), 0, { ...repr, payloadLength: 70000 }), { instanceOf: RangeError });
  t.is(ipv4HeaderLen({ options: new Uint8Array(5) }), 28);
  t.is(ipv4HeaderLen({ options: new Uint8Array(5) }, { fixLengths: false }), 25);
});

/** The Linux SYN-ACK with `patch` applied (byte offset -> value), checksum not refreshed unless asked. */
function patched(patch: Record<number, number>, refresh = true): Uint8Array {
  const b = Uint8Array.from(linux.synAckV4);
  for (const [at, v] of Object.entries(patch)) b[Number(at)] = v;
  if (refresh) new Ipv4Packet(b).fillChecksum();
  return b;
}

const rejects = test.macro({
  exec(t, bytes: Uint8Array, reason: MalformedReason, verifyChecksum: boolean = true) {
    const r = parseIpv4(bytes, { verifyChecksum });
    t.false(r.ok);
    if (!r.ok) {
      t.is(r.reason, reason, r.detail);
      t.true(r.detail.length > 0);
    }
  },
  title: (provided = '', _bytes, reason: MalformedReason) => `malformed ${reason}: ${provided}`,
});

test('empty', rejects, new Uint8Array(0), 'truncated');
test('19 bytes', rejects, linux.synAckV4.subarray(0, 19), 'truncated');
test('version 6 in an IPv4 parser', rejects, patched({ 0: 0x65 }), 'bad-version');
test('IHL 4', rejects, patched({ 0: 0x44 }, false), 'bad-header-length');
test('IHL 15 with 60 bytes of input but no room for 60 bytes of header', rejects, linux.synAckV4.subarray(0, 40).map((b, i) => (i === 0 ? 0x4f : b)), 'truncated');
test('total length below the header length', rejects, patched({ 2: 0, 3: 19 }), 'bad-length');
test('total length beyond the input', rejects, patched({ 2: 0, 3: 61 }), 'truncated');
test('bad header checksum', rejects, patched({ 8: 63 }, false), 'bad-checksum');
test(
  'option length 1',
  rejects,
  hex`4600 0018 0000 0000 4011 0000 0a00 0001 0a00 0002 8901 0000`,
  'bad-option',
  false,
);
test(
  'option overruns the header',
  rejects,
  hex`4600 0018 0000 0000 4011 0000 0a00 0001 0a00 0002 0101 8906`,
  'bad-option',
  false,
);
test(
  'option kind as the last byte, no length',
  rejects,
  hex`4600 0018 0000 0000 4011 0000 0a00 0001 0a00 0002 0101 0189`,
  'bad-option',
  false,
);

test('options after EOL are not read', (t) => {
  const r = parseIpv4(hex`4600 0018 0000 0000 4011 0000 0a00 0001 0a00 0002 00ff ffff`, { verifyChecksum: false });
  t.true(r.ok);
});

test('checksum verification can be turned off', (t) => {
  t.true(parseIpv4(patched({ 8: 63 }, false), { verifyChecksum: false }).ok);
});

test('Ipv4Packet view reads and writes fields over a pooled Buffer', (t) => {
  const bytes = Buffer.from(linux.synAckV4); // a small Buffer: lives in the pool at a non-zero byteOffset
  const checked = Ipv4Packet.checked(bytes);
  t.true(checked.ok);
  if (!checked.ok) return;
  const p = checked.value;
  t.is(p.version, 4);
  t.is(p.headerLen, 20);
  t.is(p.totalLength, 60);
  t.true(p.dontFragment);
  t.false(p.moreFragments);
  t.false(p.reservedFlag);
  t.is(p.ttl, 64);
  t.is(p.protocol, 6);
  t.is(p.checksum, 0x3cba);
  t.true(p.verifyChecksum());
  t.is(toHex(p.src), '7f000001');
  t.is(p.payload.length, 40);
  t.is(p.options.length, 0);
  p.ttl = 1;
  p.tos = 0x2e << 2;
  p.ident = 0xabcd;
  p.dontFragment = false;
  p.moreFragments = true;
  p.fragmentOffset = 16;
  p.dst = ip('10.9.8.7');
  t.false(p.verifyChecksum());
  p.fillChecksum();
  t.true(p.verifyChecksum());
  t.is(p.dscp, 0x2e);
  t.is(p.ecn, 0);
  const r = parseIpv4(bytes);
  t.true(r.ok);
  if (r.ok) {
    t.is(r.value.ttl, 1);
    t.is(r.value.ident, 0xabcd);
    t.false(r.value.dontFragment);
    t.true(r.value.moreFragments);
    t.is(r.value.fragmentOffset, 16);
    t.is(toHex(r.value.dst), '0a090807');
  }
  t.false(Ipv4Packet.checked(bytes.subarray(0, 10)).ok);
});

test('parsed addresses and options are copies, not views of the input', (t) => {
  const bytes = Uint8Array.from(withRouterAlert);
  const r = parseIpv4(bytes);
  t.true(r.ok);
  bytes.fill(0);
  if (r.ok) {
    t.is(toHex(r.value.src), 'c0a80001');
    t.is(toHex(r.value.options), '94040000');
  }
});
