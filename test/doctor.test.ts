// `tcp-checker doctor` inside a testbed namespace, as root and as a user with no capabilities:
// it names the strategy `auto` picks and its self-test proves the check stays half-open.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { privilegedTest, withTestbed } from './helpers/testbed.js';
import { effectiveCapabilities, formatDoctor, type DoctorReport } from '../src/doctor.js';

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
