// The package as a user gets it: `npm pack` (prepare builds dist/, prepack the prebuilt addon),
// then `npm install <tarball>` into a fresh app whose PATH has node and npm but no compiler,
// make or python, so nothing can be built there. Then, as root in a testbed, the raw strategy
// through ESM `import`, CommonJS `require` and the installed `tcp-checker` bin: open and closed
// verdicts, and the server application accepts nothing. Also: the same without any install
// script (`--ignore-scripts`: the prebuilt binary needs none), what the prebuilt binary links
// against (README "Install": libpcap0.8, glibc, libstdc++; no libpcap-dev), and that
// `npm rebuild --build-from-source` still builds the addon from native/, and that an install
// from git (`prepare`) builds dist/ and the addon.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, existsSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test, { type ExecutionContext } from 'ava';
import { privilegedTest, withTestbed } from '../helpers/testbed.js';
import type { Testbed } from '../../src/testbed/index.js';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const PREBUILT = 'prebuilds/linux-x64/tcp-shaker.glibc.node';
const OPEN = 80;
const CLOSED = 79;
// Everything the apps' scripts and npm need; deliberately no cc, gcc, g++, make or python3.
const TOOLS = ['node', 'npm', 'npx', 'sh', 'bash', 'env', 'uname', 'cat', 'ls', 'mkdir', 'rm', 'cp', 'mv', 'ln', 'chmod', 'dirname', 'basename', 'sed', 'grep'];
const TOOLCHAIN = ['cc', 'gcc', 'g++', 'c++', 'make', 'python3', 'python'];

interface Packed {
  dir: string;
  tarball: string;
  files: string[];
  /** PATH with TOOLS only. */
  path: string;
}

let packed: Promise<Packed> | undefined;
let scratch: string | undefined;

// ava's hook, not process 'exit': it also runs when a test failed or timed out.
test.after.always(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/** `npm pack` once per test file, into a scratch folder removed after the file's tests. */
function pack(): Promise<Packed> {
  packed ??= (async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tcp-shaker-pack-'));
    scratch = dir;
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', dir], { cwd: ROOT, maxBuffer: 16 << 20, timeout: 300_000 });
    const [info] = JSON.parse(stdout.slice(stdout.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const bin = path.join(dir, 'bin');
    mkdirSync(bin);
    for (const tool of TOOLS) {
      const found = execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim();
      symlinkSync(found, path.join(bin, tool));
    }
    return { dir, tarball: path.join(dir, info.filename), files: info.files.map((f) => f.path), path: bin };
  })();
  return packed;
}

/** A fresh app with the tarball installed on the toolchain-free PATH. */
async function installApp(p: Packed, name: string, npmArgs: string[] = []): Promise<string> {
  const app = path.join(p.dir, name);
  mkdirSync(app);
  writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true }));
  writeFileSync(
    path.join(app, 'check.mjs'),
    `import { Checker } from 'tcp-shaker';\n${CHECK_BODY}`,
  );
  writeFileSync(path.join(app, 'check.cjs'), `const { Checker } = require('tcp-shaker');\n(async () => {\n${CHECK_BODY}})();\n`);
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', ...npmArgs, p.tarball], {
    cwd: app,
    env: { ...process.env, PATH: p.path },
    timeout: 300_000,
  });
  return app;
}

// Explicitly 'raw': a missing addon must fail here, not fall back.
const CHECK_BODY = `const checker = new Checker({ strategy: 'raw', timeout: 2000, retries: 1 });
await checker.start();
const out = [];
for (const target of process.argv.slice(2)) {
  const r = await checker.check(target);
  out.push(r.target + ' ' + r.status + ' ' + r.strategy);
}
await checker.close();
console.log(JSON.stringify(out));
`;

async function inClient(tb: Testbed, p: Packed, app: string, argv: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  // `env` first: `ip netns exec` keeps this process's environment, the apps get PATH without tools.
  return tb.exec('client', ['env', `PATH=${p.path}`, ...argv], { cwd: app, check: false, timeoutMs: 60_000 });
}

function targets(tb: Testbed): { open: string; closed: string } {
  const ip = tb.address('server', 4);
  return { open: `${ip}:${OPEN}`, closed: `${ip}:${CLOSED}` };
}

