// Without the native addon (forced here with TCP_SHAKER_NO_ADDON=1, the same path as a package
// installed off Linux, without a prebuilt binary, or without libpcap0.8) `auto` still works
// through connect, but loudly: the choice carries a one-line reason and warning with the fix,
// `raw` and `socket` fail with AddonUnavailableError naming the cause, the CLI prints the
// warning once on stderr without -v, and doctor marks it as a failure. Loopback only.
import { execFile } from 'node:child_process';
import net from 'node:net';
import test from 'ava';
import { NO_ADDON_ENV, addonStatus, loadFailure } from '../../src/native/addon.js';
import { chooseStrategy } from '../../src/strategies/choose.js';
import { Checker } from '../../src/checker.js';
import { doctor, formatDoctor } from '../../src/doctor.js';
import { AddonUnavailableError, UnsupportedError } from '../../src/core/errors.js';
import { CLI } from '../cli/cli-runner.js';

// Before anything loads the addon: the loader reads it once.
process.env[NO_ADDON_ENV] = '1';

/** A loopback listener that counts what its application accepted. */
async function listener(t: { teardown(fn: () => void): void }): Promise<{ port: number; accepted: () => number }> {
  let accepted = 0;
  const server = net.createServer((socket) => {
    accepted++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  return { port: (server.address() as net.AddressInfo).port, accepted: () => accepted };
}

test('the loader reports the addon unavailable, with the cause and the fix', (t) => {
  const status = addonStatus();
  t.false(status.available);
  if (status.available) return;
  t.true(status.error instanceof AddonUnavailableError);
  t.is(status.error.code, 'ERR_SHAKER_NO_ADDON');
  t.is(status.error.reason, `disabled by ${NO_ADDON_ENV}=1`);
  t.is(status.error.fix, `unset ${NO_ADDON_ENV}`);
});

for (const requested of ['raw', 'socket'] as const) {
  test(`strategy '${requested}' rejects with AddonUnavailableError naming the cause`, async (t) => {
    const error = await t.throwsAsync(chooseStrategy(requested, {}), { instanceOf: AddonUnavailableError });
    t.is(error?.code, 'ERR_SHAKER_NO_ADDON');
    t.true(error instanceof UnsupportedError, 'still an UnsupportedError for code that catches those');
    t.regex(error?.message ?? '', /native addon is unavailable: disabled by TCP_SHAKER_NO_ADDON=1; fix: unset TCP_SHAKER_NO_ADDON/);
  });
}

test('auto falls back to connect with a one-line reason and warning, and really completes handshakes', async (t) => {
  const { port, accepted } = await listener(t);
  const checker = new Checker({ timeout: 2000 });
  t.teardown(() => checker.close());
  await checker.start();
  const choice = checker.strategy!;
  t.is(choice.name, 'connect');
  t.is(choice.warning, choice.reason);
  t.regex(choice.reason, /^auto fell back to connect: every check is a full handshake the server application sees \(native addon unavailable: disabled by TCP_SHAKER_NO_ADDON=1; fix: unset TCP_SHAKER_NO_ADDON\)$/);
  t.false(choice.reason.includes('\n'), 'one line');
  const result = await checker.check(`127.0.0.1:${port}`);
  t.is(result.status, 'open');
  await new Promise((r) => setTimeout(r, 100));
  t.is(accepted(), 1, 'connect is seen by the server application: that is why it is loud');
});

const warningLines = (stderr: string): string[] => stderr.split('\n').filter((l) => l.startsWith('tcp-checker: warning: '));

for (const extra of [[], ['--json'], ['-v']]) {
  test(`the CLI${extra.length ? ` (${extra.join(' ')})` : ''} prints the fallback once on stderr`, async (t) => {
    const { port } = await listener(t);
    const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      // Not spawnSync: the listener lives in this process's event loop.
      execFile(
        process.execPath,
        ['--import', 'tsx/esm', CLI, '-a', `127.0.0.1:${port}`, ...extra],
        { env: { ...process.env, [NO_ADDON_ENV]: '1' }, timeout: 30_000 },
        (error, stdout, stderr) => resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
    t.is(r.code, 0, r.stderr);
    const lines = warningLines(r.stderr);
    t.is(lines.length, 1, r.stderr);
    t.regex(lines[0], /auto fell back to connect: every check is a full handshake .*TCP_SHAKER_NO_ADDON=1; fix: unset TCP_SHAKER_NO_ADDON\)$/);
    t.is(r.stderr.split('TCP_SHAKER_NO_ADDON=1').length - 1, 1, 'the reason is not printed a second time');
  });
}

test('doctor marks the missing addon and the connect fallback as failures', async (t) => {
  const report = await doctor({ selfTest: false });
  const find = (item: string) => report.findings.find((f) => f.item === item);
  t.is(find('native addon')?.level, 'fail', formatDoctor(report));
  t.regex(find('native addon')?.detail ?? '', /disabled by TCP_SHAKER_NO_ADDON=1; fix: unset TCP_SHAKER_NO_ADDON/);
  t.is(report.autoStrategy, 'connect');
  t.is(find('auto strategy')?.level, 'fail');
});

const failures = test.macro({
  exec(t, message: string, fix: RegExp) {
    const error = loadFailure('prebuilds/linux-x64/tcp-shaker.glibc.node', new Error(`${message}\n    at somewhere`));
    t.true(error instanceof AddonUnavailableError);
    t.is(error.reason, `prebuilds/linux-x64/tcp-shaker.glibc.node failed to load (${message})`);
    t.regex(error.fix, fix);
  },
  title: (_p, message: string) => `a binary that fails to load: ${message.slice(0, 60)}`,
});
test(failures, 'libpcap.so.0.8: cannot open shared object file: No such file or directory', /apt-get install libpcap0\.8/);
test(failures, "/lib/x86_64-linux-gnu/libstdc++.so.6: version `GLIBCXX_3.4.30' not found", /older than the prebuilt binary's.*--build-from-source/);
test(failures, 'invalid ELF header', /npm rebuild tcp-shaker --build-from-source/);
