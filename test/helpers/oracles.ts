// Two independent decoders as oracles for src/wire: npm `pcap` (node_pcap: libpcap's offline
// reader, so the file is read by libpcap rather than by our pcap-file.ts, plus its own JS
// decoders) and npm `cap` (its Decoders module). Each packet of a capture file is decoded three
// times and the fields every decoder exposes must agree: addresses, TTL/hop limit, transport
// protocol (after IPv6 extension headers), TCP ports, seq, ack, flags, window, checksum, the
// SYN options (node_pcap parses them; cap does not), ICMP type, code and checksum.
//
// Where an oracle cannot decode something, it says so (`undefined` fields) instead of guessing:
// node_pcap knows no LINUX_SLL2 link type and no IPv6 fragment header, cap has no ICMPv6 or
// cooked-capture decoder; `compareWithOracles` counts the fields actually compared so a test
// can require that every packet was checked by both.
import { createRequire } from 'node:module';
import { parseCapture } from '../../src/capture/capture-file.js';
import { LinkType } from '../../src/capture/pcap-file.js';
import { ipPacket } from '../../src/capture/link-layer.js';
import { parseIcmpv4, parseIcmpv6, parseIp, parseTcp, summarizeTcpOptions } from '../../src/wire/index.js';
import fs from 'node:fs';

const require = createRequire(import.meta.url);

/** The fields compared, as plain values (addresses as dotted decimal / 32 hex digits). */
export interface DecodedFields {
  src?: string;
  dst?: string;
  ttl?: number;
  protocol?: number;
  srcPort?: number;
  dstPort?: number;
  seq?: number;
  /** Only when the ACK flag is set (cap leaves it out otherwise). */
  ack?: number;
  flags?: number;
  window?: number;
  checksum?: number;
  mss?: number;
  windowScale?: number;
  sackPermitted?: boolean;
  tsVal?: number;
  tsEcr?: number;
  icmpType?: number;
  icmpCode?: number;
  icmpChecksum?: number;
}

function addressText(bytes: ArrayLike<number>): string {
  const list = Array.from(bytes);
  return list.length === 4 ? list.join('.') : list.map((b) => b.toString(16).padStart(2, '0')).join('');
}

// --- src/wire ---------------------------------------------------------------------------------------

export function decodeWithWire(frame: Uint8Array, linkType: number): DecodedFields {
  const ip = ipPacket(frame, linkType);
  if (!ip) return {};
  const parsed = parseIp(ip, { verifyChecksum: false });
  if (!parsed.ok) return {};
  const d = parsed.value;
  const out: DecodedFields = { src: addressText(d.src), dst: addressText(d.dst), ttl: d.ttl, protocol: d.protocol };
  if (d.fragmentOffset !== 0) return out;
  const payload = ip.subarray(d.payloadOffset, d.payloadOffset + d.payloadLength);
  if (d.protocol === 6) {
    const tcp = parseTcp(payload, d, { verifyChecksum: false });
    if (!tcp.ok) return out;
    const t = tcp.value;
    const s = summarizeTcpOptions(t.options);
    Object.assign(out, { srcPort: t.srcPort, dstPort: t.dstPort, seq: t.seq, flags: t.flags & 0x1ff, window: t.window, checksum: t.checksum });
    if (t.flags & 0x10) out.ack = t.ack;
    if (s.mss !== undefined) out.mss = s.mss;
    if (s.windowScale !== undefined) out.windowScale = s.windowScale;
    if (s.sackPermitted) out.sackPermitted = true;
    if (s.tsVal !== undefined) out.tsVal = s.tsVal;
    if (s.tsEcr !== undefined) out.tsEcr = s.tsEcr;
  } else if (d.protocol === 1 || d.protocol === 58) {
    const icmp = d.protocol === 1 ? parseIcmpv4(payload, { verifyChecksum: false }) : parseIcmpv6(payload, d, { verifyChecksum: false });
    if (icmp.ok) Object.assign(out, { icmpType: icmp.value.type, icmpCode: icmp.value.code, icmpChecksum: icmp.value.checksum });
  }
  return out;
}

