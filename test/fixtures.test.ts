// Every packet of every recorded fixture (real Linux kernels, checksum offload off) goes through
// the packet layer: it parses, every checksum verifies, and the IP and TCP/ICMP headers rebuilt
// from the parsed fields are byte-identical to what the kernel sent.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { readPcapFileSync, type PcapRecord } from '../src/capture/pcap-file.js';
import { ipPacket } from '../src/capture/link-layer.js';
import { describePacket } from '../src/wire/describe.js';
import { prng } from './wire/util.js';
import { SeedRun } from './helpers/seeds.js';
import {
  emitIpv4,
  emitIpv6,
  emitTcp,
  ipv6FinalDestination,
  parseIcmpv4,
  parseIcmpv6,
  parseIp,
  parseIpv4,
  parseIpv6,
  parseTcp,
} from '../src/wire/index.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

const files = ['ipv4', 'ipv6'].flatMap((dir) =>
  readdirSync(path.join(FIXTURES, dir))
    .filter((name) => name.endsWith('.pcap'))
    .map((name) => `${dir}/${name}`),
);

function ipBytes(linkType: number, record: PcapRecord): Uint8Array {
  const bytes = ipPacket(record.data, linkType);
  if (!bytes) throw new Error(`unreadable link layer (link type ${linkType})`);
  return bytes;
}

function filled(length: number): Uint8Array {
  return new Uint8Array(length).fill(0xa5);
}

test('every fixture directory holds the recorded cases', (t) => {
  for (const name of ['open', 'closed', 'unreachable']) {
    t.true(files.includes(`ipv4/${name}.pcap`), `ipv4/${name}.pcap`);
    t.true(files.includes(`ipv6/${name}.pcap`), `ipv6/${name}.pcap`);
  }
  t.true(files.includes('ipv6/extension-header.pcap'));
});

const fixture = test.macro({
  exec(t, file: string) {
    const pcap = readPcapFileSync(path.join(FIXTURES, file));
    t.is(pcap.damage, undefined);
    t.true(pcap.records.length > 0);
    let transportChecked = 0;
    for (const [i, record] of pcap.records.entries()) {
      const where = `${file} packet ${i + 1}`;
      const bytes = ipBytes(pcap.linkType, record);
      const datagram = parseIp(bytes, { verifyChecksum: true });
      if (!datagram.ok) {
        t.fail(`${where}: ${datagram.reason} (${datagram.detail})`);
        continue;
      }
      const d = datagram.value;

      // The IP header, rebuilt from its parsed fields.
      if (d.version === 4) {
        const ip = parseIpv4(bytes, { verifyChecksum: true });
        if (!ip.ok) return t.fail(`${where}: ${ip.reason}`);
        const out = filled(ip.value.headerLen + 4);
        const n = emitIpv4(out, 0, ip.value);
        t.is(n, ip.value.headerLen, `${where}: IPv4 header length`);
        t.deepEqual(out.subarray(0, n), bytes.subarray(0, n), `${where}: IPv4 header byte for byte`);
        t.deepEqual([...out.subarray(n)], [0xa5, 0xa5, 0xa5, 0xa5], `${where}: nothing written past the header`);
      } else {
        const ip = parseIpv6(bytes);
        if (!ip.ok) return t.fail(`${where}: ${ip.reason}`);
        const out = filled(ip.value.headerLen + 4);
        const n = emitIpv6(out, 0, ip.value);
        t.is(n, ip.value.headerLen, `${where}: IPv6 header + extension headers length`);
        t.deepEqual(out.subarray(0, n), bytes.subarray(0, n), `${where}: IPv6 header chain byte for byte`);
      }

      // Non-first fragments carry no transport header.
      if (d.fragmentOffset !== 0) continue;
      const payload = bytes.subarray(d.payloadOffset, d.payloadOffset + d.payloadLength);
      if (d.protocol === 6) {
        // RFC 8200 §8.1: with a routing header the pseudo-header uses the final destination.
        const v6 = d.version === 6 ? parseIpv6(bytes) : undefined;
        const pseudoDst = v6?.ok ? ipv6FinalDestination(d.dst, v6.value.extensionHeaders) : d.dst;
        const ip = { src: d.src, dst: pseudoDst };
        const tcp = parseTcp(payload, ip, { verifyChecksum: true });
        if (!tcp.ok) {
          t.fail(`${where}: TCP ${tcp.reason} (${tcp.detail})`);
          continue;
        }
        const out = filled(payload.length + 4);
        out.set(payload.subarray(tcp.value.headerLen), tcp.value.headerLen);
        const n = emitTcp(out, 0, tcp.value, ip);
        t.is(n, payload.length, `${where}: TCP length`);
        t.deepEqual(out.subarray(0, n), payload, `${where}: TCP header, options and checksum byte for byte`);
        transportChecked++;
      } else if (d.protocol === 1) {
        const icmp = parseIcmpv4(payload, { verifyChecksum: true });
        t.true(icmp.ok, `${where}: ICMPv4 parses and its checksum verifies`);
        if (icmp.ok) t.truthy(icmp.value.quoted, `${where}: the quoted SYN is parsed`);
        transportChecked++;
      } else if (d.protocol === 58) {
        const icmp = parseIcmpv6(payload, d, { verifyChecksum: true });
        t.true(icmp.ok, `${where}: ICMPv6 parses and its checksum verifies`);
        if (icmp.ok) t.truthy(icmp.value.quoted, `${where}: the quoted SYN is parsed`);
        transportChecked++;
      }
    }
    if (!file.includes('fragment')) t.true(transportChecked > 0, `${file}: transport headers checked`);
  },
  title: (_t, file: string) => `fixture ${file}: parse, verify every checksum, rebuild byte for byte`,
});

