// The kernel-RST shim: the rendered text (golden files, pure), the nft plumbing (error
// classification, JSON parsing), and, as root, the real thing inside throwaway network
// namespaces: install/remove, the owner flag surviving nothing (SIGKILL), Ctrl-C not reaching
// nft, the stale-table sweep, and the drop rule really silencing the kernel's RST.
import test, { type ExecutionContext } from 'ava';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { InvalidArgumentError, SystemError, UnsupportedError } from '../../src/core/errors.js';
import { findNft, nftFailure, parseTableList } from '../../src/firewall/nft-command.js';
import { NftSession } from '../../src/firewall/nft-session.js';
import {
  NftShim,
  nftAvailable,
  renderShimRuleset,
  shimTableName,
  shimTablePid,
  sweepStaleTables,
  toInteractiveLine,
  type ShimRulesetOptions,
} from '../../src/firewall/nftables.js';
import { nftPortElements, renderAddPorts } from '../../src/firewall/ruleset.js';
import { parseAddress } from '../../src/wire/address.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const fixture = (name: string): string => path.join(root, 'fixtures/nft', name);

// ---------------------------------------------------------------------------------------------
// Pure: golden files. UPDATE_GOLDEN=1 rewrites them; review the diff before committing.

const goldenCases: Array<{ file: string; options: ShimRulesetOptions }> = [
  { file: 'shim.nft', options: { tableName: 'tcp_shaker_4242_c0ffee', portRange: [61000, 65535], owner: true } },
  { file: 'shim-no-owner.nft', options: { tableName: 'tcp_shaker_4242_c0ffee', portRange: [40000, 40000], owner: false } },
  {
    file: 'shim-claimed.nft',
    options: { tableName: 'tcp_shaker_4242_c0ffee', portRange: [61000, 65535], ports: [61064, 61065, 61066, 61000, 62000], owner: true },
  },
];

const golden = test.macro({
  exec(t, file: string, options: ShimRulesetOptions) {
    const text = renderShimRuleset(options);
    if (process.env.UPDATE_GOLDEN === '1') writeFileSync(fixture(file), text);
    t.is(text, readFileSync(fixture(file), 'utf8'));
  },
  title: (_ = '', file: string) => `renderShimRuleset matches fixtures/nft/${file}`,
});
for (const { file, options } of goldenCases) test(golden, file, options);

test('claimed ports become set elements, runs joined; NftShim.addPorts() adds more the same way', (t) => {
  t.is(nftPortElements([5, 1, 2, 3, 9, 10, 3]), '1-3, 5, 9-10');
  t.is(renderAddPorts('tcp_shaker_1_ab', [61064, 61065]), 'add element inet tcp_shaker_1_ab probe_ports { 61064-61065 }');
  t.throws(() => renderAddPorts('tcp_shaker_1_ab', [0]), { instanceOf: InvalidArgumentError });
  t.throws(() => renderAddPorts('bad name;', [1]), { instanceOf: InvalidArgumentError });
  // A claimed port outside the range is a bug of the caller.
  t.throws(() => renderShimRuleset({ tableName: 'tcp_shaker_1_ab', portRange: [61000, 61063], ports: [61064], owner: true }), {
    instanceOf: InvalidArgumentError,
  });
});

test('the shim drops SYN-ACKs to claimed ports only: no rule takes every segment to the range', (t) => {
  const text = renderShimRuleset({ tableName: 'tcp_shaker_1_ab', portRange: [61000, 65535], ports: [61000], owner: true });
  const drops = text.split('\n').filter((line) => /\bdrop\b/.test(line) && !line.trim().startsWith('#'));
  t.is(drops.length, 1);
  t.regex(drops[0], /tcp dport @probe_ports tcp flags & \(syn \| ack \| rst\) == syn \| ack counter drop/);
});

const badRender = test.macro({
  exec(t, options: unknown) {
    t.throws(() => renderShimRuleset(options as ShimRulesetOptions), { instanceOf: InvalidArgumentError });
  },
  title: (label = '') => `renderShimRuleset rejects ${label}`,
});
const base: ShimRulesetOptions = { tableName: 'tcp_shaker_1_aa', portRange: [61000, 61999], owner: true };
test('reversed port range', badRender, { ...base, portRange: [2, 1] });
test('port 0', badRender, { ...base, portRange: [0, 10] });
test('port 65536', badRender, { ...base, portRange: [1, 65536] });
test('a fractional port', badRender, { ...base, portRange: [1.5, 10] });
test('a one-element range', badRender, { ...base, portRange: [10] });
test('a table name with a space (script injection)', badRender, { ...base, tableName: 'x { } ; flush ruleset' });
test('a table name starting with a digit', badRender, { ...base, tableName: '1abc' });
test('an empty table name', badRender, { ...base, tableName: '' });

