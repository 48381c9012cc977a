import test from 'ava';
import { PacketTemplate, type SynTemplateSpec } from '../../src/wire/packet-template.js';
import { buildRst, buildSyn } from '../../src/wire/segment.js';
import type { TcpOption } from '../../src/wire/tcp.js';
import { parseIp, ipPayload } from '../../src/wire/ip.js';
import { parseTcp } from '../../src/wire/tcp.js';
import { SeedRun } from '../helpers/seeds.js';

// A seeded generator, so a failure names a reproducible case.
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 0x100000000;
  };
}

function bytes(random: () => number, n: number): Uint8Array {
  return Uint8Array.from({ length: n }, () => Math.floor(random() * 256));
}

const u32 = (random: () => number) => Math.floor(random() * 0x100000000) >>> 0;
// Ports from 1: parseTcp rejects port 0 (as Linux does), and the checks parse what was written
// (npm run fuzz found the 0 a 0..65535 draw gave one packet in 32768).
const port = (random: () => number) => 1 + Math.floor(random() * 0xffff);

const specs: [string, SynTemplateSpec][] = [
  ['Linux defaults', {}],
  ['ttl, window, tos, no DF', { ttl: 3, window: 1024, tos: 0x10, dontFragment: false }],
  ['custom options without TS', { options: [{ kind: 'mss', mss: 536 } satisfies TcpOption] }],
  ['fixed TS value', { tsVal: 0x01020304 }],
];

for (const family of [4, 6] as const) {
  for (const [name, spec] of specs) {
    test(`IPv${family} SYN template (${name}) writes what buildSyn writes`, (t) => {
      const template = PacketTemplate.syn(family, spec)!;
      const viaTemplate = new Uint8Array(256).fill(0xa5);
      const viaBuilder = new Uint8Array(256).fill(0xa5);
      let last = new Uint8Array(0);
      const run = new SeedRun(t, [family * 100 + name.length]);
      for (const seed of run) {
        const random = rng(seed);
        for (let i = 0; i < 500; i++) {
          const len = family === 4 ? 4 : 16;
          const src = bytes(random, len);
          const dst = bytes(random, len);
          const [srcPort, dstPort, seq, now] = [port(random), port(random), u32(random), u32(random)];
          const offset = Math.floor(random() * 64);
          const a = template.write(viaTemplate, offset, src, 0, dst, 0, srcPort, dstPort, seq, now);
          const b = buildSyn(viaBuilder, offset, { ...spec, src, dst, srcPort, dstPort, seq, tsVal: spec.tsVal ?? (spec.options ? undefined : now) });
          t.is(a, b);
          t.is(a, template.length);
          if (Buffer.compare(viaTemplate, viaBuilder) !== 0) {
            t.fail(`${run.where(seed)} case ${i}: template ${Buffer.from(viaTemplate.subarray(offset, offset + a)).toString('hex')} builder ${Buffer.from(viaBuilder.subarray(offset, offset + b)).toString('hex')}`);
            return;
          }
          last = viaTemplate.slice(offset, offset + a);
          run.inputs++;
        }
      }
      run.done();
      // The last packet parses with both checksums verified.
      const ip = parseIp(last);
      t.true(ip.ok);
      if (ip.ok) t.true(parseTcp(ipPayload(last, ip.value), ip.value, { verifyChecksum: true }).ok);
    });
  }

  test(`IPv${family} RST template writes what buildRst writes, checksums verify`, (t) => {
    const template = PacketTemplate.rst(family);
    const viaTemplate = new Uint8Array(128);
    const viaBuilder = new Uint8Array(128);
    const run = new SeedRun(t, [family]);
    for (const seed of run) {
      const random = rng(seed);
      for (let i = 0; i < 500; i++) {
        const len = family === 4 ? 4 : 16;
        const src = bytes(random, len);
        const dst = bytes(random, len);
        const [srcPort, dstPort, seq] = [port(random), port(random), u32(random)];
        const a = template.write(viaTemplate, 0, src, 0, dst, 0, srcPort, dstPort, seq, 0);
        const b = buildRst(viaBuilder, 0, { src, dst, srcPort, dstPort, seq });
        run.inputs++;
        t.is(a, b, run.where(seed));
        t.deepEqual(viaTemplate.subarray(0, a), viaBuilder.subarray(0, b));
        const ip = parseIp(viaTemplate.subarray(0, a));
        t.true(ip.ok, run.where(seed));
        if (ip.ok) t.true(parseTcp(ipPayload(viaTemplate.subarray(0, a), ip.value), ip.value, { verifyChecksum: true }).ok, run.where(seed));
      }
    }
    run.done();
  });
}

test('a SYN with IPv6 extension headers has no template: the engine uses buildSyn', (t) => {
  t.is(PacketTemplate.syn(6, { extensionHeaders: [] } as SynTemplateSpec), undefined);
});