for (const file of files) test(fixture, file);

test('the quoted header of an ICMP error names the probe that caused it', (t) => {
  for (const [file, version] of [
    ['ipv4/unreachable.pcap', 4],
    ['ipv6/unreachable.pcap', 6],
  ] as const) {
    const pcap = readPcapFileSync(path.join(FIXTURES, file));
    for (let i = 0; i + 1 < pcap.records.length; i += 2) {
      const synBytes = ipBytes(pcap.linkType, pcap.records[i]);
      const errorBytes = ipBytes(pcap.linkType, pcap.records[i + 1]);
      const syn = parseIp(synBytes);
      const err = parseIp(errorBytes);
      if (!syn.ok || !err.ok) return t.fail(`${file}: unparsable`);
      const synTcp = parseTcp(synBytes.subarray(syn.value.payloadOffset, syn.value.payloadOffset + syn.value.payloadLength), syn.value);
      const msg = errorBytes.subarray(err.value.payloadOffset, err.value.payloadOffset + err.value.payloadLength);
      const icmp = version === 4 ? parseIcmpv4(msg) : parseIcmpv6(msg, err.value);
      if (!synTcp.ok || !icmp.ok || !icmp.value.quoted) return t.fail(`${file}: unparsable`);
      const q = icmp.value.quoted;
      t.deepEqual([...q.src], [...syn.value.src]);
      t.deepEqual([...q.dst], [...syn.value.dst]);
      t.is(q.srcPort, synTcp.value.srcPort);
      t.is(q.dstPort, synTcp.value.dstPort);
      t.is(q.seq, synTcp.value.seq, `${file}: the quoted sequence number is the SYN's`);
    }
  }
});

test('mutated fixture packets never make a parser throw', (t) => {
  const run = new SeedRun(t, [1, 2]);
  let parsed = 0;
  let rejected = 0;
  for (const seed of run) {
    const rnd = prng(seed);
    for (const file of files) {
      const pcap = readPcapFileSync(path.join(FIXTURES, file));
      for (const record of pcap.records) {
        const original = ipBytes(pcap.linkType, record);
        for (let round = 0; round < 300; round++) {
          const bytes = Uint8Array.from(original);
          const flips = 1 + Math.floor(rnd() * 4);
          for (let f = 0; f < flips; f++) bytes[Math.floor(rnd() * bytes.length)] = Math.floor(rnd() * 256);
          const cut = rnd() < 0.3 ? bytes.subarray(0, Math.floor(rnd() * bytes.length)) : bytes;
          try {
            describePacket(cut);
            const d = parseIp(cut, { verifyChecksum: rnd() < 0.5 });
            if (!d.ok) {
              rejected++;
              continue;
            }
            parsed++;
            const payload = cut.subarray(d.value.payloadOffset, d.value.payloadOffset + d.value.payloadLength);
            parseTcp(payload, d.value);
            parseIcmpv4(payload);
            parseIcmpv6(payload, d.value);
          } catch (error) {
            t.fail(`${run.where(seed)}, ${file}: a mutated packet threw ${String(error)}`);
            return;
          }
        }
      }
    }
  }
  run.inputs = parsed + rejected;
  run.done();
  t.log(`${parsed} mutants parsed, ${rejected} rejected as malformed`);
  t.true(rejected > 0, 'some mutants are reported malformed');
});