test('toInteractiveLine: one line, no comments, a separator after every closing brace', (t) => {
  const line = toInteractiveLine(renderShimRuleset(base));
  t.false(line.includes('\n'));
  t.false(line.includes('#'));
  t.regex(line, /^table inet tcp_shaker_1_aa \{; flags owner; set probe_ports \{; type inet_service; flags interval; auto-merge; elements = \{ [0-9-]+ \}; \}; chain prerouting \{/);
  t.regex(line, /\}; chain output \{/);
  t.true(line.endsWith('}; }'));
});

test('shimTableName carries the pid that shimTablePid reads back', (t) => {
  const name = shimTableName(4242);
  t.regex(name, /^tcp_shaker_4242_[0-9a-f]{6}$/);
  t.is(shimTablePid(name), 4242);
  t.not(shimTableName(4242), name, 'two instances in one process get different names');
  for (const other of ['filter', 'tcp_shaker_', 'tcp_shaker_0_aa', 'tcp_shaker_12', 'tcp_shaker_12_AB', 'xtcp_shaker_12_ab']) {
    t.is(shimTablePid(other), undefined, other);
  }
});

// nft's real stderr for each situation, captured from nft 1.0.6.
const failures: Array<{ stderr: string; error: typeof UnsupportedError | typeof SystemError; code: string }> = [
  {
    stderr: 'Operation not permitted (you must be root)\nnetlink: Error: cache initialization failed: Operation not permitted\n',
    error: UnsupportedError,
    code: 'ERR_SHAKER_UNSUPPORTED',
  },
  {
    stderr: '/dev/stdin:1:30-35: Error: unknown table option ownerx\nadd table inet probe { flags ownerx; }\n                             ^^^^^^\n',
    error: UnsupportedError,
    code: 'ERR_SHAKER_UNSUPPORTED',
  },
  {
    stderr: "Error: syntax error, unexpected '}', expecting newline or semicolon\n",
    error: UnsupportedError,
    code: 'ERR_SHAKER_UNSUPPORTED',
  },
  { stderr: 'Error: Could not process rule: Operation not supported\nadd table inet x { flags owner; }\n', error: SystemError, code: 'EOPNOTSUPP' },
  { stderr: 'Error: Could not process rule: No such file or directory\ndelete table inet nothere\n', error: SystemError, code: 'ENOENT' },
  { stderr: 'something nobody expected\n', error: SystemError, code: 'ERR_SHAKER_SYSTEM' },
];
const classify = test.macro({
  exec(t, stderr: string, error: typeof UnsupportedError | typeof SystemError, code: string) {
    const e = nftFailure('cannot install table x', stderr);
    t.true(e instanceof error, e.name);
    t.is(e.code, code);
    t.false(e.message.includes('\n'), 'one line');
    t.true(e.message.startsWith('cannot install table x: '));
  },
  title: (_ = '', stderr: string) => `nftFailure classifies: ${stderr.split('\n').find((l) => l.includes('Error')) ?? stderr.trim()}`,
});
for (const { stderr, error, code } of failures) test(classify, stderr, error, code);

test('parseTableList reads `nft list tables` text', (t) => {
  t.deepEqual(parseTableList('table inet t1\ntable ip nat\n\ntable bridge tcp_shaker_1_ab\n'), [
    { family: 'inet', name: 't1' },
    { family: 'ip', name: 'nat' },
    { family: 'bridge', name: 'tcp_shaker_1_ab' },
  ]);
  t.deepEqual(parseTableList(''), []);
  t.deepEqual(parseTableList('Error: something\n'), []);
});

test('findNft skips node_modules/.bin (where @vercel/nft puts a JavaScript `nft`)', (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tsk-findnft-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const fake = (sub: string): string => {
    mkdirSync(path.join(dir, sub), { recursive: true });
    writeFileSync(path.join(dir, sub, 'nft'), '#!/bin/sh\n');
    chmodSync(path.join(dir, sub, 'nft'), 0o755);
    return path.join(dir, sub);
  };
  const tracer = fake('node_modules/.bin');
  const real = fake('sbin');
  t.is(findNft([tracer, real].join(path.delimiter)), path.join(real, 'nft'));
  t.not(findNft(tracer), path.join(tracer, 'nft'));
  t.not(findNft(`relative${path.delimiter}${tracer}`), 'relative/nft');
});

test('NftShim.install validates before running anything', async (t) => {
  await t.throwsAsync(NftShim.install({ portRange: [5, 1] }), { instanceOf: InvalidArgumentError });
  await t.throwsAsync(NftShim.install({ portRange: [1, 5], owner: true, nftCommand: [] }), { instanceOf: InvalidArgumentError });
});

test('a missing nft binary is an UnsupportedError, from install and from nftAvailable', async (t) => {
  const nftCommand = ['/nonexistent/nft'];
  const error = await t.throwsAsync(NftShim.install({ portRange: [61000, 61999], nftCommand, owner: true }));
  t.true(error instanceof UnsupportedError);
  t.regex(error!.message, /not found/);
  const availability = await nftAvailable({ nftCommand });
  t.false(availability.ok);
  t.regex(availability.reason ?? '', /not found/);
});

// ---------------------------------------------------------------------------------------------
// Privileged: network namespaces. Root runs them; CI (root) must run them.

const isRoot = process.getuid?.() === 0;
const privileged = isRoot || process.env.CI === 'true';
const skipReason = 'nftables tests need root (network namespaces, CAP_NET_ADMIN): run as root or with CI=true';
if (!privileged) console.warn(`test/firewall/nftables.test.ts: SKIPPING privileged tests: ${skipReason}`);
const rootTest = privileged ? test.serial : test.serial.skip;
if (!privileged) {
  test('privileged tests were skipped', (t) => {
    t.log(`SKIPPED: ${skipReason}`);
    t.pass();
  });
}

const created = new Set<string>();
let namespaceCount = 0;

function sh(argv: readonly string[], input?: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(argv[0], argv.slice(1), { input, encoding: 'utf8' });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function must(argv: readonly string[], input?: string): string {
  const r = sh(argv, input);
  if (r.code !== 0) throw new Error(`${argv.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** A fresh namespace with lo up, deleted when the test ends, whatever happens. */
function namespace(t: ExecutionContext): string {
  const name = `tsk-fw-${process.pid}-${++namespaceCount}`;
  must(['ip', 'netns', 'add', name]);
  created.add(name);
  t.teardown(() => deleteNamespace(name));
  must(['ip', '-n', name, 'link', 'set', 'lo', 'up']);
  return name;
}

function deleteNamespace(name: string): void {
  for (const pid of sh(['ip', 'netns', 'pids', name]).stdout.split(/\s+/).filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // already gone
    }
  }
  sh(['ip', 'netns', 'del', name]);
  created.delete(name);
}

test.after.always('no namespace left behind', () => {
  for (const name of [...created]) deleteNamespace(name);
});

const inNs = (ns: string, ...argv: string[]): string[] => ['ip', 'netns', 'exec', ns, ...argv];
const nftIn = (ns: string): string[] => inNs(ns, findNft());
const tablesIn = (ns: string): string[] =>
  parseTableList(must([...nftIn(ns), 'list', 'tables'])).map((table) => `${table.family} ${table.name}`);

async function waitFor(what: string, predicate: () => boolean, timeoutMs = 3000): Promise<number> {
  const start = performance.now();
  while (!predicate()) {
    if (performance.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return performance.now() - start;
}

/** Starts a child and collects its output; killed (by pid) at the end of the test. */
interface Background {
  child: ChildProcess;
  out: () => string;
  err: () => string;
}

function background(t: ExecutionContext, argv: readonly string[], options: { detached?: boolean } = {}): Background {
  const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], detached: options.detached });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { child, out: () => stdout, err: () => stderr };
}

rootTest('the rendered scripts and their one-line forms pass `nft -c` (owner and plain)', (t) => {
  const ns = namespace(t);
  for (const owner of [true, false]) {
    const script = renderShimRuleset({ ...base, owner });
    for (const text of [script, `${toInteractiveLine(script)}\n`]) {
      const r = sh([...nftIn(ns), '-c', '-f', '-'], text);
      t.is(r.code, 0, r.stderr);
    }
  }
  t.deepEqual(tablesIn(ns), [], '-c creates nothing');
});

rootTest('nftAvailable: ok with owner support as root, a clear reason without CAP_NET_ADMIN', async (t) => {
  const ns = namespace(t);
  const start = performance.now();
  const ok = await nftAvailable({ nftCommand: nftIn(ns) });
  t.log(`nftAvailable: ${(performance.now() - start).toFixed(1)} ms, ${JSON.stringify(ok)}`);
  t.true(ok.ok);
  t.true(ok.ownerFlag, 'this kernel and nft support flags owner');
  t.regex(ok.version ?? '', /^nftables v\d/);
  const unprivileged = inNs(ns, 'setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', findNft());
  const denied = await nftAvailable({ nftCommand: unprivileged });
  t.false(denied.ok);
  t.regex(denied.reason ?? '', /root or CAP_NET_ADMIN.*Operation not permitted/);
  const error = await t.throwsAsync(NftShim.install({ portRange: [61000, 61999], nftCommand: unprivileged }));
  t.true(error instanceof UnsupportedError, error?.name);
  const forced = await t.throwsAsync(NftShim.install({ portRange: [61000, 61999], nftCommand: unprivileged, owner: true }));
  t.true(forced instanceof UnsupportedError, forced?.name);
  t.regex(forced!.message, /CAP_NET_ADMIN/);
});

rootTest('install applies the ruleset, remove() deletes it; both owner and plain tables', async (t) => {
  const ns = namespace(t);
  for (const owner of [true, false]) {
    let start = performance.now();
    const shim = await NftShim.install({ portRange: [61000, 61999], nftCommand: nftIn(ns), owner });
    const installMs = performance.now() - start;
    t.is(shim.owner, owner);
    t.true(shim.active);
    t.regex(shim.tableName, new RegExp(`^tcp_shaker_${process.pid}_[0-9a-f]{6}$`));
    const ruleset = must([...nftIn(ns), 'list', 'ruleset']);
    t.true(ruleset.includes(`table inet ${shim.tableName} {`));
    t.is(ruleset.includes('flags owner'), owner);
    t.regex(ruleset, /set probe_ports \{\n\s+type inet_service\n\s+flags interval\n\s+auto-merge\n\s+elements = \{ 61000-61999 \}/);
    // nft lists `flags & (syn | ack | rst) == syn | ack` in its own short form.
    t.regex(ruleset, /type filter hook prerouting priority raw; policy accept;\n\s+tcp dport @probe_ports tcp flags syn,ack \/ syn,rst,ack counter packets 0 bytes 0 drop/);
    t.regex(ruleset, /type filter hook output priority raw; policy accept;\n\s+tcp sport @probe_ports counter packets \d+ bytes \d+ notrack/);
    t.regex(ruleset, /oifname "lo" tcp dport @probe_ports counter packets \d+ bytes \d+ notrack/);
    start = performance.now();
    await shim.remove();
    const removeMs = performance.now() - start;
    t.log(`owner=${owner}: install ${installMs.toFixed(1)} ms (auto-detection skipped), remove ${removeMs.toFixed(1)} ms`);
    t.false(shim.active);
    t.deepEqual(tablesIn(ns), []);
    await shim.remove(); // idempotent
  }
  const start = performance.now();
  const auto = await NftShim.install({ portRange: [61000, 61999], nftCommand: nftIn(ns) });
  t.log(`owner=auto: install ${(performance.now() - start).toFixed(1)} ms including nftAvailable()`);
  t.true(auto.owner);
  t.is(auto.warning, undefined);
  await auto[Symbol.asyncDispose]();
  t.deepEqual(tablesIn(ns), []);
});

rootTest('a shim made with the claimed ports grows with addPorts(), owner and plain', async (t) => {
  const ns = namespace(t);
  for (const owner of [true, false]) {
    const shim = await NftShim.install({ portRange: [61000, 61999], ports: [61000, 61001], nftCommand: nftIn(ns), owner });
    t.regex(must([...nftIn(ns), 'list', 'set', 'inet', shim.tableName, 'probe_ports']), /elements = \{ 61000-61001 \}/);
    await shim.addPorts([61064, 61065, 61066, 61500]);
    t.regex(must([...nftIn(ns), 'list', 'set', 'inet', shim.tableName, 'probe_ports']), /elements = \{ 61000-61001, 61064-61066,\s+61500 \}/);
    // Claims come a block at a time: adjacent blocks merge into one interval (auto-merge), so
    // the kernel's lookup per packet stays a search over a few intervals, not one per block.
    await shim.addPorts([61002, 61003]);
    await shim.addPorts(Array.from({ length: 61063 - 61004 + 1 }, (_, i) => 61004 + i));
    t.regex(must([...nftIn(ns), 'list', 'set', 'inet', shim.tableName, 'probe_ports']), /elements = \{ 61000-61066,\s+61500 \}/);
    await shim.remove();
    await shim.addPorts([61600]); // after remove(): nothing to add to, no error
    t.deepEqual(tablesIn(ns), []);
  }
});

rootTest('two shims side by side get distinct tables; an existing foreign table is left alone', async (t) => {
  const ns = namespace(t);
  must([...nftIn(ns), '-f', '-'], 'table inet filter { chain input { type filter hook input priority 0; }; }\n');
  const [a, b] = await Promise.all([
    NftShim.install({ portRange: [61000, 61499], nftCommand: nftIn(ns), owner: true }),
    NftShim.install({ portRange: [61500, 61999], nftCommand: nftIn(ns), owner: true }),
  ]);
  t.not(a.tableName, b.tableName);
  t.deepEqual(tablesIn(ns).sort(), ['inet filter', `inet ${a.tableName}`, `inet ${b.tableName}`].sort());
  await a.remove();
  t.deepEqual(tablesIn(ns).sort(), ['inet filter', `inet ${b.tableName}`].sort());
  await b.remove();
  t.deepEqual(tablesIn(ns), ['inet filter']);
});

rootTest('a table name already in use is refused (EEXIST) and the existing table is left as it was', async (t) => {
  const ns = namespace(t);
  for (const owner of [true, false]) {
    const first = await NftShim.install({ portRange: [61000, 61999], nftCommand: nftIn(ns), owner, tableName: 'tcp_shaker_1_dup' });
    const before = must([...nftIn(ns), 'list', 'ruleset']);
    const error = await t.throwsAsync(NftShim.install({ portRange: [62000, 62999], nftCommand: nftIn(ns), owner, tableName: 'tcp_shaker_1_dup' }));
    t.true(error instanceof SystemError, error?.name);
    t.is((error as SystemError | undefined)?.code, 'EEXIST');
    t.is(must([...nftIn(ns), 'list', 'ruleset']), before);
    t.true(first.active);
    await first.remove();
    t.deepEqual(tablesIn(ns), []);
  }
});

rootTest('the nft session reports a bad command on stderr and stays usable', async (t) => {
  const ns = namespace(t);
  const session = await NftSession.open(nftIn(ns), 5000);
  t.teardown(() => session.close(1000));
  t.deepEqual(session.initialTables, []);
  const bad = await session.run('add table inet x { bogus; }', 5000);
  t.regex(bad.stderr, /Error: syntax error/);
  t.deepEqual(bad.tables, []);
  const good = await session.run('add table inet x', 5000);
  t.is(good.stderr, '');
  t.deepEqual(good.tables, [{ family: 'inet', name: 'x' }]);
  t.throws(() => session.run('list tables\nflush ruleset', 5000), { instanceOf: TypeError });
  await session.close(1000);
  t.false(session.alive);
  t.deepEqual(tablesIn(ns), [{ family: 'inet', name: 'x' }].map((x) => `${x.family} ${x.name}`), 'a plain table outlives the session');
});

rootTest('nft without its interactive CLI: a plain table applied once, with a warning; owner: true refuses', async (t) => {
  const ns = namespace(t);
  // Behaves like an nft built without CLI support for `-i`, like the real one otherwise.
  const script =
    'for a in "$@"; do if [ "$a" = -i ]; then echo "Error: interactive CLI not supported in this build" >&2; exit 1; fi; done; ' +
    `exec ip netns exec ${ns} ${findNft()} "$@"`;
  const nftCommand = ['sh', '-c', script, 'nft'];
  const shim = await NftShim.install({ portRange: [61000, 61999], nftCommand });
  t.false(shim.owner);
  t.regex(shim.warning ?? '', /interactive CLI.*sweepStaleTables/);
  t.true(shim.active);
  t.deepEqual(tablesIn(ns), [`inet ${shim.tableName}`]);
  t.regex(must([...nftIn(ns), 'list', 'ruleset']), /elements = \{ 61000-61999 \}[^]*tcp dport @probe_ports tcp flags syn,ack \/ syn,rst,ack counter packets 0 bytes 0 drop/);
  await shim.remove();
  t.deepEqual(tablesIn(ns), []);
  const error = await t.throwsAsync(NftShim.install({ portRange: [61000, 61999], nftCommand, owner: true }));
  t.true(error instanceof UnsupportedError, error?.name);
  t.regex(error!.message, /interactive CLI/);
  t.deepEqual(tablesIn(ns), []);
});

rootTest('onLost fires when nft is killed under us; the owner table goes with it', async (t) => {
  const ns = namespace(t);
  let lost: Error | undefined;
  const shim = await NftShim.install({ portRange: [61000, 61999], nftCommand: nftIn(ns), owner: true, onLost: (e) => (lost = e) });
  // Our own child (`ip netns exec` execs nft): found among this process's children only.
  const nftPid = sh(['pgrep', '-P', String(process.pid), '-x', 'nft']).stdout.trim();
  t.regex(nftPid, /^\d+$/);
  process.kill(Number(nftPid), 'SIGKILL');
  await waitFor('onLost', () => lost !== undefined);
  t.false(shim.active);
  t.deepEqual(tablesIn(ns), []);
  await shim.remove(); // nothing left to do, and no error
});

const shimScript = (owner: boolean, onSigint = ''): string => `
import { NftShim } from ${JSON.stringify(pathToFileURL(path.join(root, 'src/firewall/nftables.ts')).href)};
const shim = await NftShim.install({ portRange: [61000, 61999], owner: ${owner} });
${onSigint}
console.log('READY ' + shim.tableName);
setInterval(() => {}, 1000);
`;

function runShimProcess(t: ExecutionContext, ns: string, script: string, options: { detached?: boolean } = {}): Background {
  return background(t, inNs(ns, process.execPath, '--import', 'tsx/esm', '--input-type=module', '-e', script), options);
}

async function readyTable(p: Background): Promise<string> {
  await waitFor(`the shim process to be ready (stderr: ${p.err()})`, () => /READY \S+\n/.test(p.out()) || p.child.exitCode !== null, 15000);
  const match = /READY (\S+)\n/.exec(p.out());
  if (!match) throw new Error(`shim process failed: ${p.err()}`);
  return match[1];
}

rootTest('SIGKILL of the owning process: the kernel drops the owner table at once', async (t) => {
  const ns = namespace(t);
  const p = runShimProcess(t, ns, shimScript(true));
  const table = await readyTable(p);
  t.deepEqual(tablesIn(ns), [`inet ${table}`]);
  // `ip netns exec` execs node, so this pid is the node process itself.
  p.child.kill('SIGKILL');
  const ms = await waitFor('the table to vanish', () => tablesIn(ns).length === 0);
  t.log(`owner table gone ${ms.toFixed(0)} ms after SIGKILL`);
  await waitFor('nft to exit', () => sh(['ip', 'netns', 'pids', ns]).stdout.trim() === '');
});

rootTest('SIGKILL without the owner flag leaves the table; the sweep removes it, keeps live ones', async (t) => {
  const ns = namespace(t);
  const p = runShimProcess(t, ns, shimScript(false));
  const stale = await readyTable(p);
  p.child.kill('SIGKILL');
  await new Promise((resolve) => p.child.once('exit', resolve));
  await waitFor('nft to exit', () => sh(['ip', 'netns', 'pids', ns]).stdout.trim() === '');
  t.deepEqual(tablesIn(ns), [`inet ${stale}`], 'a plain table outlives its process');

  // A live process's table (ours) and tables that are not ours at all must survive.
  const alive = shimTableName(process.pid);
  const sleeper = background(t, ['sleep', '30']);
  const aliveOther = shimTableName(sleeper.child.pid!);
  must([...nftIn(ns), '-f', '-'], `table inet ${alive} {}\ntable inet ${aliveOther} {}\ntable inet filter {}\ntable ip tcp_shaker_1_ab {}\n`);
  const start = performance.now();
  const removed = await sweepStaleTables({ nftCommand: nftIn(ns) });
  t.log(`sweep: ${(performance.now() - start).toFixed(1)} ms, removed ${removed.join(', ')}`);
  t.deepEqual(removed, [stale]);
  t.deepEqual(tablesIn(ns).sort(), ['inet filter', `inet ${alive}`, `inet ${aliveOther}`, 'ip tcp_shaker_1_ab'].sort());
  t.deepEqual(await sweepStaleTables({ nftCommand: nftIn(ns) }), [], 'a second sweep finds nothing');
  t.deepEqual(await sweepStaleTables({ nftCommand: nftIn(ns), isAlive: () => false }), [aliveOther], 'never our own pid');
});

rootTest('Ctrl-C to the process group does not reach nft: the table stays until our handler removes it', async (t) => {
  const ns = namespace(t);
  const onSigint = `
import { spawnSync } from 'node:child_process';
process.on('SIGINT', async () => {
  await new Promise((r) => setTimeout(r, 300));
  const tables = spawnSync(${JSON.stringify(findNft())}, ['list', 'tables'], { encoding: 'utf8' }).stdout;
  console.log('DURING ' + (tables.includes(shim.tableName) ? 'present' : 'gone'));
  await shim.remove();
  process.exit(0);
});`;
  // Its own process group, like a shell job: the signal goes to the group, as a terminal's would.
  const p = runShimProcess(t, ns, shimScript(true, onSigint), { detached: true });
  await readyTable(p);
  process.kill(-p.child.pid!, 'SIGINT');
  const code = await new Promise((resolve) => p.child.once('exit', resolve));
  t.is(code, 0, p.err());
  t.regex(p.out(), /DURING present/);
  t.deepEqual(tablesIn(ns), []);
});

// ---------------------------------------------------------------------------------------------
// Does the drop rule stop the kernel's RST? Raw SYNs built here, sent by the native addon from
// inside a namespace; tcpdump counts the RSTs the kernel sends.

function internetChecksum(bytes: Uint8Array, initial = 0): number {
  let sum = initial;
  for (let i = 0; i < bytes.length; i += 2) sum += (bytes[i] << 8) | (bytes[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** An IPv4 or IPv6 packet carrying a 20-byte TCP SYN, checksums filled. */
function rawSyn(src: string, dst: string, srcPort: number, dstPort: number): Uint8Array {
  const s = parseAddress(src)!;
  const d = parseAddress(dst)!;
  const tcp = new Uint8Array(20);
  const tv = new DataView(tcp.buffer);
  tv.setUint16(0, srcPort);
  tv.setUint16(2, dstPort);
  tv.setUint32(4, 0x5eed1234);
  tcp[12] = 5 << 4;
  tcp[13] = 0x02; // SYN
  tv.setUint16(14, 64240);
  // Pseudo-headers: RFC 9293 §3.1 (IPv4), RFC 8200 §8.1 (IPv6).
  const pseudoSum = internetChecksum(s.length === 4 ? Uint8Array.of(...s, ...d, 0, 6, 0, 20) : Uint8Array.of(...s, ...d, 0, 0, 0, 20, 0, 0, 0, 6));
  tv.setUint16(16, ~internetChecksum(tcp, pseudoSum) & 0xffff);
  if (s.length === 4) {
    const ip = new Uint8Array(40);
    const v = new DataView(ip.buffer);
    ip[0] = 0x45;
    v.setUint16(2, 40);
    ip[8] = 64;
    ip[9] = 6;
    ip.set(s, 12);
    ip.set(d, 16);
    v.setUint16(10, ~internetChecksum(ip.subarray(0, 20)) & 0xffff);
    ip.set(tcp, 20);
    return ip;
  }
  const ip = new Uint8Array(60);
  const v = new DataView(ip.buffer);
  ip[0] = 0x60;
  v.setUint16(4, 20);
  ip[6] = 6;
  ip[7] = 64;
  ip.set(s, 8);
  ip.set(d, 24);
  ip.set(tcp, 40);
  return ip;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Sends raw packets from inside `ns` through the native addon (IP_HDRINCL raw sockets). */
function sendRaw(ns: string, packets: Array<{ family: 4 | 6; dst: string; bytes: Uint8Array }>): void {
  const require = createRequire(import.meta.url);
  const sender = `
const [gypBuild, root, ...jobs] = process.argv.slice(1);
const addon = require(gypBuild)(root);
for (const job of jobs) {
  const [family, dst, bytes] = job.split(':');
  const fd = addon.openRaw(Number(family), 0);
  if (fd < 0) throw new Error('openRaw: ' + fd);
  const rc = addon.send(fd, Buffer.from(bytes, 'hex'), Buffer.from(dst, 'hex'));
  addon.close(fd);
  if (rc < 0) throw new Error('send: ' + rc);
}`;
  const jobs = packets.map((p) => `${p.family}:${hex(parseAddress(p.dst)!)}:${hex(p.bytes)}`);
  must(inNs(ns, process.execPath, '-e', sender, require.resolve('node-gyp-build'), root, ...jobs));
}

/** A TCP listener on port 8080 of every address in `ns`, v4 and v6. */
async function listener(t: ExecutionContext, ns: string): Promise<void> {
  const server = background(t, inNs(ns, process.execPath, '-e', "require('net').createServer().listen(8080, '::', () => console.log('LISTENING'))"));
  await waitFor('the listener', () => server.out().includes('LISTENING'), 10000);
}

/**
 * tcpdump on `iface` in `ns`, one line per packet; call the returned function to stop it and get
 * the lines, once every `expected` pattern has shown up (then a short wait for anything that
 * must not). Immediate mode: otherwise a packet can sit in the kernel's ring block for up to a
 * second and be lost when tcpdump stops.
 */
async function tcpdump(t: ExecutionContext, ns: string, iface: string, filter: string): Promise<(expected?: RegExp[]) => Promise<string[]>> {
  const p = background(t, inNs(ns, 'tcpdump', '-i', iface, '-nn', '-l', '--immediate-mode', '-Q', 'in', filter));
  await waitFor('tcpdump to listen', () => p.err().includes('listening on'), 10000);
  return async (expected = []) => {
    // A pattern that never shows up fails the caller's assertion, with the lines logged.
    await waitFor('the expected packets', () => expected.every((re) => re.test(p.out())), 10000).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 300));
    p.child.kill('SIGTERM');
    await new Promise((resolve) => p.child.once('exit', resolve));
    return p.out().split('\n').filter(Boolean);
  };
}

function dropCounter(ns: string, table: string): number {
  const chain = must([...nftIn(ns), 'list', 'chain', 'inet', table, 'prerouting']);
  const match = /tcp dport \S+ tcp flags \S+ \/ \S+ counter packets (\d+)/.exec(chain);
  if (!match) throw new Error(`no drop counter in:\n${chain}`);
  return Number(match[1]);
}

rootTest('over a veth pair: without the shim the kernel sends RST to a SYN-ACK, with it nothing', async (t) => {
  const client = namespace(t);
  const server = namespace(t);
  must(['ip', '-n', client, 'link', 'add', 'vc', 'type', 'veth', 'peer', 'name', 'vs', 'netns', server]);
  must(['ip', '-n', client, 'addr', 'add', '198.18.0.1/24', 'dev', 'vc']);
  must(['ip', '-n', server, 'addr', 'add', '198.18.0.2/24', 'dev', 'vs']);
  must(['ip', '-n', client, 'link', 'set', 'vc', 'up']);
  must(['ip', '-n', server, 'link', 'set', 'vs', 'up']);
  await listener(t, server);
  const stop = await tcpdump(t, server, 'vs', 'tcp and src host 198.18.0.1');

  // Control: a probe port outside the shim's range gets the kernel's RST after the SYN-ACK.
  sendRaw(client, [{ family: 4, dst: '198.18.0.2', bytes: rawSyn('198.18.0.1', '198.18.0.2', 50001, 8080) }]);
  const shim = await NftShim.install({ portRange: [61000, 61999], nftCommand: nftIn(client) });
  t.teardown(() => shim.remove());
  sendRaw(client, [{ family: 4, dst: '198.18.0.2', bytes: rawSyn('198.18.0.1', '198.18.0.2', 61001, 8080) }]);
  await waitFor('the SYN-ACK to be dropped', () => dropCounter(client, shim.tableName) >= 1);
  const controlRst = /198\.18\.0\.1\.50001 > 198\.18\.0\.2\.8080: Flags \[R\]/;
  const probeSyn = /198\.18\.0\.1\.61001 > 198\.18\.0\.2\.8080: Flags \[S\]/;
  const lines = await stop([controlRst, probeSyn]);
  t.log(lines.join('\n'));
  t.true(lines.some((l) => controlRst.test(l)), 'control: RST from the unshimmed port');
  t.true(lines.some((l) => probeSyn.test(l)), 'the probe SYN went out');
  t.false(lines.some((l) => /198\.18\.0\.1\.61001 > .*Flags \[R/.test(l)), 'no RST from the shimmed port');
  await shim.remove();
});

rootTest('over loopback (127.0.0.1 and ::1): the SYN-ACK passes output then prerouting, and is dropped there', async (t) => {
  const ns = namespace(t);
  await listener(t, ns);
  // On lo every packet is both sent and received; -Q in shows each once.
  const stop = await tcpdump(t, ns, 'lo', 'tcp');
  sendRaw(ns, [{ family: 4, dst: '127.0.0.1', bytes: rawSyn('127.0.0.1', '127.0.0.1', 50001, 8080) }]);
  const shim = await NftShim.install({ portRange: [61000, 61999], nftCommand: nftIn(ns) });
  t.teardown(() => shim.remove());
  // A watcher after conntrack (priority 0): our looped-back SYNs must still be untracked there,
  // because the output chain's notrack mark travels with the packet through lo.
  must(
    [...nftIn(ns), '-f', '-'],
    'table inet watch { chain pre { type filter hook prerouting priority 0; policy accept;\n' +
      'iifname "lo" tcp sport 61000-61999 ct state untracked counter\n' +
      'iifname "lo" tcp sport 61000-61999 ct state != untracked counter\n}; }\n',
  );
  sendRaw(ns, [
    { family: 4, dst: '127.0.0.1', bytes: rawSyn('127.0.0.1', '127.0.0.1', 61001, 8080) },
    { family: 6, dst: '::1', bytes: rawSyn('::1', '::1', 61002, 8080) },
  ]);
  await waitFor('both SYN-ACKs to be dropped', () => dropCounter(ns, shim.tableName) >= 2);
  const controlRst = /127\.0\.0\.1\.50001 > 127\.0\.0\.1\.8080: Flags \[R\]/;
  const synAck4 = /127\.0\.0\.1\.8080 > 127\.0\.0\.1\.61001: Flags \[S\.\]/;
  const synAck6 = /::1\.8080 > ::1\.61002: Flags \[S\.\]/;
  const lines = await stop([controlRst, synAck4, synAck6]);
  t.log(lines.join('\n'));
  t.true(lines.some((l) => controlRst.test(l)), 'control: RST from the unshimmed port');
  t.true(lines.some((l) => synAck4.test(l)), 'capture still sees the v4 SYN-ACK');
  t.true(lines.some((l) => synAck6.test(l)), 'capture still sees the v6 SYN-ACK');
  t.false(lines.some((l) => /\.6100[12] > .*Flags \[R/.test(l)), 'no RST from the shimmed ports');
  const watch = must([...nftIn(ns), 'list', 'chain', 'inet', 'watch', 'pre']);
  const [untracked, tracked] = [...watch.matchAll(/counter packets (\d+)/g)].map((m) => Number(m[1]));
  t.is(untracked, 2, 'both SYNs reached prerouting untracked');
  t.is(tracked, 0);
  await shim.remove();
});