// --- npm cap ----------------------------------------------------------------------------------------

interface CapResult {
  info: Record<string, unknown>;
  offset: number;
}
interface CapDecoders {
  Ethernet(b: Buffer, offset?: number): CapResult;
  IPV4(b: Buffer, offset?: number): CapResult;
  IPV6(b: Buffer, offset?: number): CapResult;
  TCP(b: Buffer, offset?: number): CapResult;
  ICMPV4(b: Buffer, nbytes: number, offset?: number): CapResult & { info: { type: number; code: number } };
}

function capDecoders(): CapDecoders {
  return (require('cap') as { decoders: CapDecoders }).decoders;
}

/** cap prints IPv6 addresses as 16 colon-separated hex bytes ("20:01:00:02:..."). */
function capAddress(text: string): string {
  return text.includes(':') ? text.split(':').join('') : text;
}

/** IP offset of a frame, from the link type alone (cap has no cooked-capture decoder). */
function capIpOffset(b: Buffer, linkType: number, dec: CapDecoders): number | undefined {
  switch (linkType) {
    case LinkType.ETHERNET:
      return dec.Ethernet(b).offset;
    case LinkType.LINUX_SLL:
      return 16;
    case LinkType.LINUX_SLL2:
      return 20;
    case LinkType.RAW:
      return 0;
    default:
      return undefined;
  }
}

export function decodeWithCap(frame: Uint8Array, linkType: number): DecodedFields {
  const dec = capDecoders();
  const b = Buffer.from(frame);
  const at = capIpOffset(b, linkType, dec);
  if (at === undefined || at >= b.length) return {};
  const version = b[at] >> 4;
  const ip = version === 4 ? dec.IPV4(b, at) : version === 6 ? dec.IPV6(b, at) : undefined;
  if (!ip) return {};
  const i = ip.info as { srcaddr: string; dstaddr: string; ttl?: number; hopLimit?: number; protocol?: number; fragoffset?: number };
  const out: DecodedFields = { src: capAddress(i.srcaddr), dst: capAddress(i.dstaddr), ttl: version === 4 ? i.ttl : i.hopLimit };
  if (i.protocol !== undefined) out.protocol = i.protocol;
  if (version === 4 && i.fragoffset) return out;
  if (i.protocol === 6) {
    const t = dec.TCP(b, ip.offset).info as { srcport: number; dstport: number; seqno: number; ackno?: number; flags: number; window: number; checksum: number };
    Object.assign(out, { srcPort: t.srcport, dstPort: t.dstport, seq: t.seqno, flags: t.flags, window: t.window, checksum: t.checksum });
    if (t.ackno !== undefined) out.ack = t.ackno;
  } else if (i.protocol === 1) {
    const c = dec.ICMPV4(b, b.length - ip.offset, ip.offset).info;
    // cap's ICMPV4 decoder reads the checksum but does not expose it.
    Object.assign(out, { icmpType: c.type, icmpCode: c.code });
  }
  return out;
}

// --- npm pcap (node_pcap) ---------------------------------------------------------------------------

interface NodePcapPacketWithHeader {
  buf: Buffer;
  header: Buffer;
  link_type: string;
}
interface NodePcapSession {
  on(event: 'packet', listener: (packet: NodePcapPacketWithHeader) => void): void;
  on(event: 'complete', listener: () => void): void;
  close(): void;
}
interface NodePcap {
  createOfflineSession(path: string, options?: { filter?: string }): NodePcapSession;
}

