// The real tcp-checker binary: usage errors need no privilege and send nothing; checks run in
// a testbed's client namespace against its server.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { privilegedTest, withTestbed } from '../helpers/testbed.js';

const CLI = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'tcp-checker.ts');

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx/esm', CLI, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const usageCases: Array<[string, string[], RegExp]> = [
  ['no target', [], /no target/],
  ['unknown flag', ['-a', '198.18.0.2:80', '--bogus'], /Unknown option '--bogus'/],
  ['port 0', ['-a', '198.18.0.2:0'], /invalid port 0/],
  ['port 65536', ['-a', '198.18.0.2:65536'], /invalid port 65536/],
  ['missing port', ['-a', '198.18.0.2'], /missing ":port"/],
  ['unbracketed IPv6', ['-a', '2001:2::2:80'], /brackets/],
  ['bad host', ['-a', 'exa mple:80'], /neither an IP address nor a host name/],
  ['unresolvable host', ['-a', 'no-such-host.invalid:80'], /cannot resolve "no-such-host.invalid"/],
  ['bad timeout', ['-a', '198.18.0.2:80', '-t', 'soon'], /--timeout must be a whole number/],
  ['zero requests', ['-a', '198.18.0.2:80', '-n', '0'], /--requests must be from 1/],
  ['bad strategy', ['-a', '198.18.0.2:80', '--strategy', 'magic'], /--strategy must be/],
  ['-4 with -6', ['-a', 'localhost:80', '-4', '-6'], /exclude each other/],
];

const usage = test.macro({
  exec(t, args: string[], message: RegExp) {
    const r = cli(args);
    t.is(r.code, 2, r.stderr);
    t.regex(r.stderr, message);
    t.is(r.stderr.trim().split('\n').length <= 2, true, `one clear line, got:\n${r.stderr}`);
    t.notRegex(r.stderr, /\n\s+at /, 'no stack trace');
    t.is(r.stdout, '', 'nothing checked, nothing printed');
  },
  title: (name = '') => `usage error exits 2: ${name}`,
});

for (const [name, args, message] of usageCases) test(name, usage, args, message);

test('--help prints the usage and exits 0', (t) => {
  const r = cli(['--help']);
  t.is(r.code, 0);
  t.regex(r.stdout, /Usage: tcp-checker -a HOST:PORT/);
});

privilegedTest('checks in the testbed: summary lines, exit codes, --json', async (t) => {
  const tb = await withTestbed(t, { filter: [81] });
  await tb.startServer({ port: 80 });
  const server4 = tb.address('server', 4);
  const server6 = tb.address('server', 6);

  const ok = await tb.execNode(CLI, ['-a', `${server4}:80`, '-a', `[${server6}]:80`, '-n', '3', '-c', '2', '-t', '1000']);
  t.is(ok.code, 0, ok.stderr);
  t.regex(ok.stdout, /Finished 6\/6 checks in /);
  t.regex(ok.stdout, /Succeed: 6/);
  t.regex(ok.stdout, /Errors: connect 0, timeout 0, other 0/);
  t.regex(ok.stdout, /Latency: p50 [\d.]+ms, p90 [\d.]+ms, p99 [\d.]+ms, max [\d.]+ms/);

  const failed = await tb.execNode(CLI, ['-t', '600', `${server4}:80`, `${server4}:79`, `${server4}:81`]);
  t.is(failed.code, 1);
  t.regex(failed.stdout, /Succeed: 1/);
  t.regex(failed.stdout, /Errors: connect 1, timeout 1, other 0/);

  const json = await tb.execNode(CLI, ['--json', '-t', '600', `${server4}:80`, `[${server6}]:79`]);
  t.is(json.code, 1);
  const lines = json.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
  t.is(lines.length, 2, 'stdout holds only the JSON lines; the summary went to stderr');
  const [open, closed] = lines;
  t.like(open, { target: `${server4}:80`, ip: server4, port: 80, status: 'open', strategy: 'raw', attempts: 1 });
  t.is(typeof open.rttMs, 'number');
  t.like(closed, { ip: server6, port: 79, status: 'closed', code: 'ECONNREFUSED' });
  t.like(closed.error as object, { name: 'ConnectError', code: 'ECONNREFUSED' });
  t.regex(json.stderr, /Finished 2\/2 checks/);
});
