// Every recorded fixture decoded three times: by src/wire (after our pcap/pcapng reader), by npm
// `pcap` (libpcap reads the file, node_pcap's decoders read the packets) and by npm `cap`'s
// decoders. Field for field, packet for packet, they must agree (test/helpers/oracles.ts).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { compareWithOracles, decodeWithCap, decodeWithNodePcap, decodeWithWire } from '../helpers/oracles.js';
import { LinkType } from '../../src/capture/pcap-file.js';

const fixtures = fileURLToPath(new URL('../../fixtures/', import.meta.url));
const files = ['ipv4', 'ipv6', 'pcapng'].flatMap((dir) =>
  fs
    .readdirSync(path.join(fixtures, dir))
    .filter((name) => /\.pcap(ng)?$/.test(name))
    // libpcap reads one link type per file; this one mixes three (see fixtures/README.md).
    .filter((name) => name !== 'mixed-link-types.pcapng')
    .map((name) => `${dir}/${name}`),
);

const agrees = test.macro({
  async exec(t, file: string) {
    const report = await compareWithOracles(path.join(fixtures, file));
    t.log(`${report.packets} packets, ${report.comparedWithPcap} fields compared with pcap, ${report.comparedWithCap} with cap`);
    t.deepEqual(report.mismatches, []);
    t.true(report.packets > 0);
    // node_pcap has no decoder for the IPv6 fragment header: it stops at the IP header there.
    t.is(report.shallow.pcap, file === 'ipv6/fragment.pcap' ? 2 : 0, 'node_pcap decoded past the addresses in every packet');
    t.is(report.shallow.cap, 0, 'cap decoded past the addresses in every packet');
  },
  title: (_p, file: string) => `${file}: src/wire agrees with npm pcap and npm cap`,
});
for (const file of files) test(agrees, file);

test('the oracles see a difference: a changed byte is caught', (t) => {
  // The SYN-ACK of ipv4/open.pcap as bare IP, then with its window changed in our copy only.
  const frame = fs.readFileSync(path.join(fixtures, 'ipv4/open.pcap')).subarray(24 + 16 + 74 + 16, 24 + 16 + 74 + 16 + 74);
  const ip = Buffer.from(frame.subarray(14));
  const ours = decodeWithWire(ip, LinkType.RAW);
  t.is(ours.window, 65160);
  t.like(decodeWithNodePcap(ip, 'LINKTYPE_RAW'), { window: 65160, mss: 1460, windowScale: 10, sackPermitted: true });
  t.like(decodeWithCap(ip, LinkType.RAW), { window: 65160, srcPort: 80, dstPort: 40001 });
  const changed = Buffer.from(ip);
  changed[20 + 14] ^= 0xff;
  t.not(decodeWithWire(changed, LinkType.RAW).window, decodeWithNodePcap(ip, 'LINKTYPE_RAW').window);
});
