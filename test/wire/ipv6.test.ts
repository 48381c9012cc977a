import test from 'ava';
import type { MalformedReason } from '../../src/wire/result.js';
import type { Ipv6ExtensionHeader, Ipv6Repr } from '../../src/wire/ipv6.js';
import { Ipv6Packet, emitIpv6, extensionHeaderLen, finalDestination, ipv6HeaderLen, parseIpv6 } from '../../src/wire/ipv6.js';
import { filled, hex, ip, linux, toHex } from './util.js';

const u8 = (h: string): Uint8Array => Uint8Array.from(hex(h));

// IP6 (flowlabel 0x2de3d, hlim 64, next-header TCP (6) payload length: 40) ::1.47001 > ::1.36606: Flags [S.] ...
const synAckHeader: Ipv6Repr = {
  src: ip('::1'),
  dst: ip('::1'),
  hopLimit: 64,
  trafficClass: 0,
  flowLabel: 0x2de3d,
  nextHeader: 6,
  extensionHeaders: [],
  protocol: 6,
  headerLen: 40,
  payloadLength: 40,
  payloadLengthField: 40,
  fragmentOffset: 0,
  moreFragments: false,
};

// IP6 (flowlabel 0x800f0, hlim 64, next-header Options (0) payload length: 88) 2001:db8::1 > 2001:db8::2:
//   HBH (rtalert: 0x0000) (padn) DSTOPT (padn) RT6 (len=2, type=0 [Deprecated], segleft=0, rsv=0x0, [0]::)
//   frag (0x12345678:0|40) 40001 > 22: Flags [S], seq 5, win 64800, options [mss 1440,sackOK,TS val 7 ecr 0,nop,wscale 7], length 0
const chain = hex`
  6008 00f0 0058 0040 2001 0db8 0000 0000
  0000 0000 0000 0001 2001 0db8 0000 0000
  0000 0000 0000 0002 3c00 0502 0000 0100
  2b00 0104 0000 0000 2c02 0000 0000 0000
  0000 0000 0000 0000 0000 0000 0000 0000
  0600 0000 1234 5678 9c41 0016 0000 0005
  0000 0000 a002 fd20 531b 0000 0204 05a0
  0402 080a 0000 0007 0000 0000 0103 0307`;
const chainHeaders: Ipv6ExtensionHeader[] = [
  // Router Alert (RFC 2711) value 0 = MLD, then PadN with no data bytes.
  { kind: 'hop-by-hop', options: [{ type: 5, data: u8('0000') }, { type: 1, data: new Uint8Array(0) }] },
  { kind: 'destination', options: [{ type: 1, data: u8('0000 0000') }] },
  { kind: 'routing', routingType: 0, segmentsLeft: 0, data: new Uint8Array(20) },
  { kind: 'fragment', fragmentOffset: 0, moreFragments: false, identification: 0x12345678 },
];
const chainRepr: Ipv6Repr = {
  src: ip('2001:db8::1'),
  dst: ip('2001:db8::2'),
  hopLimit: 64,
  trafficClass: 0,
  flowLabel: 0x800f0,
  nextHeader: 0,
  extensionHeaders: chainHeaders,
  protocol: 6,
  headerLen: 88,
  payloadLength: 40,
  payloadLengthField: 88,
  fragmentOffset: 0,
  moreFragments: false,
};

const parses = test.macro({
  exec(t, bytes: Uint8Array, expected: Ipv6Repr) {
    const r = parseIpv6(bytes);
    t.true(r.ok, r.ok ? '' : r.detail);
    if (r.ok) t.deepEqual(r.value, expected);
  },
  title: (provided = '') => `parse ${provided}`,
});

const emits = test.macro({
  exec(t, bytes: Uint8Array, repr: Ipv6Repr) {
    const buf = filled(repr.headerLen + 10);
    const n = emitIpv6(buf, 3, repr);
    t.is(n, repr.headerLen);
    t.is(ipv6HeaderLen(repr), repr.headerLen);
    t.is(toHex(buf.subarray(3, 3 + n)), toHex(bytes.subarray(0, n)));
    t.true(buf.subarray(0, 3).every((b) => b === 0xa5));
    t.true(buf.subarray(3 + n).every((b) => b === 0xa5));
  },
  title: (provided = '') => `emit ${provided}`,
});

test('Linux SYN-ACK header', parses, linux.synAckV6, synAckHeader);
test('Linux SYN-ACK header', emits, linux.synAckV6, synAckHeader);
test('hop-by-hop + destination options + routing + fragment chain', parses, chain, chainRepr);
test('hop-by-hop + destination options + routing + fragment chain', emits, chain, chainRepr);

