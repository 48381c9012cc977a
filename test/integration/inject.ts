// Sends forged replies from inside the server namespace, through the project's own raw socket
// and packet builders, to show the engine ignores everything that does not match its probe.
// Started before the probe and fed on stdin, so a forged reply goes out milliseconds after the
// probe's SYN is seen, however long node takes to start on a loaded machine. It prints
// {"ready":true} once it can send; then each stdin line is a JSON array of packets, answered with
// {"sent":n} once they are on the wire, in order:
//   { kind: 'tcp', src, dst, srcPort, dstPort, seq, ack, flags }   (flags as a number)
//   { kind: 'icmp-about-syn', src, dst, type, code, synSrc, synDst, synSrcPort, synDstPort, synSeq }
import readline from 'node:readline';
import { native } from '../../src/native/addon.js';
import { buildIcmpError, buildSyn, buildTcpPacket, parseAddress } from '../../src/wire/index.js';

type Packet =
  | { kind: 'tcp'; src: string; dst: string; srcPort: number; dstPort: number; seq: number; ack: number; flags: number }
  | {
      kind: 'icmp-about-syn';
      src: string;
      dst: string;
      type: number;
      code: number;
      synSrc: string;
      synDst: string;
      synSrcPort: number;
      synDstPort: number;
      synSeq: number;
    };

const addr = (text: string): Uint8Array => {
  const a = parseAddress(text);
  if (!a) throw new Error(`bad address ${text}`);
  return a;
};

function send(packets: Packet[]): number {
  const buf = new Uint8Array(2048);
  let sent = 0;
  for (const p of packets) {
    const dst = addr(p.dst);
    let len: number;
    if (p.kind === 'tcp') {
      len = buildTcpPacket(buf, 0, { src: addr(p.src), dst, srcPort: p.srcPort, dstPort: p.dstPort, seq: p.seq, ack: p.ack, flags: p.flags, window: 65535 });
    } else {
      const syn = new Uint8Array(256);
      const synLen = buildSyn(syn, 0, { src: addr(p.synSrc), dst: addr(p.synDst), srcPort: p.synSrcPort, dstPort: p.synDstPort, seq: p.synSeq });
      len = buildIcmpError(buf, 0, { src: addr(p.src), dst, type: p.type, code: p.code, original: syn.subarray(0, synLen) });
    }
    const fd = native().openRaw(dst.length === 4 ? 4 : 6, 0);
    if (fd < 0) throw new Error(`openRaw failed: ${fd}`);
    const rc = native().send(fd, buf.subarray(0, len), dst);
    native().close(fd);
    if (rc !== len) throw new Error(`send failed: ${rc}`);
    sent++;
  }
  return sent;
}

// Load the addon before saying ready, so the first send does not pay for it.
native();
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
for await (const line of readline.createInterface({ input: process.stdin })) {
  if (line.trim() === '') continue;
  process.stdout.write(`${JSON.stringify({ sent: send(JSON.parse(line) as Packet[]) })}\n`);
}
