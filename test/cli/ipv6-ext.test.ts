// The SYN-shaping flags: parsing (every mistake exits 2 with one line), the headers they build,
// and the RFC 7872 experiment on the testbed: the server namespace drops IPv6 packets carrying a
// destination options header (nftables `exthdr dst exists drop`), so checks with
// `--ipv6-ext dest` time out where the same checks without it, or with other headers, do not.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { parseCli, USAGE, UsageError } from '../../src/cli/args.js';
import { checkerOptions } from '../../src/cli/prepare.js';
import { parseIpv6Extensions, parseSynOptions } from '../../src/cli/syn-flags.js';
import { readCaptureFile } from '../../src/capture/capture-file.js';
import { ipPacket } from '../../src/capture/link-layer.js';
import { buildSyn, ipv6ExtensionHeaderLen, parseAddress, parseIpv6, parseTcp } from '../../src/wire/index.js';
import { findNft } from '../../src/firewall/nft-command.js';
import { privilegedTest, withTestbed } from '../helpers/testbed.js';
import { compareWithOracles } from '../helpers/oracles.js';
import { CLI, cliHere } from './cli-runner.js';

test('the flags map onto raw.syn and raw.sourcePorts, and make auto mean raw', (t) => {
  const options = parseCli(['[2001:2::2]:80', '--ipv6-ext', 'hbh:16,dest,frag,route:24', '--syn-options', 'mss:1220,sack,nop,ws:14', '--ttl', '3', '--window', '1024', '--source-ports', '61000-61099']);
  t.is(options.family, 6, '--ipv6-ext makes the run IPv6-only');
  const raw = checkerOptions(options, 6, undefined).raw!;
  t.is(checkerOptions(options, 6, undefined).strategy, 'raw');
  t.deepEqual(raw.sourcePorts, [61000, 61099]);
  t.like(raw.syn, { ttl: 3, window: 1024 });
  t.deepEqual(raw.syn!.options, [{ kind: 'mss', mss: 1220 }, { kind: 'sack-permitted' }, { kind: 'nop' }, { kind: 'window-scale', shift: 14 }]);
  t.deepEqual(raw.syn!.extensionHeaders!.map((h) => [h.kind, ipv6ExtensionHeaderLen(h)]), [
    ['hop-by-hop', 16],
    ['destination', 8],
    ['fragment', 8],
    ['routing', 24],
  ]);
  t.deepEqual(parseSynOptions('none'), []);
  for (const flag of ['--ipv6-ext', '--syn-options', '--ttl', '--window', '--source-ports']) t.true(USAGE.includes(flag), flag);
});

test('extension headers of every size parse back from a built SYN, each option header with at most 7 bytes of padding', (t) => {
  for (const size of [8, 16, 24, 64, 256, 264, 272, 1024, 2048]) {
    const exts = parseIpv6Extensions(`hbh:${size},dest:${size},route:${size},frag`);
    const buf = new Uint8Array(8192);
    const src = parseAddress('2001:2::1')!;
    const dst = parseAddress('2001:2::2')!;
    const len = buildSyn(buf, 0, { src, dst, srcPort: 61000, dstPort: 80, seq: 1, extensionHeaders: exts });
    const ip = parseIpv6(buf.subarray(0, len));
    if (!ip.ok) return t.fail(`${size}: ${ip.detail}`);
    t.deepEqual(ip.value.extensionHeaders.map((h) => [h.kind, ipv6ExtensionHeaderLen(h)]), [
      ['hop-by-hop', size],
      ['destination', size],
      ['routing', size],
      ['fragment', 8],
    ]);
    for (const h of ip.value.extensionHeaders) {
      if (h.kind !== 'hop-by-hop' && h.kind !== 'destination') continue;
      // Linux drops option headers with more than 7 padding bytes in a row (net/ipv6/exthdrs.c).
      const padding = h.options.filter((o) => o.type === 0 || o.type === 1).reduce((n, o) => n + (o.type === 0 ? 1 : 2 + o.data.length), 0);
      t.true(padding <= 7, `${h.kind}:${size} has ${padding} bytes of padding`);
    }
    const tcp = parseTcp(buf.subarray(ip.value.headerLen, len), ip.value);
    t.true(tcp.ok && tcp.value.dstPort === 80);
  }
});