/** Each record of a file as libpcap (through node_pcap) reads it: link type name and bytes. */
export function readWithNodePcap(path: string): Promise<Array<{ linkType: string; data: Buffer }>> {
  const pcap = require('pcap') as NodePcap;
  return new Promise((resolve, reject) => {
    const packets: Array<{ linkType: string; data: Buffer }> = [];
    let session: NodePcapSession;
    try {
      session = pcap.createOfflineSession(path, {});
    } catch (error) {
      reject(error as Error);
      return;
    }
    session.on('packet', (p) => {
      // The buffer is reused for the next record: copy what the header says was captured.
      packets.push({ linkType: p.link_type, data: Buffer.from(p.buf.subarray(0, p.header.readUInt32LE(8))) });
    });
    session.on('complete', () => {
      session.close();
      resolve(packets);
    });
  });
}

type NodePcapDecoder = new () => { decode(b: Buffer, offset: number, len?: number): unknown };

interface NodePcapIp {
  version: number;
  saddr: { addr: number[] };
  daddr: { addr: number[] };
  ttl?: number;
  hopLimit?: number;
  protocol?: number;
  nextHeader?: number;
  fragmentOffset?: number;
  payload?: NodePcapTransport & { nextHeader?: number; payload?: unknown };
}
interface NodePcapTransport {
  decoderName?: string;
  sport?: number;
  dport?: number;
  seqno?: number;
  ackno?: number;
  flags?: Record<string, boolean>;
  windowSize?: number;
  checksum?: number;
  options?: { mss: number | null; window_scale: number | null; sack_ok: boolean | null; timestamp: number | null; echo: number | null };
  type?: number;
  code?: number;
}

const FLAG_BITS: Array<[string, number]> = [
  ['fin', 0x01],
  ['syn', 0x02],
  ['rst', 0x04],
  ['psh', 0x08],
  ['ack', 0x10],
  ['urg', 0x20],
  ['ece', 0x40],
  ['cwr', 0x80],
  ['nonce', 0x100],
];

export function decodeWithNodePcap(data: Buffer, linkTypeName: string): DecodedFields {
  const IPv4 = require('pcap/decode/ipv4') as NodePcapDecoder;
  const IPv6 = require('pcap/decode/ipv6') as NodePcapDecoder;
  const Ethernet = require('pcap/decode/ethernet_packet') as NodePcapDecoder;
  const Sll = require('pcap/decode/sll_packet') as NodePcapDecoder;
  let ip: NodePcapIp | undefined;
  const byVersion = (offset: number): NodePcapIp | undefined => {
    const v = data[offset] >> 4;
    if (v === 4) return new IPv4().decode(data, offset) as NodePcapIp;
    if (v === 6) return new IPv6().decode(data, offset) as NodePcapIp;
    return undefined;
  };
  switch (linkTypeName) {
    case 'LINKTYPE_ETHERNET':
      ip = (new Ethernet().decode(data, 0) as { payload: NodePcapIp }).payload;
      break;
    case 'LINKTYPE_LINUX_SLL':
      ip = (new Sll().decode(data, 0) as { payload: NodePcapIp }).payload;
      break;
    case 'LINKTYPE_RAW':
      // node_pcap's own LINKTYPE_RAW path assumes IPv4; choose by the version nibble instead.
      ip = byVersion(0);
      break;
    case 'Unknown linktype 276':
      // LINUX_SLL2, which node_pcap does not know: a fixed 20-byte header.
      ip = byVersion(20);
      break;
    default:
      return {};
  }
  if (!ip || typeof ip !== 'object') return {};
  const out: DecodedFields = {
    src: addressText(ip.saddr.addr),
    dst: addressText(ip.daddr.addr),
    ttl: ip.version === 4 ? ip.ttl : ip.hopLimit,
  };
  if (ip.version === 4 && ip.fragmentOffset) {
    out.protocol = ip.protocol;
    return out;
  }
  // Walk node_pcap's chain of IPv6 extension headers down to the transport.
  let protocol = ip.version === 4 ? ip.protocol : ip.nextHeader;
  let transport = ip.payload;
  while (transport && transport.nextHeader !== undefined && transport.decoderName === undefined) {
    protocol = transport.nextHeader;
    transport = transport.payload as typeof transport;
  }
  if (protocol === 44) return out; // node_pcap has no fragment header decoder: stop before it
  out.protocol = protocol;
  if (!transport) return out;
  if (protocol === 6 && transport.flags) {
    let flags = 0;
    for (const [name, bit] of FLAG_BITS) if (transport.flags[name]) flags |= bit;
    Object.assign(out, { srcPort: transport.sport, dstPort: transport.dport, seq: transport.seqno, flags, window: transport.windowSize, checksum: transport.checksum });
    if (flags & 0x10) out.ack = transport.ackno;
    const o = transport.options;
    if (o) {
      if (o.mss !== null) out.mss = o.mss;
      if (o.window_scale !== null) out.windowScale = o.window_scale;
      if (o.sack_ok) out.sackPermitted = true;
      if (o.timestamp !== null) out.tsVal = o.timestamp;
      if (o.echo !== null) out.tsEcr = o.echo;
    }
  } else if (protocol === 1) {
    Object.assign(out, { icmpType: transport.type, icmpCode: transport.code, icmpChecksum: transport.checksum });
  }
  return out;
}

