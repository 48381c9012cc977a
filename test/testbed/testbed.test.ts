// The testbed itself (privileged): topology, server behaviours, capture, and above all that
// nothing is left behind, whatever way the owning process ends.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import readline from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { InvalidArgumentError, UnsupportedError } from '../../src/core/errors.js';
import { Testbed, listNamespaces, ownerPid, parseTestbedCidr, summarizeFrame, sweepStaleTestbeds } from '../../src/testbed/index.js';
import { renderServerTable } from '../../src/testbed/server-firewall.js';
import { processAlive } from '../../src/testbed/names.js';
import type { KernelClientReport } from '../../src/testbed/index.js';
import type { Family } from '../../src/core/types.js';
import { privilegedTest, withTestbed } from '../helpers/testbed.js';

// --- pure parts, no privileges needed ----------------------------------------------------------

const cidrCases: Array<[string, string | RegExp]> = [
  ['198.19.0.0/16', '198.19.0.0/16'],
  ['198.18.0.7', '198.18.0.7/32'],
  ['2001:2:0:100::/56', '2001:2:0:100::/56'],
  ['2001:2::5', '2001:2::5/128'],
  ['198.18.0.0/14', /outside the testbed ranges/],
  ['10.0.0.0/8', /outside the testbed ranges/],
  ['2001:db8::/64', /outside the testbed ranges/],
  ['2001:2::/47', /outside the testbed ranges/],
  ['198.18.0.0/33', /bad prefix length/],
  ['198.18.0.0/1x', /bad prefix length/],
  ['example.com/24', /not an address/],
  ['198.18.0.0/24/1', /not an address/],
];

for (const [text, expected] of cidrCases) {
  test(`parseTestbedCidr(${JSON.stringify(text)})`, (t) => {
    if (typeof expected === 'string') t.is(parseTestbedCidr(text).text, expected);
    else t.throws(() => parseTestbedCidr(text), { instanceOf: InvalidArgumentError, message: expected });
  });
}

test('ownerPid reads the pid out of testbed namespace names only', (t) => {
  t.is(ownerPid('tshk-1234-a1b2c3-c'), 1234);
  t.is(ownerPid('tshk-1234-a1b2c3-s'), 1234);
  t.is(ownerPid('tshk-x-a1b2c3-c'), undefined);
  t.is(ownerPid('other-1234-a1b2c3-c'), undefined);
  t.is(ownerPid('tshk-1234'), undefined);
});

test('the server nftables table, rendered', (t) => {
  const text = renderServerTable([
    { port: 81, action: 'filter', family: 'both' },
    { port: 82, action: 'prohibit', family: 'both' },
    { port: 83, action: 'prohibit', family: 6 },
    { port: 84, action: 'filter', family: 4 },
  ]);
  t.is(
    text,
    [
      'table inet tshk_testbed {',
      '  chain input {',
      '    type filter hook input priority filter; policy accept;',
      '    tcp dport 81 drop',
      '    meta nfproto ipv4 tcp dport 82 reject with icmp type admin-prohibited',
      '    meta nfproto ipv6 tcp dport 82 reject with icmpv6 type admin-prohibited',
      '    meta nfproto ipv6 tcp dport 83 reject with icmpv6 type admin-prohibited',
      '    meta nfproto ipv4 tcp dport 84 drop',
      '  }',
      '}',
      '',
    ].join('\n'),
  );
  t.throws(() => renderServerTable([{ port: 0, action: 'filter', family: 4 }]), { instanceOf: InvalidArgumentError });
});

/**
 * This process's testbed namespaces, sorted. Other test files run at the same time and make and
 * delete namespaces of their own, so the whole list is not ours to compare.
 */
function ownNamespaces(): string[] {
  return listNamespaces()
    .filter((name) => ownerPid(name) === process.pid)
    .sort();
}

