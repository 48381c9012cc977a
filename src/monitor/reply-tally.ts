// Counts TCP answers (SYN-ACK or RST) per remote address and port, fed by the raw engine's
// onPacket hook. The monitor compares the count with the answers its checks reported: the
// surplus is what smokeping calls duplicates (a SYN-ACK retransmitted because our RST was lost,
// two answers to a retransmitted SYN...). The engine reports one outcome per probe and hides
// the rest, so this is the only place they show.
import { formatAddress, parseAddress, parseIp, parseTcp, TcpFlags } from '../wire/index.js';

const TCP = 6;

export class ReplyTally {
  private readonly counts = new Map<string, number>();

  /** Give this to RawStrategyOptions.onPacket (directly or from a hook of your own). */
  readonly onPacket = (direction: 'sent' | 'received', bytes: Uint8Array): void => {
    if (direction !== 'received') return;
    const ip = parseIp(bytes, { verifyChecksum: false });
    if (!ip.ok || ip.value.protocol !== TCP || ip.value.fragmentOffset !== 0) return;
    const d = ip.value;
    const tcp = parseTcp(bytes.subarray(d.payloadOffset, d.payloadOffset + d.payloadLength), d, {
      verifyChecksum: false,
      parseOptions: false,
    });
    if (!tcp.ok) return;
    const flags = tcp.value.flags;
    const synAck = (flags & (TcpFlags.SYN | TcpFlags.ACK)) === (TcpFlags.SYN | TcpFlags.ACK);
    if (!synAck && !(flags & TcpFlags.RST)) return;
    const key = `${formatAddress(d.src)}|${tcp.value.srcPort}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  };

  /** Answers counted from ip:port since the last take, and forgets them. */
  take(ip: string, port: number): number {
    const bytes = parseAddress(ip);
    const key = `${bytes ? formatAddress(bytes) : ip}|${port}`;
    const n = this.counts.get(key) ?? 0;
    this.counts.delete(key);
    return n;
  }
}
