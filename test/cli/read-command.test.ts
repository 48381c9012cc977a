// `tcp-checker read FILE`: the fixtures read from the command line (exit codes, text and JSON),
// bad files refused with one line, and a live testbed run recorded twice (the engine's --pcap
// on the client, tcpdump -i any on the server) whose read-back verdicts equal the live ones.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { privilegedTest, withTestbed } from '../helpers/testbed.js';
import { ERROR_ROUTES } from '../../src/testbed/index.js';
import { readCaptureFile } from '../../src/capture/capture-file.js';
import { recordedChecks } from '../../src/capture/recorded-checks.js';
import { compareWithOracles } from '../helpers/oracles.js';
import { CLI, cliHere } from './cli-runner.js';

const fixtures = fileURLToPath(new URL('../../fixtures/', import.meta.url));

function jsonLines(stdout: string): Array<Record<string, unknown>> {
  return stdout.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
}

function tempDir(t: ExecutionContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tshk-read-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('read prints each recorded check as a -v line and exits 0 when all are open', (t) => {
  const r = cliHere(['read', `${fixtures}ipv4/open.pcap`]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^198\.18\.0\.2:80: open \[S\.\] in 1016\.369ms, 1 SYN \(from 198\.18\.0\.1:40001\)$/m);
  t.regex(r.stdout, /open\.pcap: pcap, 3 packets, 1 checks \(1 open\), 0 unmatched/);
});

test('read --json prints the live run\'s JSON lines, unmatched packets as their own lines, the tally on stderr', (t) => {
  const r = cliHere(['read', '--json', `${fixtures}ipv6/unreachable.pcap`]);
  t.is(r.code, 1, 'not every check was open');
  const lines = jsonLines(r.stdout);
  t.deepEqual(lines.map((l) => [l.target, l.status, l.code]), [
    ['[2001:2::2]:82', 'unreachable', 'EACCES'],
    ['[2001:2:0:1::1]:80', 'unreachable', 'ENETUNREACH'],
    ['[2001:2:0:2::1]:80', 'unreachable', 'EACCES'],
  ]);
  t.regex(r.stderr, /6 packets, 3 checks \(3 unreachable\), 0 unmatched/);
  const stray = jsonLines(cliHere(['read', `${fixtures}ipv6/fragment.pcap`, '--json']).stdout);
  t.is(stray.length, 2);
  t.like(stray[0], { unmatched: { index: 0 } });
});

test('read takes pcapng', (t) => {
  const r = cliHere(['read', `${fixtures}pcapng/ipv6-closed.pcapng`]);
  t.is(r.code, 1);
  t.regex(r.stdout, /\[2001:2::2\]:1: closed \(ECONNREFUSED\) \[R\.\]/);
  t.regex(r.stdout, /pcapng, 2 packets/);
});

const refused = test.macro({
  exec(t, args: string[], message: RegExp) {
    const r = cliHere(args);
    t.is(r.code, 2, r.stderr);
    t.regex(r.stderr, message);
    t.is(r.stderr.trim().split('\n').length, 1, `one line, got:\n${r.stderr}`);
    t.is(r.stdout, '');
  },
  title: (what = '') => `read refuses ${what} with exit 2`,
});
test('a missing file', refused, ['read', '/nonexistent/x.pcap'], /cannot read \/nonexistent\/x\.pcap: ENOENT/);
test('a file that is not a capture', refused, ['read', `${fixtures}README.md`], /not a pcap file: unknown magic number/);
test('no file', refused, ['read'], /read takes one file, got 0/);
test('two files', refused, ['read', 'a.pcap', 'b.pcap'], /read takes one file, got 2/);
test('an unknown option', refused, ['read', '-v', 'a.pcap'], /read: unknown option "-v"/);

privilegedTest('a live run recorded with --pcap (client) and tcpdump (server) reads back with the live verdicts', async (t) => {
  const tb = await withTestbed(t, { filter: [81], prohibit: [82] });
  const server = await tb.startServer({ port: 80 });
  const s4 = tb.address('server', 4);
  const s6 = tb.address('server', 6);
  const dir = tempDir(t);
  const recording = path.join(dir, 'run.pcap');
  const serverSide = await tb.capture({ iface: 'any', linkType: 'LINUX_SLL2', filter: 'tcp or icmp or icmp6', file: path.join(dir, 'server.pcap'),
    // With -s 0 tcpdump's ring holds only ~8 frames of 256 KiB, and a burst of 16+ packets while
    // it waits for a CPU is dropped by the kernel ("dropped by kernel"); 2 KiB frames hold them all.
    snapLen: 2048,
  });
  const targets = [`${s4}:80`, `[${s6}]:80`, `${s4}:79`, `[${s6}]:79`, `${s4}:81`, `${s4}:82`, `[${s6}]:82`, `${ERROR_ROUTES.hostUnreachable.ipv4}:80`];
  const live = await tb.execNode(CLI, ['--json', '--pcap', recording, '-c', '8', '-t', '1500', '--retries', '1', ...targets]);
  t.is(live.code, 1, live.stderr);
  const serverResult = await serverSide.stop(300);
  t.is(serverResult.stats.droppedByKernel, 0, 'the server-side capture lost nothing');
  const liveChecks = jsonLines(live.stdout);
  t.is(liveChecks.length, targets.length);
  const statuses = new Set(liveChecks.map((c) => c.status));
  t.deepEqual([...statuses].sort(), ['closed', 'open', 'timeout', 'unreachable'], 'every verdict is in the recording');

  // Compare per target: status, code, SYNs sent, and the reply's evidence.
  const verdict = (c: Record<string, unknown>): unknown => [c.status, c.code, c.attempts, c.evidence];
  const byTarget = (checks: Array<Record<string, unknown>>): Record<string, unknown> =>
    Object.fromEntries(checks.map((c) => [String(c.ip).includes(':') ? `[${c.ip}]:${c.port}` : `${c.ip}:${c.port}`, verdict(c)]));
  const expected = byTarget(liveChecks);

  const readBack = await tb.execNode(CLI, ['read', '--json', recording]);
  t.is(readBack.code, 1, readBack.stderr);
  const fromRecording = jsonLines(readBack.stdout).filter((l) => l.unmatched === undefined);
  t.deepEqual(byTarget(fromRecording), expected, 'the engine\'s own recording reads back to the live verdicts');
  t.deepEqual(jsonLines(readBack.stdout).filter((l) => l.unmatched !== undefined), [], 'every recorded packet belongs to a check');
  const rttDiffs = fromRecording.map((c) => {
    const l = liveChecks.find((x) => x.ip === c.ip && x.port === c.port)!;
    return l.rttMs === undefined ? "-" : Math.abs((c.rttMs as number) - (l.rttMs as number)).toFixed(3);
  });
  t.log(`RTT read back vs live, |difference| in ms: ${rttDiffs.join(', ')}`);

  // The server's view (cooked SLL2 on every interface): the same verdicts, except that a
  // filtered port's SYNs are seen there too and time out just the same.
  const serverChecks = recordedChecks(await readCaptureFile(path.join(dir, 'server.pcap')));
  const serverVerdicts = new Map(serverChecks.checks.map((c) => [c.target, [c.status, c.code, c.attempts]]));
  for (const [target, v] of Object.entries(expected)) {
    const [status, code, attempts] = v as [string, string, number];
    t.deepEqual(serverVerdicts.get(target), [status, code, attempts], `server-side recording of ${target}`);
  }
  t.is(await server.acceptCount(), 0, 'half-open: the server application accepted nothing');

  // Both recordings, decoded by npm pcap and npm cap too: the same fields, packet for packet.
  for (const file of [recording, path.join(dir, 'server.pcap')]) {
    const report = await compareWithOracles(file);
    t.deepEqual(report.mismatches, [], file);
    t.deepEqual(report.shallow, { pcap: 0, cap: 0 }, `${file}: both oracles decoded every packet`);
    t.log(`${path.basename(file)}: ${report.packets} packets, ${report.comparedWithPcap} fields compared with pcap, ${report.comparedWithCap} with cap`);
  }
});