test.serial('Testbed.create refuses to run without root, with UnsupportedError', async (t) => {
  const realGetuid = process.getuid;
  process.getuid = () => 1000;
  try {
    const before = ownNamespaces();
    await t.throwsAsync(Testbed.create(), { instanceOf: UnsupportedError, code: 'ERR_SHAKER_UNSUPPORTED', message: /needs root/ });
    t.deepEqual(ownNamespaces(), before);
  } finally {
    process.getuid = realGetuid;
  }
});

// --- privileged: real namespaces -----------------------------------------------------------------

const helper = (name: string): string => fileURLToPath(new URL(`../helpers/${name}`, import.meta.url));

function assertGone(t: { false(value: boolean, message?: string): void }, names: string[]): void {
  const present = listNamespaces();
  for (const name of names) t.false(present.includes(name), `namespace ${name} still exists`);
}

privilegedTest('create builds both namespaces; destroy removes them and is idempotent', async (t) => {
  const tb = await Testbed.create();
  const names = [tb.client.name, tb.server.name];
  t.regex(tb.id, /^tshk-\d+-[0-9a-f]{6}$/);
  t.is(ownerPid(tb.client.name), process.pid);
  t.deepEqual(listNamespaces().filter((n) => names.includes(n)).sort(), [...names].sort());

  const link = JSON.parse((await tb.exec('server', ['ip', '-j', 'addr', 'show', 'dev', tb.server.iface])).stdout) as Array<{
    address: string;
    addr_info: Array<{ local: string; prefixlen: number }>;
  }>;
  t.is(link[0].address, tb.server.mac);
  t.deepEqual(
    link[0].addr_info.map((a) => `${a.local}/${a.prefixlen}`).filter((a) => !a.startsWith('fe80')),
    ['198.18.0.2/24', '2001:2::2/64'],
  );
  const features = (await tb.exec('client', ['ethtool', '-k', tb.client.iface])).stdout;
  t.regex(features, /^tx-checksumming: off/m);
  t.regex(features, /^rx-checksumming: off/m);

  await Promise.all([tb.destroy(), tb.destroy()]);
  await tb.destroy();
  t.true(tb.destroyed);
  assertGone(t, names);
  t.throws(() => tb.exec('client', ['true']), { instanceOf: InvalidArgumentError, message: /destroyed/ });
});

const reachable = test.macro({
  async exec(t, family: Family) {
    const tb = await withTestbed(t);
    const server = await tb.startServer({ port: 80, family: 'both' });
    t.deepEqual([...server.addresses].sort(), ['0.0.0.0', '::']);
    t.is(await server.acceptCount(), 0);
    const report = await tb.kernelConnect({ host: tb.address('server', family), port: 80 });
    t.like(report, { outcome: 'connected', localAddress: tb.address('client', family) });
    t.is(await server.acceptCount(), 1);
    t.is(server.accepts[0].remoteAddress.replace(/^::ffff:/, ''), tb.address('client', family));
    await server.stop();
    await server.stop();
    await t.throwsAsync(server.acceptCount(), { message: /not running/ });
  },
  title: (_, family: Family) => `IPv${family}: a kernel connect from the client is accepted by the server application`,
});

privilegedTest(reachable, 4);
privilegedTest(reachable, 6);

privilegedTest('a server-side capture sees the handshake, parsed by the pcap reader', async (t) => {
  const tb = await withTestbed(t);
  await tb.startServer({ port: 80 });
  const capture = await tb.capture({ filter: 'tcp port 80' });
  await tb.kernelConnect({ host: tb.server.ipv4, port: 80, then: 'reset' });
  await capture.waitForPackets(4);
  const result = await capture.stop();
  t.is(result, await capture.stop(), 'stop is idempotent');
  const flags = result.records.map((r) => summarizeFrame(result.file.linkType, r.data).tcpFlags);
  t.deepEqual(flags, ['S', 'S.', '.', 'R.']);
  t.is(result.stats.captured, 4);
  t.is(result.stats.droppedByKernel, 0);
  t.is(summarizeFrame(result.file.linkType, result.records[0].data).src, tb.client.ipv4);
});