// --- comparison -------------------------------------------------------------------------------------

export interface OracleReport {
  packets: number;
  /** Fields compared with each oracle, summed over packets. */
  comparedWithPcap: number;
  comparedWithCap: number;
  /** Packets where an oracle decoded nothing beyond the addresses (e.g. an unknown link type). */
  shallow: { pcap: number; cap: number };
  mismatches: string[];
}

function compare(name: string, index: number, ours: DecodedFields, theirs: DecodedFields, mismatches: string[]): number {
  let compared = 0;
  for (const key of Object.keys(theirs) as Array<keyof DecodedFields>) {
    if (theirs[key] === undefined) continue;
    compared++;
    if (ours[key] !== theirs[key]) mismatches.push(`packet ${index}: ${key} is ${String(ours[key])} in src/wire, ${String(theirs[key])} in ${name}`);
  }
  // Options only node_pcap parses; a field it found that we did not is a mismatch too (above),
  // and one we found that it did not is one as well.
  if (name === 'pcap') {
    for (const key of ['mss', 'windowScale', 'sackPermitted', 'tsVal', 'tsEcr'] as const) {
      if (ours[key] !== undefined && theirs[key] === undefined && theirs.flags !== undefined) {
        mismatches.push(`packet ${index}: ${key} is ${String(ours[key])} in src/wire, absent in pcap`);
      }
    }
  }
  return compared;
}

/**
 * Decodes every packet of `path` with src/wire (our reader), node_pcap (libpcap's reader) and
 * cap, and reports the fields compared and every disagreement.
 */
export async function compareWithOracles(path: string): Promise<OracleReport> {
  const ours = parseCapture(fs.readFileSync(path));
  const theirs = await readWithNodePcap(path);
  const report: OracleReport = { packets: ours.packets.length, comparedWithPcap: 0, comparedWithCap: 0, shallow: { pcap: 0, cap: 0 }, mismatches: [] };
  if (theirs.length !== ours.packets.length) report.mismatches.push(`libpcap reads ${theirs.length} packets, src/capture ${ours.packets.length}`);
  ours.packets.forEach((packet, index) => {
    const mine = decodeWithWire(packet.data, packet.linkType);
    const other = theirs[index];
    if (other && !Buffer.from(packet.data).equals(other.data)) report.mismatches.push(`packet ${index}: libpcap read other bytes`);
    const fromPcap = other ? decodeWithNodePcap(other.data, other.linkType) : {};
    const fromCap = decodeWithCap(packet.data, packet.linkType);
    const p = compare('pcap', index, mine, fromPcap, report.mismatches);
    const c = compare('cap', index, mine, fromCap, report.mismatches);
    report.comparedWithPcap += p;
    report.comparedWithCap += c;
    if (p <= 3) report.shallow.pcap++;
    if (c <= 3) report.shallow.cap++;
  });
  return report;
}
