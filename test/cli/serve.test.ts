// `tcp-checker serve` command-line mistakes: exit 2 with one line, before anything listens or
// sends (safe in the root namespace). Serving itself is tested against a real Prometheus in
// test/serve/prometheus.test.ts and without root in test/serve/probe-service.test.ts.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { parseServeArgs } from '../../src/cli/serve-command.js';
import { cliHere } from './cli-runner.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tshk-serve-cli-'));
test.after.always(() => fs.rmSync(dir, { recursive: true, force: true }));
const badConfig = path.join(dir, 'serve.yaml');
fs.writeFileSync(badConfig, 'modules:\n  quick:\n    timout: 1s\n');

const usageCases: Array<[string, string[], RegExp]> = [
  ['bad --listen', ['serve', '--listen', 'localhost'], /--listen wants HOST:PORT/],
  ['a positional argument', ['serve', '198.18.0.2:80'], /serve: Unexpected argument '198\.18\.0\.2:80'/],
  ['bad --timeout-offset', ['serve', '--timeout-offset', 'soon'], /--timeout-offset must be seconds/],
  ['bad --strategy', ['serve', '--strategy', 'magic'], /--strategy must be/],
  ['missing config', ['serve', '--config', path.join(dir, 'nope.yaml')], /cannot read config file ".*nope\.yaml": ENOENT/],
  ['bad config', ['serve', '--config', badConfig], /serve\.yaml: modules\.quick\.timout: unknown key/],
];

for (const [name, args, message] of usageCases) {
  test(`serve usage error exits 2: ${name}`, (t) => {
    const r = cliHere(args);
    t.is(r.code, 2, r.stderr);
    t.regex(r.stderr, message);
    t.is(r.stderr.trim().split('\n').length, 1, `one line, got:\n${r.stderr}`);
    t.is(r.stdout, '');
  });
}

test('serve --help and wait --help print the usage', (t) => {
  for (const sub of ['serve', 'wait']) {
    const r = cliHere([sub, '--help']);
    t.is(r.code, 0);
    t.regex(r.stdout, /tcp-checker serve \[--listen HOST:PORT\] \[--config FILE\]/);
    t.regex(r.stdout, /tcp-checker wait TARGET\.\.\./);
  }
});

test('serve binds loopback unless told otherwise', (t) => {
  t.deepEqual(parseServeArgs([]).listen, { host: '127.0.0.1', port: 9116 });
  t.deepEqual(parseServeArgs(['--listen', ':9200']).listen, { host: undefined, port: 9200 });
  t.deepEqual(parseServeArgs(['--listen', '[::1]:9200']).listen, { host: '::1', port: 9200 });
  t.is(parseServeArgs(['--timeout-offset', '0.25']).timeoutOffsetMs, 250);
  t.is(parseServeArgs([]).timeoutOffsetMs, 500);
});