test('emit pads option headers with PadN (RFC 8200 §4.2) to the bytes Linux would send', (t) => {
  const buf = filled(88);
  emitIpv6(buf, 0, {
    src: ip('2001:db8::1'),
    dst: ip('2001:db8::2'),
    protocol: 6,
    flowLabel: 0x800f0,
    payloadLength: 40,
    extensionHeaders: [
      { kind: 'hop-by-hop', options: [{ type: 5, data: u8('0000') }] },
      { kind: 'destination', options: [] },
      { kind: 'routing', routingType: 0, segmentsLeft: 0, data: new Uint8Array(20) },
      { kind: 'fragment', fragmentOffset: 0, moreFragments: false, identification: 0x12345678 },
    ],
  });
  t.is(toHex(buf), toHex(chain.subarray(0, 88)));
});

test('emit pads a 7-byte options header with one Pad1', (t) => {
  const h: Ipv6ExtensionHeader = { kind: 'destination', options: [{ type: 0x1e, data: u8('aabbcc') }] };
  t.is(extensionHeaderLen(h), 8);
  const buf = filled(48);
  emitIpv6(buf, 0, { src: ip('::1'), dst: ip('::2'), protocol: 59, payloadLength: 0, extensionHeaders: [h] });
  t.is(toHex(buf.subarray(40)), '3b001e03aabbcc00');
  const r = parseIpv6(buf);
  t.true(r.ok);
  if (r.ok) {
    t.deepEqual(r.value.extensionHeaders, [{ kind: 'destination', options: [{ type: 0x1e, data: u8('aabbcc') }, { type: 0, data: new Uint8Array(0) }] }]);
    t.is(r.value.protocol, 59, 'No Next Header ends the walk');
  }
});

/** A fixed header announcing `next` with `rest` after it; payload length from `rest`. */
function v6(next: number, rest: string): Uint8Array {
  const body = hex(rest);
  const b = new Uint8Array(40 + body.length);
  b.set(hex`6000 0000`, 0);
  b[4] = body.length >> 8;
  b[5] = body.length & 0xff;
  b[6] = next;
  b[7] = 64;
  b.set(ip('2001:db8::1'), 8);
  b.set(ip('2001:db8::2'), 24);
  b.set(body, 40);
  return b;
}

test('a non-first fragment ends the walk: no transport header follows', (t) => {
  // IP6 2001:db8::1 > 2001:db8::2: frag (0x00000001:1480|8) (TCP continuation)
  const r = parseIpv6(v6(44, '0600 05c8 0000 0001 0102 0304 0506 0708'));
  t.true(r.ok, r.ok ? '' : r.detail);
  if (r.ok) {
    t.is(r.value.protocol, 6);
    t.is(r.value.headerLen, 48);
    t.is(r.value.fragmentOffset, 1480);
    t.false(r.value.moreFragments);
    t.is(r.value.payloadLength, 8);
  }
});

test('a first fragment (offset 0, M set) keeps walking to the transport', (t) => {
  const r = parseIpv6(v6(44, '3c00 0001 0000 0002  0600 0104 0000 0000'));
  t.true(r.ok, r.ok ? '' : r.detail);
  if (r.ok) {
    t.is(r.value.protocol, 6);
    t.is(r.value.headerLen, 56);
    t.true(r.value.moreFragments);
    t.is(r.value.fragmentOffset, 0);
  }
});

test('AH (RFC 4302) is walked with its 4-octet length unit', (t) => {
  // next TCP, payload len 4 -> (4 + 2) * 4 = 24 bytes
  const r = parseIpv6(v6(51, '0604 0000 0000 0100 0000 0001 aaaa aaaa aaaa aaaa aaaa aaaa'));
  t.true(r.ok, r.ok ? '' : r.detail);
  if (r.ok) {
    t.is(r.value.protocol, 6);
    t.is(r.value.headerLen, 64);
    t.deepEqual(r.value.extensionHeaders, [{ kind: 'other', protocol: 51, data: u8('0000 0000 0100 0000 0001 aaaa aaaa aaaa aaaa aaaa aaaa') }]);
  }
});

test('ESP ends the walk (what follows is encrypted)', (t) => {
  const r = parseIpv6(v6(50, '0000 0001 0000 0001 ffff ffff'));
  t.true(r.ok);
  if (r.ok) {
    t.is(r.value.protocol, 50);
    t.is(r.value.headerLen, 40);
  }
});

test('emit and parse round-trip an "other" header (Mobility, 135)', (t) => {
  const h: Ipv6ExtensionHeader = { kind: 'other', protocol: 135, data: u8('0100 0000 0000') };
  const buf = filled(48);
  emitIpv6(buf, 0, { src: ip('::1'), dst: ip('::2'), protocol: 59, payloadLength: 0, extensionHeaders: [h] });
  t.is(toHex(buf.subarray(40)), '3b00010000000000');
  const r = parseIpv6(buf);
  t.true(r.ok);
  if (r.ok) t.deepEqual(r.value.extensionHeaders, [h]);
});

const rejects = test.macro({
  exec(t, bytes: Uint8Array, reason: MalformedReason) {
    const r = parseIpv6(bytes);
    t.false(r.ok);
    if (!r.ok) t.is(r.reason, reason, r.detail);
  },
  title: (provided = '', _b, reason: MalformedReason) => `malformed ${reason}: ${provided}`,
});