/** A kernel connect plus what the server-side capture saw answering it. */
async function probe(tb: Testbed, host: string, port: number, timeoutMs = 1500): Promise<{ report: KernelClientReport; answers: string[] }> {
  const capture = await tb.capture({ filter: 'tcp or icmp or (icmp6 and ip6[40] < 128)' });
  const report = await tb.kernelConnect({ host, port, timeoutMs });
  const { records, file } = await capture.stop();
  const answers = records
    .map((r) => summarizeFrame(file.linkType, r.data))
    .filter((s) => s.dst === tb.client.ipv4 || s.dst === tb.client.ipv6)
    .map((s) => (s.icmpType === undefined ? `tcp ${s.tcpFlags}` : `icmp ${s.icmpType}/${s.icmpCode}`));
  return { report, answers: [...new Set(answers)] };
}

interface BehaviourCase {
  title: string;
  options?: Parameters<typeof Testbed.create>[0];
  /** Applied after creation instead of through options. */
  runtime?: (tb: Testbed) => Promise<void>;
  target: (tb: Testbed) => [string, number];
  outcome: KernelClientReport['outcome'];
  code?: string;
  answers: string[];
}

const behaviours: BehaviourCase[] = [
  { title: 'closed port, IPv4: RST-ACK', target: (tb) => [tb.server.ipv4, tb.closedPort], outcome: 'error', code: 'ECONNREFUSED', answers: ['tcp R.'] },
  { title: 'closed port, IPv6: RST-ACK', target: (tb) => [tb.server.ipv6, tb.closedPort], outcome: 'error', code: 'ECONNREFUSED', answers: ['tcp R.'] },
  { title: 'filtered port (option), IPv4: time out', options: { filter: [81] }, target: (tb) => [tb.server.ipv4, 81], outcome: 'timeout', answers: [] },
  { title: 'filtered port (filterPort), IPv6: time out', runtime: (tb) => tb.filterPort(81, 6), target: (tb) => [tb.server.ipv6, 81], outcome: 'timeout', answers: [] },
  { title: 'prohibited port (option), IPv4: ICMP admin-prohibited', options: { prohibit: [82] }, target: (tb) => [tb.server.ipv4, 82], outcome: 'error', code: 'EHOSTUNREACH', answers: ['icmp 3/13'] },
  { title: 'prohibited port (option), IPv6: ICMPv6 admin-prohibited', options: { prohibit: [{ port: 82, family: 6 }] }, target: (tb) => [tb.server.ipv6, 82], outcome: 'error', code: 'EACCES', answers: ['icmp 1/1'] },
  { title: 'prohibited port (prohibitPort), IPv4', runtime: (tb) => tb.prohibitPort(83), target: (tb) => [tb.server.ipv4, 83], outcome: 'error', code: 'EHOSTUNREACH', answers: ['icmp 3/13'] },
  { title: 'unreachable route, IPv4: ICMP host unreachable', target: (tb) => [tb.errorRoutes.hostUnreachable.ipv4, 80], outcome: 'error', code: 'EHOSTUNREACH', answers: ['icmp 3/1'] },
  { title: 'unreachable route, IPv6: ICMPv6 no route', target: (tb) => [tb.errorRoutes.hostUnreachable.ipv6, 80], outcome: 'error', code: 'ENETUNREACH', answers: ['icmp 1/0'] },
  { title: 'prohibit route, IPv6: ICMPv6 admin-prohibited', target: (tb) => [tb.errorRoutes.prohibited.ipv6, 80], outcome: 'error', code: 'EACCES', answers: ['icmp 1/1'] },
  { title: 'blackhole route, IPv4: time out', target: (tb) => [tb.errorRoutes.blackhole.ipv4, 80], outcome: 'timeout', answers: [] },
  { title: 'local prefix, IPv4: any address in it answers', options: { localPrefixes: ['198.19.0.0/16'] }, target: () => ['198.19.77.5', 80], outcome: 'connected', answers: ['tcp S.'] },
  { title: 'local prefix, IPv6: any address in it answers', options: { localPrefixes: ['2001:2:0:100::/56'] }, target: () => ['2001:2:0:1ff::9', 80], outcome: 'connected', answers: ['tcp S.'] },
];

