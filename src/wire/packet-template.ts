// A SYN or RST built once and stamped out per probe: the same bytes buildSyn/buildRst would write,
// at a fraction of their cost. The engine sends one SYN and one RST per check, and at 100k checks
// a second the generic builders' work (option lists, length arithmetic, a Repr-free but general
// header writer) is a large share of the event loop. A template copies its bytes, writes the
// fields that differ per packet — addresses, ports, sequence number, IP id or flow label, the TS
// option's clock — and recomputes both checksums over the few words that cover them.
//
// Only plain packets: no IPv6 extension headers, no payload. The engine falls back to the
// builders for anything else; test/wire/packet-template.test.ts holds the two byte-identical.
import { finish, fold, sum } from './checksum.js';
import { ipv4Field, IPV4_HEADER_LEN } from './ipv4.js';
import { IPV6_HEADER_LEN } from './ipv6.js';
import { buildRst, buildSyn, defaultFlowLabel, defaultIpId, type RstSpec, type SynSpec } from './segment.js';
import { IpProtocol } from './protocol.js';
import { tcpField } from './tcp.js';

/** What a template fixes: everything of a SynSpec except the per-probe fields. */
export type SynTemplateSpec = Omit<SynSpec, 'src' | 'dst' | 'srcPort' | 'dstPort' | 'seq' | 'extensionHeaders' | 'ipId' | 'flowLabel'>;
export type RstTemplateSpec = Omit<RstSpec, 'src' | 'dst' | 'srcPort' | 'dstPort' | 'seq' | 'extensionHeaders' | 'ipId' | 'flowLabel'>;

/** IPv6 header offsets the template writes (RFC 8200 §3). */
const IPV6_SOURCE = 8;
const IPV6_DESTINATION = 24;

export class PacketTemplate {
  /** The packet for all-zero addresses, ports and sequence number. */
  private readonly bytes: Uint8Array;
  private readonly ipLen: number;
  /** Offset of the TS option's value in the packet, or -1 when there is none to keep fresh. */
  private readonly tsValAt: number;
  /** Whether the IP id / flow label follow the SYN defaults (derived from seq) or stay 0. */
  private readonly derivedIds: boolean;
  /**
   * One's-complement sums of the parts that never change: the IPv4 header and the TCP segment
   * plus its pseudo-header's protocol and length, with every per-packet field (and the
   * checksums) zero. A packet's checksums add only its own fields' words to these.
   */
  private readonly ipBaseSum: number;
  private readonly tcpBaseSum: number;

  private constructor(
    readonly family: 4 | 6,
    build: (src: Uint8Array, dst: Uint8Array, tsVal: number | undefined) => Uint8Array,
    derivedIds: boolean,
  ) {
    const zero = new Uint8Array(family === 4 ? 4 : 16);
    this.bytes = build(zero, zero, 0);
    this.ipLen = family === 4 ? IPV4_HEADER_LEN : IPV6_HEADER_LEN;
    this.derivedIds = derivedIds;
    // Where the clock goes: the one place a packet built with another TS value differs, beyond
    // the checksum (found by building it, so it follows whatever option order the spec has).
    const other = build(zero, zero, 0xffffffff);
    const checksumAt = this.ipLen + tcpField.CHECKSUM;
    let at = -1;
    for (let i = this.ipLen; i < other.length; i++) {
      if (other[i] !== this.bytes[i] && i !== checksumAt && i !== checksumAt + 1) {
        at = i;
        break;
      }
    }
    this.tsValAt = at;
    const zeroed = this.bytes.slice();
    zeroed[this.ipLen + tcpField.CHECKSUM] = 0;
    zeroed[this.ipLen + tcpField.CHECKSUM + 1] = 0;
    if (family === 4) {
      zeroed[ipv4Field.CHECKSUM] = 0;
      zeroed[ipv4Field.CHECKSUM + 1] = 0;
    }
    this.ipBaseSum = family === 4 ? sum(zeroed, 0, 0, IPV4_HEADER_LEN) : 0;
    this.tcpBaseSum = sum(zeroed, IpProtocol.TCP + (zeroed.length - this.ipLen), this.ipLen, zeroed.length);
  }

  /** The SYN of `spec`, for one family; undefined when it needs the general builder. */
  static syn(family: 4 | 6, spec: SynTemplateSpec = {}): PacketTemplate | undefined {
    const general = spec as Partial<SynSpec>;
    // Extension headers change the layout; a fixed IP id or flow label is the builder's job too.
    if (general.extensionHeaders !== undefined || general.ipId !== undefined || general.flowLabel !== undefined) return undefined;
    const fixedTs = spec.tsVal !== undefined || spec.options !== undefined;
    return new PacketTemplate(
      family,
      (src, dst, tsVal) => {
        const buf = new Uint8Array(128);
        const len = buildSyn(buf, 0, { ...spec, src, dst, srcPort: 0, dstPort: 0, seq: 0, tsVal: fixedTs ? spec.tsVal : tsVal, ipId: 0, flowLabel: 0 });
        return buf.slice(0, len);
      },
      true,
    );
  }