test('39 bytes', rejects, linux.synAckV6.subarray(0, 39), 'truncated');
test('version 4', rejects, linux.synAckV4, 'bad-version');
test('payload length beyond the input', rejects, linux.synAckV6.subarray(0, 79), 'truncated');
test('extension header length beyond the payload', rejects, v6(60, '0601 0000 0000 0000'), 'truncated');
test('extension header cut before its length byte', rejects, v6(60, '06'), 'truncated');
test('fragment header cut short', rejects, v6(44, '0600 0000'), 'truncated');
test('option TLV overruns its header', rejects, v6(60, '0600 0105 0000 0000'), 'bad-option');
test('option TLV without a length byte', rejects, v6(60, '0600 0000 0000 0005'), 'bad-option');
test('hop-by-hop after another header (RFC 8200 §4.1)', rejects, v6(60, '0000 0104 0000 0000 0600 0104 0000 0000'), 'bad-extension-header');

test('final destination for the pseudo-header (RFC 8200 §8.1)', (t) => {
  const dst = ip('2001:db8::2');
  const home = ip('2001:db8::99');
  const rh2: Ipv6ExtensionHeader = { kind: 'routing', routingType: 2, segmentsLeft: 1, data: Uint8Array.from([0, 0, 0, 0, ...home]) };
  t.deepEqual(finalDestination(dst, [rh2]), home);
  t.is(finalDestination(dst, [{ ...rh2, segmentsLeft: 0 }]), dst, 'nothing left to visit: dst is final');
  const segs = [ip('2001:db8::a'), ip('2001:db8::b')];
  const srh: Ipv6ExtensionHeader = { kind: 'routing', routingType: 4, segmentsLeft: 1, data: Uint8Array.from([1, 0, 0, 0, ...segs[0], ...segs[1]]) };
  t.deepEqual(finalDestination(dst, [srh]), segs[0], 'SRH: Segment List[0]');
  t.is(finalDestination(dst, undefined), dst);
  t.is(finalDestination(dst, [{ kind: 'routing', routingType: 3, segmentsLeft: 1, data: new Uint8Array(20) }]), dst);
});

test('emit throws RangeError on programmer errors', (t) => {
  const repr = { src: ip('::1'), dst: ip('::2'), protocol: 6, payloadLength: 0 };
  t.throws(() => emitIpv6(new Uint8Array(39), 0, repr), { instanceOf: RangeError });
  t.throws(() => emitIpv6(new Uint8Array(40), 0, { ...repr, dst: ip('10.0.0.1') }), { instanceOf: RangeError });
  t.throws(() => emitIpv6(new Uint8Array(40), 0, { ...repr, flowLabel: 0x100000 }), { instanceOf: RangeError });
  t.throws(() => emitIpv6(new Uint8Array(40), 0, { ...repr, payloadLength: 65536 }), { instanceOf: RangeError });
  t.throws(
    () => emitIpv6(new Uint8Array(48), 0, { ...repr, extensionHeaders: [{ kind: 'fragment', fragmentOffset: 7, moreFragments: false, identification: 0 }] }),
    { instanceOf: RangeError },
  );
});

test('emit with fixLengths false writes the given payload length field', (t) => {
  const buf = filled(40);
  emitIpv6(buf, 0, { ...synAckHeader, payloadLengthField: 1234 }, { fixLengths: false });
  t.is(toHex(buf.subarray(4, 6)), '04d2');
});

test('Ipv6Packet view over a pooled Buffer', (t) => {
  const bytes = Buffer.from(linux.synAckV6);
  const checked = Ipv6Packet.checked(bytes);
  t.true(checked.ok);
  if (!checked.ok) return;
  const p = checked.value;
  t.is(p.version, 6);
  t.is(p.trafficClass, 0);
  t.is(p.flowLabel, 0x2de3d);
  t.is(p.payloadLength, 40);
  t.is(p.nextHeader, 6);
  t.is(p.hopLimit, 64);
  t.deepEqual(Uint8Array.from(p.src), ip('::1'));
  t.is(p.payload.length, 40);
  p.trafficClass = 0xb8;
  p.flowLabel = 0xfffff;
  p.hopLimit = 1;
  p.dst = ip('fe80::1');
  t.is(toHex(bytes.subarray(0, 4)), '6b8fffff');
  t.is(p.trafficClass, 0xb8);
  t.is(p.flowLabel, 0xfffff);
  const r = parseIpv6(bytes);
  t.true(r.ok);
  if (r.ok) {
    t.is(r.value.trafficClass, 0xb8);
    t.is(r.value.hopLimit, 1);
    t.deepEqual(r.value.dst, ip('fe80::1'));
  }
  t.false(Ipv6Packet.checked(bytes.subarray(0, 50)).ok);
});