const behaves = test.macro({
  async exec(t, c: BehaviourCase) {
    const tb = await withTestbed(t, c.options);
    await tb.startServer({ port: 80 });
    await c.runtime?.(tb);
    const [host, port] = c.target(tb);
    const { report, answers } = await probe(tb, host, port);
    t.is(report.outcome, c.outcome);
    t.is(report.code, c.code);
    for (const answer of c.answers) t.true(answers.includes(answer), `expected ${answer} among ${answers.join(', ')}`);
    if (c.answers.length === 0) t.deepEqual(answers, []);
  },
  title: (_, c: BehaviourCase) => c.title,
});

for (const c of behaviours) privilegedTest(behaves, c);

privilegedTest('addresses outside the benchmarking ranges are refused before anything is created', async (t) => {
  const before = ownNamespaces();
  for (const localPrefixes of [['10.0.0.0/8'], ['198.18.0.0/14'], ['2001:db8::/64'], ['not-an-address']]) {
    await t.throwsAsync(Testbed.create({ localPrefixes }), { instanceOf: InvalidArgumentError, code: 'ERR_SHAKER_INVALID_ADDRESS' });
  }
  await t.throwsAsync(Testbed.create({ extraAddresses: { server: ['192.0.2.1/24'] } }), { instanceOf: InvalidArgumentError });
  t.deepEqual(ownNamespaces(), before);
});

privilegedTest('execNode runs a .ts script inside the client namespace; runInClient any command', async (t) => {
  const tb = await withTestbed(t, { extraAddresses: { client: ['198.18.0.11/24'] } });
  const result = await tb.execNode(helper('print-netns.ts'), ['a', 'b']);
  t.is(result.code, 3);
  const seen = JSON.parse(result.stdout) as { argv: string[]; interfaces: Record<string, string[]> };
  t.deepEqual(seen.argv, ['a', 'b']);
  // Say what the namespace held if the veth is missing (seen once in ~10 full runs, not yet
  // explained: the script saw only `lo`).
  const links = (await tb.runInClient(['ip', '-o', 'addr', 'show'])).stdout.trim();
  t.deepEqual(Object.keys(seen.interfaces).sort(), ['lo', 'veth-client'], `ip addr in ${tb.client.name}:\n${links}`);
  t.true(seen.interfaces['veth-client'].includes('198.18.0.1'));
  t.true(seen.interfaces['veth-client'].includes('198.18.0.11'));

  const failed = await tb.runInClient(['ip', 'link', 'show', 'no-such-device']);
  t.not(failed.code, 0);
  await t.throwsAsync(tb.exec('client', ['ip', 'link', 'show', 'no-such-device']), { code: 'ERR_SHAKER_TESTBED_COMMAND' });
  t.throws(() => tb.exec('tshk-1-000000-c', ['true']), { instanceOf: InvalidArgumentError });
});

privilegedTest('await using destroys the testbed when the block throws', async (t) => {
  let names: string[] = [];
  await t.throwsAsync(
    async () => {
      await using tb = await Testbed.create();
      names = [tb.client.name, tb.server.name];
      await tb.startServer({ port: 80 });
      throw new Error('deliberate');
    },
    { message: 'deliberate' },
  );
  t.is(names.length, 2);
  assertGone(t, names);
});

// ava runs t.teardown even when the test fails; the next serial test checks the result.
let failedTestNamespaces: string[] = [];
privilegedTest.failing('a test that throws after withTestbed (expected to fail)', async (t) => {
  const tb = await withTestbed(t);
  failedTestNamespaces = [tb.client.name, tb.server.name];
  await tb.startServer({ port: 80 });
  throw new Error('deliberate failure: its teardown must still destroy the testbed');
});

