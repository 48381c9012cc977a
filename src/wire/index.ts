// The packet layer, `tcp-shaker/wire`: pure functions over bytes, no I/O.
//
// Two levels per protocol (smoltcp's design): `XxxPacket` is a getter/setter view over a byte
// slice; `XxxRepr` is a small value that `parseXxx` fills from bytes and `emitXxx` writes back.
// Parsers take bytes from the wire and never throw: they return `Parsed<T>`, either
// `{ ok: true, value }` or `{ ok: false, reason, detail }`. Emitters and builders write into a
// caller-supplied buffer at an offset, return the length, and throw RangeError only on programmer
// error (a buffer too small, a field out of range).
//
// Buffer ownership: a parsed Repr holds copies (addresses, option data), never views of the input,
// so it stays valid after the capture library reuses its buffer. Views (`XxxPacket`, the
// `payload` getters, `ipPayload`) point into the input and die with it.
//
// Only the names below are public; helpers such as writeTcp or walkIpv6Chain are internal.

export type { Malformed, MalformedReason, Ok, Parsed, SerializeOptions, VerifyOptions } from './result.js';
export { malformed, ok } from './result.js';

export * as checksum from './checksum.js';

export { formatAddress, parseAddress } from './address.js';
export { EtherType, IpProtocol, protocolName } from './protocol.js';

export type { Ipv4Repr, Ipv4ReprInput } from './ipv4.js';
export { IPV4_HEADER_LEN, Ipv4Packet, ipv4Field, ipv4HeaderLen, ipv4OptionBytesValid, emitIpv4, parseIpv4 } from './ipv4.js';

export type { Ipv6ExtensionHeader, Ipv6Option, Ipv6Repr, Ipv6ReprInput } from './ipv6.js';
export {
  IPV6_HEADER_LEN,
  Ipv6Packet,
  emitIpv6,
  extensionHeaderLen as ipv6ExtensionHeaderLen,
  extensionHeaderProtocol as ipv6ExtensionHeaderProtocol,
  finalDestination as ipv6FinalDestination,
  ipv6Field,
  ipv6HeaderLen,
  parseIpv6,
} from './ipv6.js';

export type { IcmpQuote, IpDatagram } from './ip.js';
export { ipPayload, parseIp } from './ip.js';

export type { TcpOption, TcpOptionSummary, TcpParseOptions, TcpRepr, TcpReprInput, TcpSackBlock } from './tcp.js';
export {
  TCP_HEADER_LEN,
  TcpFlags,
  TcpOptionKind,
  TcpPacket,
  describeTcp,
  effectiveWindowScale as tcpEffectiveWindowScale,
  emitTcp,
  formatTcpFlags,
  formatTcpOption,
  linuxSynOptions,
  parseTcp,
  tcpOptionBytesValid,
  seqAdd,
  seqDiff,
  seqLessThan,
  summarizeTcpOptions,
  tcpField,
  tcpHeaderLen,
  tcpOptionLen,
  tcpOptionsLen,
} from './tcp.js';

export type { IcmpRepr, IcmpReprInput } from './icmp.js';
export { ICMP_HEADER_LEN, icmpField } from './icmp.js';
export { Icmpv4Type, Icmpv4Unreachable, describeIcmpv4, emitIcmpv4, parseIcmpv4 } from './icmpv4.js';
export { Icmpv6Type, Icmpv6Unreachable, describeIcmpv6, emitIcmpv6, parseIcmpv6 } from './icmpv6.js';

export type { EthernetRepr, EthernetReprInput } from './ethernet.js';
export { ETHERNET_HEADER_LEN, EthernetFrame, describeEthernet, emitEthernet, ethernetField, parseEthernet } from './ethernet.js';

export type { SllRepr, SllReprInput } from './sll.js';
export {
  SLL2_HEADER_LEN,
  SLL_HEADER_LEN,
  Sll2Header,
  SllHeader,
  SllPacketType,
  emitSll,
  emitSll2,
  parseSll,
  parseSll2,
  sll2Field,
  sllDirection,
  sllField,
} from './sll.js';

export type { IcmpErrorSpec, IpHeaderFields, RstSpec, SegmentEndpoints, SynSpec, TcpPacketSpec } from './segment.js';
export {
  LINUX_MSS_V4,
  LINUX_MSS_V6,
  LINUX_SYN_OPTIONS_V4,
  LINUX_SYN_OPTIONS_V6,
  LINUX_SYN_WINDOW_V4,
  LINUX_SYN_WINDOW_V6,
  LINUX_TTL,
  LINUX_WINDOW_SCALE,
  buildIcmpError,
  buildRst,
  buildSyn,
  buildTcpPacket,
  rstLength,
  synLength,
  tcpPacketLength,
} from './segment.js';

export { LinkType } from './link-type.js';
export { describePacket } from './describe.js';
export { PacketTemplate, type RstTemplateSpec, type SynTemplateSpec } from './packet-template.js';
