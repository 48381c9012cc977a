// `tcp-checker monitor`, the real binary in a testbed: HAProxy rise/fall as the server's ports
// close, go silent and come back; JSON and text lines; Prometheus metrics scraped over HTTP
// inside the client namespace; a clean stop on SIGTERM and SIGINT.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { privilegedTest, withTestbed } from '../helpers/testbed.js';
import { clientTables, killShim, RunningCli } from './cli-runner.js';
import { tcpSegments } from '../integration/harness.js';

function changes(stdout: string): string[] {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { event: string; target: string; from: string; to: string; consecutive: number; needed: number; lastStatus: string })
    .filter((e) => e.event === 'change')
    .map((e) => `${e.target} ${e.from}->${e.to} ${e.consecutive}/${e.needed} ${e.lastStatus}`);
}

/** `>S <S. >R` (client SYN, server SYN-ACK, client RST) repeated, then at most an unfinished `>S` or `>S <S.`. */
function halfOpenTriples(flags: readonly string[]): boolean {
  let i = 0;
  while (i + 3 <= flags.length && flags[i] === '>S' && flags[i + 1] === '<S.' && flags[i + 2] === '>R') i += 3;
  const tail = flags.slice(i).join(' ');
  return tail === '' || tail === '>S' || tail === '>S <S.';
}

const change = (target: string, from: string, to: string): RegExp =>
  new RegExp(`"event":"change","target":"${target.replace(/[.[\]]/g, '\\$&')}","probe":"[^"]+","from":"${from}","to":"${to}"`);

privilegedTest('monitor: UP, DOWN on RST and on silence, UP again; metrics; SIGTERM exits 0', async (t) => {
  const tb = await withTestbed(t);
  let web = await tb.startServer({ port: 80 });
  await tb.startServer({ port: 81 });
  const a = `${tb.address('server', 4)}:80`;
  const b = `${tb.address('server', 4)}:81`;
  const run = RunningCli.start(tb, [
    'monitor', '--json', '--inter', '100', '--fastinter', '30', '--downinter', '100', '--rise', '2', '--fall', '2',
    '--burst', '2', '-t', '300', '--metrics', '127.0.0.1:9464', a, b,
  ]);
  t.teardown(() => run.child.kill('SIGKILL'));
  await run.waitFor(change(a, 'UNKNOWN', 'UP'));
  await run.waitFor(change(b, 'UNKNOWN', 'UP'));
  t.regex(run.stderr, /Monitoring 2 targets with raw: inter 100ms, fastinter 30ms, downinter 100ms, rise 2, fall 2, burst 2, timeout 300ms/);
  t.regex(run.stderr, /Metrics: http:\/\/127\.0\.0\.1:9464\/metrics/);

  await web.stop(); // port 80 now answers RST
  await run.waitFor(change(a, 'UP', 'DOWN'));
  await tb.filterPort(81); // port 81 now drops everything: timeouts
  await run.waitFor(change(b, 'UP', 'DOWN'));
  web = await tb.startServer({ port: 80 });
  await run.waitFor(change(a, 'DOWN', 'UP'));

  const scrape = await tb.exec('client', [
    process.execPath,
    '-e',
    "fetch('http://127.0.0.1:9464/metrics').then((r) => r.text()).then((t) => process.stdout.write(t))",
  ]);
  const metrics = scrape.stdout;
  t.regex(metrics, new RegExp(`tcp_shaker_up\\{target="${a}"\\} 1`));
  t.regex(metrics, new RegExp(`tcp_shaker_up\\{target="${b}"\\} 0`));
  t.regex(metrics, new RegExp(`tcp_shaker_state_changes_total\\{target="${a}",to="down"\\} 1`));
  t.regex(metrics, new RegExp(`tcp_shaker_checks_total\\{target="${b}",status="timeout"\\} [1-9]`));
  t.regex(metrics, new RegExp(`tcp_shaker_checks_total\\{target="${a}",status="closed"\\} [1-9]`));
  t.regex(metrics, new RegExp(`tcp_shaker_check_duration_seconds_count\\{target="${a}"\\} [1-9]`));
  t.regex(metrics, new RegExp(`tcp_shaker_burst_loss_ratio\\{target="${b}"\\} 1`));
  t.regex(metrics, new RegExp(`tcp_shaker_duplicate_replies_total\\{target="${a}"\\} \\d+`));
  t.regex(metrics, /tcp_shaker_engine_info\{strategy="raw"\} 1/);
  t.regex(metrics, /tcp_shaker_engine_syns_sent_total [1-9]/);
  t.regex(metrics, /tcp_shaker_engine_replies_ignored_total \d+/);
  t.regex(metrics, /tcp_shaker_engine_retransmits_total \d+/);

  run.child.kill('SIGTERM');
  t.is(await run.exited, 0, run.stderr);
  t.regex(run.stderr, /Stopped by SIGTERM after \S+: 1 UP, 1 DOWN, 0 UNKNOWN/);
  const seen = changes(run.stdout);
  t.deepEqual(seen.filter((c) => c.startsWith(`${a} `)), [`${a} UNKNOWN->UP 2/2 open`, `${a} UP->DOWN 2/2 closed`, `${a} DOWN->UP 2/2 open`]);
  t.deepEqual(seen.filter((c) => c.startsWith(`${b} `)), [`${b} UNKNOWN->UP 2/2 open`, `${b} UP->DOWN 2/2 timeout`]);
  t.deepEqual(clientTables(tb), [], 'the nftables table is gone');
  const after = await tb.exec('client', [process.execPath, '-e', "fetch('http://127.0.0.1:9464/metrics').then(() => process.exit(0), () => process.exit(3))"], { check: false });
  t.is(after.code, 3, 'the metrics server is closed');
});

