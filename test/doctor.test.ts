// `tcp-checker doctor` inside a testbed namespace, as root and as a user with no capabilities:
// it names the strategy `auto` picks and its self-test proves the check stays half-open.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { privilegedTest, withTestbed } from './helpers/testbed.js';
import { effectiveCapabilities, formatDoctor, sourcePortsDetail, type DoctorReport } from '../src/doctor.js';
import { listenersInRange } from '../src/engine/port-claims.js';

const CLI = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'tcp-checker.ts');

function doctorIn(ns: string, unprivileged: boolean): { code: number; report: DoctorReport } {
  const drop = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all'];
  const argv = ['netns', 'exec', ns, ...(unprivileged ? drop : []), process.execPath, '--import', 'tsx/esm', CLI, 'doctor', '--json'];
  let stdout: string;
  let code = 0;
  try {
    stdout = execFileSync('ip', argv, { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const e = error as { stdout?: string; status?: number };
    stdout = e.stdout ?? '';
    code = e.status ?? -1;
  }
  return { code, report: JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as DoctorReport };
}

const finding = (report: DoctorReport, item: string) => report.findings.find((f) => f.item.startsWith(item));

privilegedTest('doctor as root: raw strategy, owner tables, and a clean half-open self-test', async (t) => {
  const tb = await withTestbed(t);
  const { code, report } = doctorIn(tb.client.name, false);
  t.is(code, 0, formatDoctor(report));
  t.is(report.autoStrategy, 'raw');
  t.is(finding(report, 'CAP_NET_RAW')?.level, 'ok');
  t.regex(finding(report, 'nftables')?.detail ?? '', /owner tables supported/);
  const self = finding(report, 'self-test');
  t.is(self?.level, 'ok', self?.detail);
  t.regex(self?.detail ?? '', /client:S server:S\. client:R;/, 'the wire showed SYN, SYN-ACK and one RST');
  t.regex(self?.detail ?? '', /accepted by the listener: 0/);
});

privilegedTest('doctor without capabilities: socket strategy, and says why', async (t) => {
  const tb = await withTestbed(t);
  const { code, report } = doctorIn(tb.client.name, true);
  t.is(code, 0, formatDoctor(report));
  t.is(report.autoStrategy, 'socket');
  t.is(finding(report, 'CAP_NET_RAW')?.level, 'warn');
  t.regex(finding(report, 'auto strategy')?.detail ?? '', /raw unavailable .*CAP_NET_RAW/);
  const self = finding(report, 'self-test');
  t.is(self?.level, 'ok', self?.detail);
  t.regex(self?.detail ?? '', /accepted by the listener: 0/);
});

test('effective capabilities are read from /proc/self/status', (t) => {
  t.is(effectiveCapabilities('Name:\tnode\nCapEff:\t0000000000003000\n'), 0x3000n);
  t.is(effectiveCapabilities('CapEff:\t0000000000000000\n'), 0n);
  t.is(effectiveCapabilities('garbage'), 0n);
});

// /proc/net/tcp{,6} as Linux writes them: a listener on 127.0.0.1:62000 (F230), one on
// [::]:8080 (1F90), and an established socket from port 62001 (F231) that is no listener.
const PROC_TCP = [
  '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
  '   0: 0100007F:F230 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0',
  '   1: 0100007F:F231 0200007F:0050 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0 20 4 30 10 -1',
].join('\n');
const PROC_TCP6 = [
  '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
  '   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3 1 0 100 0 0 10 0',
].join('\n');

test('listeners inside the probe range are found in /proc/net/tcp{,6}; other states and ports are not', (t) => {
  t.deepEqual(listenersInRange([PROC_TCP, PROC_TCP6], [61000, 65535]), [62000]);
  t.deepEqual(listenersInRange([PROC_TCP, PROC_TCP6], [1, 65535]), [8080, 62000]);
  t.deepEqual(listenersInRange(['', 'garbage'], [1, 65535]), []);
  t.regex(sourcePortsDetail([PROC_TCP, PROC_TCP6]), /claims its ports from the kernel.*drops only SYN-ACKs.*listener on 62000: skipped by the claims, reachable/);
  t.regex(sourcePortsDetail(['']), /no listener in the range/);
});

privilegedTest('doctor names a listener inside the probe range', async (t) => {
  const tb = await withTestbed(t);
  const listener = tb.spawn('client', [process.execPath, '-e', "require('net').createServer().listen(62000, () => console.log('listening'))"]);
  let out = '';
  listener.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  for (let i = 0; i < 500 && !out.includes('listening'); i++) await new Promise((resolve) => setTimeout(resolve, 20));
  const { report } = doctorIn(tb.client.name, false);
  t.regex(finding(report, 'source ports')?.detail ?? '', /^61000-65535: .*listener on 62000: skipped by the claims/);
  listener.kill();
});
