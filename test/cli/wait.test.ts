// `tcp-checker wait`, the real binary: usage errors (no privilege, nothing sent), and on a
// testbed a wait that ends when servers start listening later, while the servers accept
// nothing; a name whose first address stays closed (also `localhost` on loopback, ::1 first);
// a timeout that exits 1 with one line; a signal; the connect strategy's warning.
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { privilegedTest, withTestbed } from '../helpers/testbed.js';
import { cliHere, clientTables, RunningCli } from './cli-runner.js';

const usageCases: Array<[string, string[], RegExp]> = [
  ['no target', ['wait'], /wait: no target/],
  ['missing port', ['wait', '198.18.0.2'], /missing ":port"/],
  ['bad timeout', ['wait', '--timeout', 'soon', '198.18.0.2:80'], /--timeout must be a duration/],
  ['bad interval', ['wait', '--interval', '0', '198.18.0.2:80'], /--interval must be a duration/],
  ['unknown flag', ['wait', '--bogus', '198.18.0.2:80'], /Unknown option '--bogus'/],
  ['-4 with -6', ['wait', '-4', '-6', '198.18.0.2:80'], /exclude each other/],
];

for (const [name, args, message] of usageCases) {
  test(`wait usage error exits 2: ${name}`, (t) => {
    const r = cliHere(args);
    t.is(r.code, 2, r.stderr);
    t.regex(r.stderr, message);
    t.is(r.stderr.trim().split('\n').length, 1, `one line, got:\n${r.stderr}`);
    t.is(r.stdout, '');
  });
}

/** Makes `name` resolve to `addresses`, in that order, inside the client namespace only
 *  (`ip netns exec` bind-mounts /etc/netns/NS/hosts over /etc/hosts). */
function clientHosts(t: Parameters<typeof withTestbed>[0], ns: string, name: string, addresses: string[]): void {
  const dir = path.join('/etc/netns', ns);
  fs.mkdirSync(dir, { recursive: true });
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'hosts'), addresses.map((a) => `${a} ${name}\n`).join(''));
}

privilegedTest('wait: exits 0 once servers that start later listen; a name is tried on every address; nothing accepted', async (t) => {
  const tb = await withTestbed(t);
  // IPv6 first, like "localhost" -> ::1 in wait-on #109; the server will listen on IPv4 only.
  clientHosts(t, tb.client.name, 'svc.test', [tb.address('server', 6), tb.address('server', 4)]);
  const run = RunningCli.start(tb, ['wait', '-v', '--interval', '50ms', '--timeout', '40s', 'svc.test:8080', `[${tb.address('server', 6)}]:8081`]);
  t.teardown(() => run.child.kill('SIGKILL'));
  // Both refused (RST) before anything listens.
  await run.waitFor(/svc\.test:8080 \(\[2001:2::2\]:8080\): closed \(ECONNREFUSED\)|svc\.test:8080 \(198\.18\.0\.2:8080\): closed/);
  await run.waitFor(/\[2001:2::2\]:8081: closed \(ECONNREFUSED\)/);
  const v4only = await tb.startServer({ port: 8080, family: 4 });
  const both = await tb.startServer({ port: 8081 });
  t.is(await run.exited, 0, run.stderr);
  t.regex(run.stderr, /svc\.test:8080 \(198\.18\.0\.2:8080\): open \[S\.\]/);
  t.regex(run.stderr, /\[2001:2::2\]:8081: open \[S\.\]/);
  t.regex(run.stderr, /All 2 open after \S+ \(\d+ checks\)/);
  t.is(await v4only.acceptCount(), 0, 'the half-open wait never completed a connection');
  t.is(await both.acceptCount(), 0);
  t.deepEqual(clientTables(tb), [], 'the nftables table is gone');
});

privilegedTest('wait localhost: ::1 first, the service on 127.0.0.1 only (wait-on #109), on loopback; nothing accepted', async (t) => {
  const tb = await withTestbed(t);
  clientHosts(t, tb.client.name, 'localhost', ['::1', '127.0.0.1']);
  const run = RunningCli.start(tb, ['wait', '-v', '--interval', '50ms', '--timeout', '40s', 'localhost:8080']);
  t.teardown(() => run.child.kill('SIGKILL'));
  await run.waitFor(/localhost:8080 \((\[::1\]|127\.0\.0\.1):8080\): closed \(ECONNREFUSED\)/);
  // A listener on the client's own loopback, IPv4 only, that prints a line per accepted connection.
  const listener = tb.spawn('client', [
    process.execPath,
    '-e',
    "require('net').createServer((s) => { console.log('accept'); s.destroy(); }).listen(8080, '127.0.0.1', () => console.log('listening'))",
  ]);
  let log = '';
  listener.stdout!.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
  t.teardown(() => listener.kill('SIGKILL'));
  t.is(await run.exited, 0, run.stderr);
  t.regex(run.stderr, /localhost:8080 \(127\.0\.0\.1:8080\): open \[S\.\]/);
  for (let i = 0; i < 100 && !log.includes('listening'); i++) await new Promise((r) => setTimeout(r, 20));
  t.is(log, 'listening\n', 'the half-open wait was never accepted');
  // The listener does count: a kernel connect shows up at once.
  t.is((await tb.kernelConnect({ host: '127.0.0.1', port: 8080 })).outcome, 'connected');
  for (let i = 0; i < 100 && !log.includes('accept'); i++) await new Promise((r) => setTimeout(r, 20));
  t.is(log, 'listening\naccept\n');
  t.deepEqual(clientTables(tb), []);
});

privilegedTest('wait: exits 1 with one line when --timeout runs out (a silent port)', async (t) => {
  const tb = await withTestbed(t, { filter: [82] });
  const run = RunningCli.start(tb, ['wait', '--timeout', '1s', '--check-timeout', '200ms', `${tb.address('server', 4)}:82`]);
  t.teardown(() => run.child.kill('SIGKILL'));
  t.is(await run.exited, 1, run.stderr);
  t.is(run.stderr, 'tcp-checker wait: not open after 1000ms: 198.18.0.2:82 timeout (ETIMEDOUT)\n');
  t.is(run.stdout, '');
  t.deepEqual(clientTables(tb), []);
});

privilegedTest('wait: SIGTERM ends a wait with exit 1 and leaves nothing behind', async (t) => {
  const tb = await withTestbed(t);
  const run = RunningCli.start(tb, ['wait', '-v', '--interval', '50ms', `${tb.address('server', 4)}:8080`]);
  t.teardown(() => run.child.kill('SIGKILL'));
  await run.waitFor(/198\.18\.0\.2:8080: closed \(ECONNREFUSED\)/);
  run.child.kill('SIGTERM');
  t.is(await run.exited, 1, run.stderr);
  t.regex(run.stderr, /tcp-checker wait: stopped by SIGTERM\n$/);
  t.deepEqual(clientTables(tb), []);
});

privilegedTest('wait --strategy connect: says the service will see the connects, and it does', async (t) => {
  const tb = await withTestbed(t);
  const web = await tb.startServer({ port: 8080 });
  const run = RunningCli.start(tb, ['wait', '--strategy', 'connect', `${tb.address('server', 4)}:8080`]);
  t.teardown(() => run.child.kill('SIGKILL'));
  t.is(await run.exited, 0, run.stderr);
  t.is(run.stderr, 'tcp-checker wait: using full connects (requested): the service will see them\n');
  t.is(await web.acceptCount(), 1, 'the contrast with the half-open wait: one accepted connection');
});