privilegedTest('...and its t.teardown removed that testbed', (t) => {
  t.is(failedTestNamespaces.length, 2);
  assertGone(t, failedTestNamespaces);
});

interface HolderInfo {
  id: string;
  client: string;
  server: string;
  serverPid: number;
}

/** Pids whose command line mentions `text` (tcpdump's output path holds the testbed id). */
function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const pid = Number(entry);
      if (fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text) && processAlive(pid)) pids.push(pid);
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

/** Namespaces gone, the holder's server and tcpdump dead. */
async function assertHolderCleanedUp(t: ExecutionContext, info: HolderInfo): Promise<void> {
  assertGone(t, [info.client, info.server]);
  // SIGKILLed children are reaped by init a moment later.
  for (let i = 0; i < 50 && (processAlive(info.serverPid) || processesMentioning(info.id).length > 0); i++) await sleep(20);
  t.false(processAlive(info.serverPid), 'the server child is gone');
  t.deepEqual(processesMentioning(info.id), [], 'tcpdump is gone');
}

/** Starts test/helpers/testbed-holder.ts and waits for the namespace names it prints. */
async function startHolder(mode: 'hold' | 'throw') {
  const child = spawn(process.execPath, ['--import', 'tsx/esm', helper('testbed-holder.ts'), mode], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  const info = await new Promise<HolderInfo>((resolve, reject) => {
    readline.createInterface({ input: child.stdout }).once('line', (line) => resolve(JSON.parse(line) as HolderInfo));
    void exited.then(({ code, signal }) => reject(new Error(`holder exited early (${signal ?? code}): ${stderr}`)));
  });
  return { child, info, exited, stderr: () => stderr };
}

const cleansUpOn = test.macro({
  async exec(t, signal: 'SIGTERM' | 'SIGINT' | 'SIGHUP') {
    const { child, info, exited } = await startHolder('hold');
    t.true(listNamespaces().includes(info.client));
    child.kill(signal);
    const { code, signal: died } = await exited;
    t.is(died, signal, 'the signal is re-raised, so the exit status stays right');
    t.is(code, null);
    await assertHolderCleanedUp(t, info);
  },
  title: (_, signal: string) => `a process holding a testbed and killed with ${signal} leaves no namespace behind`,
});

privilegedTest(cleansUpOn, 'SIGTERM');
privilegedTest(cleansUpOn, 'SIGINT');
privilegedTest(cleansUpOn, 'SIGHUP');

privilegedTest('an uncaught exception in the owning process still cleans up', async (t) => {
  const { info, exited, stderr } = await startHolder('throw');
  const { code } = await exited;
  t.is(code, 1);
  t.regex(stderr(), /deliberate uncaught exception/);
  await assertHolderCleanedUp(t, info);
});

privilegedTest('after a SIGKILL, sweepStaleTestbeds removes the orphans and their processes', async (t) => {
  const { child, info, exited } = await startHolder('hold');
  child.kill('SIGKILL');
  await exited;
  // SIGKILL cannot be caught, so the namespaces stay until a sweep. Another test file running
  // now may create a testbed, which sweeps dead owners too: then they are gone already.
  const present = listNamespaces();
  const swept = sweepStaleTestbeds();
  for (const name of [info.client, info.server]) {
    t.true(swept.includes(name) || !present.includes(name), `${name}: swept ${swept.join(', ') || 'nothing'}`);
  }
  await assertHolderCleanedUp(t, info);
  const leftDirectories = fs.readdirSync(os.tmpdir()).filter((entry) => entry.startsWith(`${info.id}-`));
  t.deepEqual(leftDirectories, [], 'its capture directory is swept too');
});

privilegedTest('sweepStaleTestbeds leaves the testbeds of live processes alone', async (t) => {
  const tb = await withTestbed(t);
  t.false(sweepStaleTestbeds().includes(tb.client.name));
  t.true(listNamespaces().includes(tb.client.name));
});
