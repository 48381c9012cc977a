// The one reply shape that arrives 100,000 times a second — a TCP segment in a plain IPv4 or
// IPv6 packet, maybe behind an Ethernet header — read in place: the fields the engine matches on
// become numbers on this reusable view, addresses stay in the frame (srcAt/dstAt), and nothing is
// allocated. Anything else (IP options are fine; IPv6 extension headers, ICMP, VLAN tags,
// truncated or odd packets, checksum verification) makes read() return false and the engine uses
// the general parsers (engine/reply.ts), which decide what it is. So this view never has to be
// right about a malformed packet: it only has to refuse it.
import { LinkType } from '../wire/link-type.js';
import { EtherType, IpProtocol, TcpFlags, ipv4OptionBytesValid, tcpOptionBytesValid, type TcpOption, type TcpRepr } from '../wire/index.js';
import type { Family } from '../core/types.js';

const ETHERNET_HEADER = 14;
const IPV4_MIN_HEADER = 20;
const IPV6_HEADER = 40;
const TCP_MIN_HEADER = 20;

export class TcpReplyView {
  bytes: Uint8Array = new Uint8Array(0);
  /** Where the IP header starts in `bytes` (after read()). */
  ipAt = 0;
  family: Family = 4;
  /** Where the source and destination addresses start in `bytes` (4 or 16 bytes each). */
  srcAt = 0;
  dstAt = 0;
  addrLen: 4 | 16 = 4;
  ttl = 0;
  srcPort = 0;
  dstPort = 0;
  seq = 0;
  ack = 0;
  flags = 0;
  window = 0;
  /** The TCP options, `bytes[optionsAt..optionsEnd)`. */
  optionsAt = 0;
  optionsEnd = 0;

  /** Reads `frame` (of `linkType`) if it is a plain TCP/IP packet; false: use the general parser. */
  read(frame: Uint8Array, linkType: number): boolean {
    let ip: number;
    if (linkType === LinkType.ETHERNET) {
      if (frame.length < ETHERNET_HEADER) return false;
      const etherType = (frame[12] << 8) | frame[13];
      if (etherType !== EtherType.IPV4 && etherType !== EtherType.IPV6) return false;
      ip = ETHERNET_HEADER;
    } else if (linkType === LinkType.RAW || linkType === LinkType.IPV4 || linkType === LinkType.IPV6) {
      ip = 0;
    } else {
      return false;
    }
    return this.readIp(frame, ip);
  }

  /** Reads the IP packet at `bytes[ip..]`. */
  readIp(bytes: Uint8Array, ip: number): boolean {
    const available = bytes.length - ip;
    if (available < IPV4_MIN_HEADER) return false;
    const version = bytes[ip] >> 4;
    let tcp: number;
    let end: number;
    if (version === 4) {
      const headerLen = (bytes[ip] & 0x0f) * 4;
      const totalLen = (bytes[ip + 2] << 8) | bytes[ip + 3];
      const fragmentOffset = ((bytes[ip + 6] & 0x1f) << 8) | bytes[ip + 7];
      // Ethernet pads short frames: the IP total length, not the frame, says where TCP ends.
      if (headerLen < IPV4_MIN_HEADER || totalLen < headerLen + TCP_MIN_HEADER || totalLen > available) return false;
      if (fragmentOffset !== 0 || bytes[ip + 9] !== IpProtocol.TCP) return false;
      // IP options are read past, but only when parseIpv4 would accept them too (a mutated IHL
      // once turned TCP ports into a bad "option" the view read through: seed 913031626).
      if (headerLen > IPV4_MIN_HEADER && !ipv4OptionBytesValid(bytes, ip + IPV4_MIN_HEADER, ip + headerLen)) return false;
      this.family = 4;
      this.addrLen = 4;
      this.ttl = bytes[ip + 8];
      this.srcAt = ip + 12;
      this.dstAt = ip + 16;
      tcp = ip + headerLen;
      end = ip + totalLen;
    } else if (version === 6) {
      if (available < IPV6_HEADER + TCP_MIN_HEADER) return false;
      const payloadLen = (bytes[ip + 4] << 8) | bytes[ip + 5];
      if (bytes[ip + 6] !== IpProtocol.TCP || payloadLen < TCP_MIN_HEADER || IPV6_HEADER + payloadLen > available) return false;
      this.family = 6;
      this.addrLen = 16;
      this.ttl = bytes[ip + 7];
      this.srcAt = ip + 8;
      this.dstAt = ip + 24;
      tcp = ip + IPV6_HEADER;
      end = tcp + payloadLen;
    } else {
      return false;
    }
    const headerLen = (bytes[tcp + 12] >> 4) * 4;
    if (headerLen < TCP_MIN_HEADER || tcp + headerLen > end) return false;
    // What parseTcp calls malformed (port 0, SYN with RST or FIN, bad options) is its to say.
    const srcPort = (bytes[tcp] << 8) | bytes[tcp + 1];
    const dstPort = (bytes[tcp + 2] << 8) | bytes[tcp + 3];
    const flags = ((bytes[tcp + 12] & 0x0f) << 8) | bytes[tcp + 13];
    if (srcPort === 0 || dstPort === 0) return false;
    if ((flags & TcpFlags.SYN) !== 0 && (flags & (TcpFlags.RST | TcpFlags.FIN)) !== 0) return false;
    if (headerLen > TCP_MIN_HEADER && !tcpOptionBytesValid(bytes, tcp + TCP_MIN_HEADER, tcp + headerLen)) return false;
    this.bytes = bytes;
    this.ipAt = ip;
    this.parsedOptions = undefined;
    this.srcPort = srcPort;
    this.dstPort = dstPort;
    this.seq = ((bytes[tcp + 4] << 24) | (bytes[tcp + 5] << 16) | (bytes[tcp + 6] << 8) | bytes[tcp + 7]) >>> 0;
    this.ack = ((bytes[tcp + 8] << 24) | (bytes[tcp + 9] << 16) | (bytes[tcp + 10] << 8) | bytes[tcp + 11]) >>> 0;
    // Twelve bits, as parseTcp reports them: three reserved, AE (RFC 9768) and the classic eight.
    this.flags = flags;
    this.window = (bytes[tcp + 14] << 8) | bytes[tcp + 15];
    this.optionsAt = tcp + TCP_MIN_HEADER;
    this.optionsEnd = tcp + headerLen;
    return true;
  }

  /**
   * Set by fromRepr: the general parser's options, already a list. Undefined after read(): the
   * options are then only the bytes at optionsAt..optionsEnd, known to parse.
   */
  parsedOptions: readonly TcpOption[] | undefined;
  private readonly scratch = new Uint8Array(32);

  /** Fills the view from the general parser's result (addresses copied into a scratch buffer). */
  fromRepr(family: Family, src: Uint8Array, dst: Uint8Array, ttl: number, tcp: TcpRepr): this {
    this.bytes = this.scratch;
    this.scratch.set(src, 0);
    this.scratch.set(dst, 16);
    this.family = family;
    this.addrLen = family === 4 ? 4 : 16;
    this.srcAt = 0;
    this.dstAt = 16;
    this.ttl = ttl;
    this.srcPort = tcp.srcPort;
    this.dstPort = tcp.dstPort;
    this.seq = tcp.seq;
    this.ack = tcp.ack;
    this.flags = tcp.flags;
    this.window = tcp.window;
    this.parsedOptions = tcp.options;
    return this;
  }
}