async function checkBothWays(t: ExecutionContext, tb: Testbed, p: Packed, app: string): Promise<void> {
  const { open, closed } = targets(tb);
  const want = JSON.stringify([`${open} open raw`, `${closed} closed raw`]);
  for (const script of ['check.mjs', 'check.cjs']) {
    const r = await inClient(tb, p, app, ['node', script, open, closed]);
    t.is(r.code, 0, `${path.basename(app)} ${script}: ${r.stderr}`);
    t.is(r.stdout.trim(), want, `${path.basename(app)} ${script}`);
    t.is(r.stderr, '', `${path.basename(app)} ${script}: nothing on stderr (no warning, no ExperimentalWarning)`);
  }
}

privilegedTest('npm pack: a prebuilt binary, compiled JavaScript, no source maps, no dev scripts', async (t) => {
  t.timeout(300_000, 'npm pack, install and builds are slow on a busy machine');
  const p = await pack();
  t.true(p.files.includes(PREBUILT), 'the linux-x64 glibc prebuilt binary ships');
  for (const file of ['dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/cli/tcp-checker.js', 'scripts/install.cjs', 'binding.gyp', 'native/addon.cc', 'LICENSE', 'README.md', 'package.json']) {
    t.true(p.files.includes(file), file);
  }
  t.deepEqual(p.files.filter((f) => f.endsWith('.map')), [], 'no source maps (the sources are not shipped)');
  t.deepEqual(p.files.filter((f) => /^(test|bench|fixtures|dist\/scripts|build)\//.test(f)), [], 'no tests, benchmarks, fixtures, dev scripts or build/');
  t.false(p.files.some((f) => f.startsWith('src/')), 'no TypeScript sources');
});

privilegedTest('the prebuilt binary needs libpcap.so.0.8, glibc >= 2.34 and libstdc++ (GCC 12), nothing else', async (t) => {
  t.timeout(300_000, 'npm pack, install and builds are slow on a busy machine');
  const p = await pack();
  const app = await installApp(p, 'app-links', ['--ignore-scripts']);
  const binary = path.join(app, 'node_modules', 'tcp-shaker', PREBUILT);
  const dynamic = execFileSync('readelf', ['-d', binary], { encoding: 'utf8' });
  const needed = [...dynamic.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]).sort();
  t.deepEqual(needed, ['libc.so.6', 'libgcc_s.so.1', 'libpcap.so.0.8', 'libstdc++.so.6'], 'README "Install" lists exactly these');
  const symbols = execFileSync('readelf', ['--dyn-syms', '-W', binary], { encoding: 'utf8' });
  const compare = (a: number[], b: number[]): number => {
    for (let i = 0; i < Math.max(a.length, b.length); i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) - (b[i] ?? 0);
    return 0;
  };
  /** The newest symbol version the binary asks for, e.g. GLIBC_2.34. */
  const newest = (prefix: string): string | undefined =>
    [...symbols.matchAll(new RegExp(`@${prefix}_([0-9.]+)`, 'g'))]
      .map((m) => m[1].split('.').map(Number))
      .sort(compare)
      .pop()
      ?.join('.');
  t.is(newest('GLIBC'), '2.34');
  t.is(newest('GLIBCXX'), '3.4.30');
});

privilegedTest('installed from the tarball without a compiler: raw strategy via import, require and the bin; 0 accepts', async (t) => {
  t.timeout(300_000, 'npm pack, install and builds are slow on a busy machine');
  const p = await pack();
  const toolchain = await run('sh', ['-c', `for c in ${TOOLCHAIN.join(' ')}; do command -v $c; done; true`], { env: { PATH: p.path } });
  t.is(toolchain.stdout, '', 'no compiler, make or python on the install PATH');
  const app = await installApp(p, 'app');
  const noScripts = await installApp(p, 'app-no-scripts', ['--ignore-scripts']);
  for (const a of [app, noScripts]) {
    t.false(existsSync(path.join(a, 'node_modules', 'tcp-shaker', 'build')), `${path.basename(a)}: nothing was compiled`);
    t.true(existsSync(path.join(a, 'node_modules', 'tcp-shaker', 'dist', 'src', 'index.js')));
  }

  const tb = await withTestbed(t);
  const server = await tb.startServer({ port: OPEN });
  await checkBothWays(t, tb, p, app);
  await checkBothWays(t, tb, p, noScripts);

  const { open, closed } = targets(tb);
  const cli = await inClient(tb, p, app, ['node_modules/.bin/tcp-checker', '--strategy', 'raw', '--json', '-a', open, '-a', closed]);
  t.is(cli.code, 1, `one target is closed: exit 1\n${cli.stderr}`);
  const lines = cli.stdout.trim().split('\n').map((l) => JSON.parse(l) as { target: string; status: string; strategy: string });
  t.deepEqual(lines.map((l) => `${l.target} ${l.status} ${l.strategy}`).sort(), [`${closed} closed raw`, `${open} open raw`].sort());
  t.notRegex(cli.stderr, /warning/);

  const doctor = await inClient(tb, p, app, ['node_modules/.bin/tcp-checker', 'doctor', '--json', '--no-self-test']);
  const report = JSON.parse(doctor.stdout) as { findings: Array<{ item: string; level: string; detail: string }>; autoStrategy: string };
  const addon = report.findings.find((f) => f.item === 'native addon');
  t.is(addon?.level, 'ok');
  t.regex(addon?.detail ?? '', /^prebuilt binary: .*prebuilds\/linux-x64\/tcp-shaker\.glibc\.node$/);
  t.is(report.autoStrategy, 'raw');

  t.is(await server.acceptCount(), 0, 'the server application accepted nothing');
  // A package.json that says nothing about the environment: CommonJS app, no "type".
  t.is((JSON.parse(readFileSync(path.join(app, 'package.json'), 'utf8')) as { type?: string }).type, undefined);
});

privilegedTest('npm rebuild --build-from-source builds the addon from native/ and it is used', async (t) => {
  t.timeout(300_000, 'npm pack, install and builds are slow on a busy machine');
  const p = await pack();
  const app = await installApp(p, 'app-from-source');
  const env: NodeJS.ProcessEnv = { ...process.env };
  // No internet here: node-gyp takes Node's headers from the system when they are installed.
  if (existsSync('/usr/include/node/node_api.h')) env.npm_config_nodedir = '/usr';
  await run('npm', ['rebuild', 'tcp-shaker', '--build-from-source', '--loglevel=error'], { cwd: app, env, timeout: 300_000, maxBuffer: 16 << 20 });
  t.true(existsSync(path.join(app, 'node_modules', 'tcp-shaker', 'build', 'Release', 'tcp_shaker_native.node')));

  const tb = await withTestbed(t);
  const server = await tb.startServer({ port: OPEN });
  await checkBothWays(t, tb, p, app);
  const doctor = await inClient(tb, p, app, ['node_modules/.bin/tcp-checker', 'doctor', '--json', '--no-self-test']);
  const report = JSON.parse(doctor.stdout) as { findings: Array<{ item: string; level: string; detail: string }> };
  t.regex(report.findings.find((f) => f.item === 'native addon')?.detail ?? '', /^built from source: .*build\/Release\/tcp_shaker_native\.node$/);
  t.is(await server.acceptCount(), 0);
});

// Not privileged, but slow (npm installs the dev dependencies to run `prepare`), so serial too.
privilegedTest('an install from git runs prepare (dist/) and builds the addon from source; require works', async (t) => {
  t.timeout(300_000, 'npm pack, install and builds are slow on a busy machine');
  const p = await pack();
  const app = path.join(p.dir, 'app-git');
  mkdirSync(app);
  writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app-git', version: '1.0.0', private: true }));
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (existsSync('/usr/include/node/node_api.h')) env.npm_config_nodedir = '/usr';
  // The committed HEAD of this checkout, as `npm install <git URL>` would fetch it.
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', `git+file://${ROOT}`], {
    cwd: app,
    env,
    timeout: 300_000,
    maxBuffer: 16 << 20,
  });
  const installed = path.join(app, 'node_modules', 'tcp-shaker');
  t.true(existsSync(path.join(installed, 'dist', 'src', 'index.js')), 'prepare compiled dist/');
  t.true(existsSync(path.join(installed, 'build', 'Release', 'tcp_shaker_native.node')), 'the install script built the addon');
  const r = await run(process.execPath, ['-e', "const t = require('tcp-shaker'); console.log(typeof t.Checker, typeof t.AddonUnavailableError)"], { cwd: app });
  t.is(r.stdout.trim(), 'function function');
});