privilegedTest('monitor from a YAML config, text lines with -v, SIGINT exits 0', async (t) => {
  const tb = await withTestbed(t, { localPrefixes: ['198.19.0.0/30'] });
  await tb.startServer({ port: 80 });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tshk-monitor-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const config = path.join(dir, 'monitor.yaml');
  fs.writeFileSync(
    config,
    [
      'defaults:',
      '  inter: 50ms',
      '  rise: 1',
      '  port: 80',
      'targets:',
      `  - target: ${tb.address('server', 4)}`,
      '    name: web',
      '  - target: 198.19.0.0/30',
      '    name: block',
      `  - target: "[${tb.address('server', 6)}]:443"`,
      '    port: 80',
      '    burst: 3',
      '',
    ].join('\n'),
  );
  const run = RunningCli.start(tb, ['monitor', '--config', config, '-v']);
  t.teardown(() => run.child.kill('SIGKILL'));
  await run.waitFor(/target web \(198\.18\.0\.2:80\) UNKNOWN -> UP \(1\/1 successes, last rtt [\d.]+m?s\)/);
  await run.waitFor(/target block 198\.19\.0\.1:80 UNKNOWN -> UP/);
  await run.waitFor(/target block 198\.19\.0\.2:80 UNKNOWN -> UP/);
  await run.waitFor(/target \[2001:2::2\]:80 UNKNOWN -> UP/);
  await run.waitFor(/round \[2001:2::2\]:80 #\d+: 3\/3 open, loss 0%, dup 0, rtt min\/avg\/max \S+, UP, next in 50ms/);
  t.regex(run.stdout, /^Monitoring 4 targets with raw( \(.*\))?: inter 50ms, fastinter 50ms, downinter 50ms, rise 1, fall 3, burst 1 \(some targets differ\)$/m);
  run.child.kill('SIGINT');
  t.is(await run.exited, 0, run.stderr);
  t.regex(run.stdout, /Stopped by SIGINT after \S+: 4 UP, 0 DOWN, 0 UNKNOWN/);
  t.is(run.stderr, '');
  t.deepEqual(clientTables(tb), []);
});

privilegedTest('monitor: the nft shim lost mid-run is one line in the log, and monitoring goes on', async (t) => {
  const tb = await withTestbed(t);
  await tb.startServer({ port: 80 });
  const a = `${tb.address('server', 4)}:80`;
  const run = RunningCli.start(tb, ['monitor', '-v', '--inter', '50', a]);
  t.teardown(() => run.child.kill('SIGKILL'));
  await run.waitFor(/UNKNOWN -> UP/);
  killShim(run);
  await run.waitFor(/warning: the nftables shim was lost/);
  // Rounds go on after it: the engine answers SYN-ACKs itself and needs no shim to judge.
  const at = run.stdout.search(/warning: the nftables shim was lost/);
  await run.waitFor(/warning: the nftables shim was lost[^]*\n\S+ round \S+ #\d+: 1\/1 open[^]*\n\S+ round \S+ #\d+: 1\/1 open/);
  run.child.kill('SIGTERM');
  t.is(await run.exited, 0, run.stderr);
  const lines = run.stdout.match(/^\S+ warning: the nftables shim was lost \(nft exited \(SIGKILL\)[^\n]*$/gm) ?? [];
  t.is(lines.length, 1, run.stdout);
  t.true(at > 0);
  t.notRegex(run.stdout, /UP -> DOWN/, 'the target stayed up');
  t.deepEqual(clientTables(tb), [], 'the table went with nft');
});

privilegedTest('monitor of a /24 (254 targets) at 5 rounds a second: all UP, only open verdicts, SYN, SYN-ACK, RST on every tuple, nothing accepted', async (t) => {
  // The monitor's batching at scale, through the real engine: rounds due together start in one
  // wake-up and their packets leave together (sent on the event loop right after the pause), the
  // batch takes the due checks and hands back results without a promise each.
  const tb = await withTestbed(t, { localPrefixes: ['198.19.1.0/24'] });
  const server = await tb.startServer({ port: 80, family: 4 });
  // Headers only, and a deep buffer: a window of rounds is ~750 packets within a millisecond.
  const capture = await tb.capture({ filter: 'tcp port 80', snapLen: 128, bufferKiB: 32_768 });
  const run = RunningCli.start(tb, ['monitor', '--json', '--inter', '200', '--rise', '2', '-t', '2000', '--metrics', '127.0.0.1:9464', '198.19.1.0/24:80']);
  t.teardown(() => run.child.kill('SIGKILL'));
  const deadline = performance.now() + 60_000;
  const ups = (): number => changes(run.stdout).filter((c) => c.includes(' UNKNOWN->UP ')).length;
  while (ups() < 254 && performance.now() < deadline && run.child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
  t.is(ups(), 254, 'every target went UP');
  // A few more rounds each, then what Prometheus would read.
  await new Promise((r) => setTimeout(r, 1000));
  const scrape = await tb.exec('client', [process.execPath, '-e', "fetch('http://127.0.0.1:9464/metrics').then((r) => r.text()).then((t) => process.stdout.write(t))"]);
  const counts = [...scrape.stdout.matchAll(/^tcp_shaker_checks_total\{target="([^"]+)",status="(\w+)"\} (\d+)$/gm)];
  t.deepEqual([...new Set(counts.map((m) => m[2]))], ['open'], 'every probe of an open target was open');
  t.is(counts.length, 254, 'one series per target');
  t.true(counts.every((m) => Number(m[3]) >= 2), 'each target was checked at least twice (rise 2)');
  t.is(changes(run.stdout).length, 254, 'no other state change');
  const records = await capture.stop();
  t.is(records.stats.droppedByKernel, 0, 'the capture missed nothing');
  run.child.kill('SIGINT');
  t.is(await run.exited, 0, run.stderr);
  t.regex(run.stderr, /Stopped by SIGINT after \S+: 254 UP, 0 DOWN, 0 UNKNOWN/);
  t.is(await server.acceptCount(), 0, 'the server application accepted nothing');

  // On the wire, per 4-tuple: SYN, SYN-ACK, RST, again and again (a tuple is reused once its
  // check was answered and reset), with at most the check in flight when the capture stopped
  // left unfinished. The client never acknowledges anything.
  const segments = tcpSegments(records.file);
  const byTuple = new Map<string, string[]>();
  for (const s of segments) {
    const client = s.dstPort === 80 ? `${s.src}:${s.srcPort}` : `${s.dst}:${s.dstPort}`;
    const serverIp = s.dstPort === 80 ? s.dst : s.src;
    const key = `${client} ${serverIp}`;
    byTuple.set(key, [...(byTuple.get(key) ?? []), s.dstPort === 80 ? `>${s.flags}` : `<${s.flags}`]);
  }
  const servers = new Set([...byTuple.keys()].map((k) => k.split(' ')[1]));
  t.is(servers.size, 254, 'every target was probed');
  const bad = [...byTuple].filter(([, flags]) => !halfOpenTriples(flags));
  t.deepEqual(bad.slice(0, 5), [], 'SYN, SYN-ACK, RST on every tuple');
  t.false(segments.some((s) => s.dstPort === 80 && s.flags.includes('.')), 'the client never sent an ACK');
});
