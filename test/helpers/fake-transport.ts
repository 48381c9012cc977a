// An in-memory RawTransport for the raw engine's unit tests: it sends nothing and records a
// copy of every committed packet, so a test can read back the SYNs and RSTs the engine built.
//
// reserve() hands out room at a non-zero offset in a buffer refilled with 0xa5 each time
// (smoltcp's test_emit trick): an engine that ignores `offset` or leaves bytes unwritten
// produces packets that fail to parse.
import type { RawTransport, PacketSlot } from '../../src/native/sender.js';
import type { Family } from '../../src/core/types.js';
import { parseIp, parseTcp, TcpFlags, type IpDatagram, type TcpRepr } from '../../src/wire/index.js';

export interface SentPacket {
  family: Family;
  /** A copy of the committed bytes: a whole IP packet. */
  bytes: Uint8Array;
  /** A copy of the destination the engine addressed the packet to. */
  dst: Uint8Array;
  tag: number;
  /** Parsed on commit (checksums verified): the engine must emit valid packets. */
  ip: IpDatagram;
  tcp: TcpRepr;
}

const SLOT_OFFSET = 13;

export class FakeTransport implements RawTransport {
  readonly sent: SentPacket[] = [];
  /** Packets that did not parse as IP + TCP with valid checksums (should stay empty). */
  readonly unparsable: Array<{ bytes: Uint8Array; reason: string }> = [];
  closed = false;
  /** What the engine last said about its load (RawTransport.busy). */
  busy = false;
  flushes = 0;
  private scratch = new Uint8Array(256);
  private reservedFamily: Family | undefined;
  private reservedLength = 0;

  reserve(family: Family, maxLength: number): PacketSlot {
    if (this.closed) throw new Error('FakeTransport: reserve() after close()');
    if (this.scratch.length < SLOT_OFFSET + maxLength) this.scratch = new Uint8Array(SLOT_OFFSET + maxLength);
    this.scratch.fill(0xa5);
    this.reservedFamily = family;
    this.reservedLength = maxLength;
    return { buf: this.scratch, offset: SLOT_OFFSET };
  }

  commit(family: Family, length: number, tag: number, _generation = 0): void {
    if (this.closed) throw new Error('FakeTransport: commit() after close()');
    if (this.reservedFamily !== family) throw new Error(`FakeTransport: commit(${family}) without reserve(${family})`);
    if (length > this.reservedLength) throw new Error(`FakeTransport: committed ${length} bytes into a ${this.reservedLength}-byte reservation`);
    this.reservedFamily = undefined;
    const bytes = this.scratch.slice(SLOT_OFFSET, SLOT_OFFSET + length);
    const ip = parseIp(bytes);
    const tcp = ip.ok ? parseTcp(bytes.subarray(ip.value.payloadOffset, ip.value.payloadOffset + ip.value.payloadLength), ip.value) : undefined;
    if (!ip.ok || !tcp?.ok) {
      this.unparsable.push({ bytes, reason: !ip.ok ? ip.detail : tcp && !tcp.ok ? tcp.detail : 'no TCP' });
      return;
    }
    this.sent.push({ family, bytes, dst: ip.value.dst.slice(), tag, ip: ip.value, tcp: tcp.value });
  }

  flush(): void {
    this.flushes++;
  }

  close(): void {
    this.closed = true;
  }

  stats(): { packetsSent: number; batches: number; sendErrors: number; deferred: number } {
    return { packetsSent: this.sent.length, batches: this.flushes, sendErrors: 0, deferred: 0 };
  }

  /** SYNs (SYN set, ACK clear) in the order they were committed. */
  get syns(): SentPacket[] {
    return this.sent.filter((p) => (p.tcp.flags & (TcpFlags.SYN | TcpFlags.ACK)) === TcpFlags.SYN);
  }

  get rsts(): SentPacket[] {
    return this.sent.filter((p) => (p.tcp.flags & TcpFlags.RST) !== 0);
  }
}