const refused = test.macro({
  exec(t, args: string[], message: RegExp) {
    t.throws(() => parseCli(args), { instanceOf: UsageError, message });
    const r = cliHere(args);
    t.is(r.code, 2, r.stderr);
    t.regex(r.stderr, message);
    t.is(r.stderr.trim().split('\n').length, 2, `one line and the --help hint:\n${r.stderr}`);
  },
  title: (_p, args: string[]) => `refused: ${args.join(' ')}`,
});
test(refused, ['[2001:2::2]:80', '--ipv6-ext', 'bogus'], /not one of hbh, dest, frag, route/);
test(refused, ['[2001:2::2]:80', '--ipv6-ext', 'hbh:12'], /multiple of 8 from 8 to 2048/);
test(refused, ['[2001:2::2]:80', '--ipv6-ext', 'dest:4096'], /multiple of 8 from 8 to 2048/);
test(refused, ['[2001:2::2]:80', '--ipv6-ext', 'frag:16'], /fragment header is always 8 bytes/);
test(refused, ['[2001:2::2]:80', '--ipv6-ext', ''], /--ipv6-ext needs a list/);
test(refused, ['198.18.0.2:80', '--ipv6-ext', 'hbh'], /198\.18\.0\.2:80 is an IPv4 target/);
test(refused, ['localhost:80', '--ipv6-ext', 'hbh', '-4'], /--ipv6-ext and -4 exclude each other/);
test(refused, ['[2001:2::2]:80', '--ipv6-ext', 'hbh', '--strategy', 'socket'], /--ipv6-ext needs the raw strategy/);
test(refused, ['198.18.0.2:80', '--syn-options', 'mss'], /--syn-options mss must be a whole number from 1 to 65535/);
test(refused, ['198.18.0.2:80', '--syn-options', 'sack:1'], /sack takes no value/);
test(refused, ['198.18.0.2:80', '--syn-options', 'fastopen'], /not one of mss:N, ws:N, sack, ts, nop, eol/);
test(refused, ['198.18.0.2:80', '--ttl', '0'], /--ttl must be a whole number from 1 to 255, got "0"/);
test(refused, ['198.18.0.2:80', '--window', '65536'], /--window must be a whole number from 0 to 65535/);
test(refused, ['198.18.0.2:80', '--source-ports', '61000'], /--source-ports wants LO-HI/);
test(refused, ['198.18.0.2:80', '--source-ports', '62000-61000'], /--source-ports wants LO-HI/);
test(refused, ['198.18.0.2:80', '--ttl', '9', '--strategy', 'connect'], /--ttl needs the raw strategy/);

function tempDir(t: ExecutionContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tshk-ext-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function jsonLines(stdout: string): Array<Record<string, unknown>> {
  return stdout.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
}

privilegedTest('a server that drops destination-options headers: verdicts differ only with --ipv6-ext dest', async (t) => {
  const tb = await withTestbed(t);
  const server = await tb.startServer({ port: 80 });
  const s6 = tb.address('server', 6);
  // RFC 7872's middlebox, in the server namespace (deleted with it): drop IPv6 packets that carry
  // a destination options header, before the TCP stack sees them.
  await tb.exec('server', [findNft(), '-f', '-'], {
    input: 'table inet read_exthdr {\n  chain input {\n    type filter hook input priority -10; policy accept;\n    exthdr dst exists drop\n  }\n}\n',
  });
  const dir = tempDir(t);
  const capture = await tb.capture({ filter: 'ip6', file: path.join(dir, 'server.pcap'), snapLen: 4096 });
  const targets = [`[${s6}]:80`, `[${s6}]:79`];
  const run = async (extra: string[]): Promise<Record<string, string>> => {
    const r = await tb.execNode(CLI, ['--json', '-t', '800', '--retries', '1', ...extra, ...targets]);
    t.true(r.code === 0 || r.code === 1, r.stderr);
    return Object.fromEntries(jsonLines(r.stdout).map((c) => [`${c.port}`, `${c.status}`]));
  };
  const plain = await run([]);
  const verdicts = {
    plain,
    dest: await run(['--ipv6-ext', 'dest']),
    dest64: await run(['--ipv6-ext', 'hbh,dest:64']),
    hbh: await run(['--ipv6-ext', 'hbh:16']),
    frag: await run(['--ipv6-ext', 'frag']),
    route: await run(['--ipv6-ext', 'route:24']),
    shaped: await run(['--syn-options', 'mss:1220,nop,ws:3', '--ttl', '7', '--window', '512', '--source-ports', '61000-61009']),
  };
  const result = await capture.stop(200);
  t.log(JSON.stringify(verdicts));
  t.deepEqual(plain, { 80: 'open', 79: 'closed' });
  t.deepEqual(verdicts.dest, { 80: 'timeout', 79: 'timeout' }, 'the destination options header is dropped');
  t.deepEqual(verdicts.dest64, { 80: 'timeout', 79: 'timeout' });
  for (const name of ['hbh', 'frag', 'route', 'shaped'] as const) t.deepEqual(verdicts[name], plain, `--ipv6-ext ${name}: not dropped, same verdicts`);

  // On the wire (server side): the SYNs carried exactly the headers asked for.
  const file = await readCaptureFile(result.path);
  const syns = file.packets.flatMap((p) => {
    const ip = parseIpv6(ipPacket(p.data, p.linkType)!);
    if (!ip.ok) return [];
    const tcp = parseTcp(ipPacket(p.data, p.linkType)!.subarray(ip.value.headerLen), ip.value, { verifyChecksum: false });
    return tcp.ok && tcp.value.flags === 0x02 ? [{ ip: ip.value, tcp: tcp.value }] : [];
  });
  const chains = new Set(syns.map((s) => s.ip.extensionHeaders.map((h) => `${h.kind}:${ipv6ExtensionHeaderLen(h)}`).join(',')));
  t.deepEqual([...chains].sort(), ['', 'destination:8', 'fragment:8', 'hop-by-hop:16', 'hop-by-hop:8,destination:64', 'routing:24']);
  const shaped = syns.filter((s) => s.ip.hopLimit === 7);
  t.true(shaped.length >= 2, 'the --ttl 7 SYNs');
  for (const s of shaped) {
    t.is(s.tcp.window, 512);
    t.true(s.tcp.srcPort >= 61000 && s.tcp.srcPort <= 61009);
    t.deepEqual(s.tcp.options, [{ kind: 'mss', mss: 1220 }, { kind: 'nop' }, { kind: 'window-scale', shift: 3 }]);
  }
  const report = await compareWithOracles(result.path);
  t.deepEqual(report.mismatches, [], 'npm pcap and cap decode the recording like src/wire');
  t.is(await server.acceptCount(), 0, 'half-open: nothing accepted');
});