  /** The bare RST of `spec`, for one family. */
  static rst(family: 4 | 6, spec: RstTemplateSpec = {}): PacketTemplate {
    return new PacketTemplate(
      family,
      (src, dst) => {
        const buf = new Uint8Array(80);
        const len = buildRst(buf, 0, { ...spec, src, dst, srcPort: 0, dstPort: 0, seq: 0, ipId: 0, flowLabel: 0 });
        return buf.slice(0, len);
      },
      false,
    );
  }

  get length(): number {
    return this.bytes.length;
  }

  /**
   * Writes the packet at `buf[offset..]` and returns its length. The addresses are read at
   * `src[srcAt..]` and `dst[dstAt..]` (4 or 16 bytes), so they can sit in a table's column.
   * `tsVal` is the TS option's value
   * (ignored when the template has none); the IP id (IPv4) or flow label (IPv6) are derived from
   * the ports and `seq` as buildSyn does, or 0 for a RST.
   */
  write(
    buf: Uint8Array,
    offset: number,
    src: Uint8Array,
    srcAt: number,
    dst: Uint8Array,
    dstAt: number,
    srcPort: number,
    dstPort: number,
    seq: number,
    tsVal: number,
  ): number {
    const bytes = this.bytes;
    const len = bytes.length;
    buf.set(bytes, offset);
    const tcp = offset + this.ipLen;
    // The addresses' words, summed while they are copied: both checksums need them.
    let addressSum = 0;
    if (this.family === 4) {
      for (let i = 0; i < 4; i++) {
        buf[offset + ipv4Field.SRC_ADDR + i] = src[srcAt + i];
        buf[offset + ipv4Field.DST_ADDR + i] = dst[dstAt + i];
      }
      addressSum = ((src[srcAt] << 8) | src[srcAt + 1]) + ((src[srcAt + 2] << 8) | src[srcAt + 3]);
      addressSum += ((dst[dstAt] << 8) | dst[dstAt + 1]) + ((dst[dstAt + 2] << 8) | dst[dstAt + 3]);
      let id = 0;
      if (this.derivedIds) {
        id = defaultIpId(seq);
        buf[offset + ipv4Field.IDENT] = id >>> 8;
        buf[offset + ipv4Field.IDENT + 1] = id & 0xff;
      }
      const ipChecksum = finish(fold(this.ipBaseSum + addressSum + id));
      buf[offset + ipv4Field.CHECKSUM] = ipChecksum >>> 8;
      buf[offset + ipv4Field.CHECKSUM + 1] = ipChecksum & 0xff;
    } else {
      for (let i = 0; i < 16; i += 2) {
        const s0 = src[srcAt + i];
        const s1 = src[srcAt + i + 1];
        const d0 = dst[dstAt + i];
        const d1 = dst[dstAt + i + 1];
        buf[offset + IPV6_SOURCE + i] = s0;
        buf[offset + IPV6_SOURCE + i + 1] = s1;
        buf[offset + IPV6_DESTINATION + i] = d0;
        buf[offset + IPV6_DESTINATION + i + 1] = d1;
        addressSum += ((s0 << 8) | s1) + ((d0 << 8) | d1);
      }
      if (this.derivedIds) {
        const label = defaultFlowLabel(srcPort, dstPort, seq);
        buf[offset + 1] = (bytes[1] & 0xf0) | ((label >>> 16) & 0x0f);
        buf[offset + 2] = (label >>> 8) & 0xff;
        buf[offset + 3] = label & 0xff;
      }
    }
    buf[tcp] = srcPort >>> 8;
    buf[tcp + 1] = srcPort & 0xff;
    buf[tcp + 2] = dstPort >>> 8;
    buf[tcp + 3] = dstPort & 0xff;
    buf[tcp + 4] = seq >>> 24;
    buf[tcp + 5] = (seq >>> 16) & 0xff;
    buf[tcp + 6] = (seq >>> 8) & 0xff;
    buf[tcp + 7] = seq & 0xff;
    let tcpSum = this.tcpBaseSum + addressSum + srcPort + dstPort + (seq >>> 16) + (seq & 0xffff);
    const ts = this.tsValAt;
    if (ts >= 0) {
      buf[offset + ts] = tsVal >>> 24;
      buf[offset + ts + 1] = (tsVal >>> 16) & 0xff;
      buf[offset + ts + 2] = (tsVal >>> 8) & 0xff;
      buf[offset + ts + 3] = tsVal & 0xff;
      // A custom option list may put the value at an odd offset: its bytes then pair up the
      // other way round in the 16-bit words the checksum adds.
      tcpSum += (ts - this.ipLen) % 2 === 0
        ? (tsVal >>> 16) + (tsVal & 0xffff)
        : (tsVal >>> 24) + ((tsVal >>> 8) & 0xffff) + ((tsVal & 0xff) << 8);
    }
    const tcpChecksum = finish(fold(tcpSum));
    buf[tcp + tcpField.CHECKSUM] = tcpChecksum >>> 8;
    buf[tcp + tcpField.CHECKSUM + 1] = tcpChecksum & 0xff;
    return len;
  }
}
