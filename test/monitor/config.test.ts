// The monitor's config file: JSON and YAML documents, durations with units, and one clear
// message (file and path) per mistake.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { ConfigError, loadMonitorConfig, parseMonitorConfig, type MonitorConfig } from '../../src/monitor/config.js';
import { parseDuration, resolveSettings } from '../../src/monitor/settings.js';
import { InvalidArgumentError } from '../../src/core/errors.js';

const YAML_DOC = `
# health checks for the lab
defaults:
  inter: 2s
  fastinter: 500ms
  rise: 2
  fall: 3
  timeout: 1000
  port: 80
targets:
  - 198.18.0.2:80
  - target: 198.18.0.3
    name: web-2
    fall: 5
    burst: 4
  - target: "[2001:2::2]:443"
    port: 8443
`;

const EXPECTED: MonitorConfig = {
  defaults: { inter: 2000, fastinter: 500, rise: 2, fall: 3, timeout: 1000, port: 80 },
  targets: [{ target: '198.18.0.2:80' }, { target: '198.18.0.3', name: 'web-2', fall: 5, burst: 4 }, { target: '[2001:2::2]:443', port: 8443 }],
};

test('a YAML config', (t) => {
  t.deepEqual(parseMonitorConfig(YAML_DOC, 'hc.yaml'), EXPECTED);
});

test('the same as JSON', (t) => {
  const json = JSON.stringify({
    defaults: { inter: '2s', fastinter: '500ms', rise: 2, fall: 3, timeout: 1000, port: 80 },
    targets: ['198.18.0.2:80', { target: '198.18.0.3', name: 'web-2', fall: 5, burst: 4 }, { target: '[2001:2::2]:443', port: 8443 }],
  });
  t.deepEqual(parseMonitorConfig(json, 'hc.json'), EXPECTED);
});

test('an empty file and a file with targets only', (t) => {
  t.deepEqual(parseMonitorConfig('', 'empty.yaml'), { defaults: {}, targets: [] });
  t.deepEqual(parseMonitorConfig('targets: [198.18.0.2:80]', 'x.yml'), { defaults: {}, targets: [{ target: '198.18.0.2:80' }] });
});

const invalid = test.macro({
  exec(t, text: string, message: RegExp, file: string = 'hc.yaml') {
    const error = t.throws(() => parseMonitorConfig(text, file), { instanceOf: ConfigError });
    t.is(error!.code, 'ERR_SHAKER_CONFIG');
    t.regex(error!.message, message);
    t.false(error!.message.includes('\n'), `one line: ${error!.message}`);
  },
  title: (what = '') => `rejects ${what}`,
});
test('broken YAML', invalid, 'targets: [198.18.0.2:80', /^hc\.yaml: not valid YAML: /);
test('broken JSON', invalid, '{"targets": [}', /^hc\.json: not valid JSON: /, 'hc.json');
test('duplicate keys', invalid, 'defaults: {}\ndefaults: {}\n', /not valid YAML: .*[Uu]nique/);
test('a list at the top', invalid, '- 198.18.0.2:80', /^hc\.yaml: the top level must be a mapping/);
test('an unknown top-level key, with a suggestion', invalid, 'target: []', /^hc\.yaml: target: unknown key \(did you mean "targets"\?\)/);
test('an unknown key far from any', invalid, 'listen: 1', /listen: unknown key \(known: defaults, targets\)/);
test('a misspelled default', invalid, 'defaults:\n  intr: 2s', /^hc\.yaml: defaults\.intr: unknown key \(did you mean "inter"\?\)/);
test('a misspelled target key', invalid, 'targets:\n  - target: a.example:1\n    rsie: 2', /targets\[0\]\.rsie: unknown key \(did you mean "rise"\?\)/);
test('defaults that are not a mapping', invalid, 'defaults: 5', /defaults must be a mapping, got 5/);
test('targets that are not a list', invalid, 'targets: 198.18.0.2:80', /targets must be a list, got "198.18.0.2:80"/);
test('a target without "target"', invalid, 'targets:\n  - name: x', /targets\[0\]\.target is required/);
test('a target that is a number', invalid, 'targets: [80]', /targets\[0\] must be a target text or a mapping/);
test('an empty target', invalid, 'targets: [""]', /targets\[0\]: empty target/);
test('an empty name', invalid, 'targets:\n  - {target: a.example:1, name: ""}', /targets\[0\]\.name must be a non-empty text/);
test('rise 0', invalid, 'targets:\n  - {target: a.example:1, rise: 0}', /targets\[0\]\.rise must be a whole number from 1 to 1000, got 0/);
test('fall as text', invalid, 'defaults: {fall: three}', /defaults\.fall must be a whole number from 1 to 1000, got "three"/);
test('burst 1.5', invalid, 'defaults: {burst: 1.5}', /defaults\.burst must be a whole number/);
test('retries 256', invalid, 'defaults: {retries: 256}', /defaults\.retries must be a whole number from 0 to 255/);
test('port 0', invalid, 'defaults: {port: 0}', /defaults\.port must be a whole number from 1 to 65535, got 0/);
test('port 65536 on a target', invalid, 'targets: [{target: a.example, port: 65536}]', /targets\[0\]\.port must be/);
test('an interval without a valid unit', invalid, 'defaults: {inter: 2 seconds}', /defaults\.inter must be a duration from 1ms to 24h .* got "2 seconds"/);
test('a zero interval', invalid, 'defaults: {fastinter: 0}', /defaults\.fastinter must be a duration/);
test('a negative timeout', invalid, 'targets: [{target: a.example:1, timeout: -5}]', /targets\[0\]\.timeout must be a duration/);
test('an interval over a day', invalid, 'defaults: {downinter: 25h}', /defaults\.downinter must be a duration/);
// Issue 13: no 6-line YAMLWarning on stderr before the error, and no forged log lines.
test('a !!js/function tag', invalid, 'targets:\n  - !!js/function "function () {}"\n', /^hc\.yaml: not valid YAML: Unresolved tag: tag:yaml\.org,2002:js\/function at line 2/);
test('any unknown tag', invalid, 'defaults: {inter: !secret 2s}', /^hc\.yaml: not valid YAML: Unresolved tag/);
test('a name with a newline', invalid, 'targets:\n  - target: a.example:1\n    name: "web\\n2026-01-01T00:00:00.000Z target db UP -> DOWN"\n', /targets\[0\]\.name must be one line of printable text/);
test('a name with a tab', invalid, 'targets:\n  - {target: a.example:1, name: "a\\tb"}', /targets\[0\]\.name must be one line/);

test('YAML warnings reach neither stderr nor the console', (t) => {
  const written: string[] = [];
  const original = process.emitWarning;
  process.emitWarning = ((warning: string | Error) => void written.push(String(warning))) as typeof process.emitWarning;
  const log = console.warn;
  console.warn = (...args: unknown[]) => void written.push(args.join(' '));
  try {
    t.throws(() => parseMonitorConfig('targets:\n  - !!js/function "function () {}"\n', 'hc.yaml'), { instanceOf: ConfigError });
  } finally {
    process.emitWarning = original;
    console.warn = log;
  }
  t.deepEqual(written, []);
});

test('loading: a file on disk, and a missing one', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tshk-config-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'hc.yaml');
  fs.writeFileSync(file, YAML_DOC);
  t.deepEqual(await loadMonitorConfig(file), EXPECTED);
  await t.throwsAsync(loadMonitorConfig(path.join(dir, 'nope.yaml')), { instanceOf: ConfigError, message: /cannot read config file ".*nope.yaml": ENOENT/ });
});

const durations = test.macro({
  exec(t, input: unknown, ms: number | undefined) {
    if (ms === undefined) t.throws(() => parseDuration(input, 'inter'), { instanceOf: InvalidArgumentError });
    else t.is(parseDuration(input, 'inter'), ms);
  },
  title: (_p, input: unknown, ms?: number) => `duration ${JSON.stringify(input)} is ${ms ?? 'invalid'}`,
});
for (const [input, ms] of [
  [1500, 1500],
  ['1500', 1500],
  ['250ms', 250],
  ['2s', 2000],
  ['1.5s', 1500],
  ['1m', 60_000],
  ['2h', 7_200_000],
  ['1000us', 1],
  [' 3s ', 3000],
  ['24h', 86_400_000],
  [0.5, undefined],
  ['500us', undefined],
  ['25h', undefined],
  ['2S', undefined],
  ['s', undefined],
  ['-1s', undefined],
  [true, undefined],
  [null, undefined],
] as Array<[unknown, number | undefined]>) test(durations, input, ms);

test('settings layer: later wins; fastinter and downinter follow inter unless set', (t) => {
  t.deepEqual(resolveSettings({}), { inter: 2000, fastinter: 2000, downinter: 2000, rise: 2, fall: 3, burst: 1, timeout: undefined, retries: undefined });
  t.deepEqual(resolveSettings({ inter: 1000, rise: 5 }, { inter: 300, fall: 1 }, { burst: 3, timeout: 50 }), {
    inter: 300,
    fastinter: 300,
    downinter: 300,
    rise: 5,
    fall: 1,
    burst: 3,
    timeout: 50,
    retries: undefined,
  });
  t.deepEqual(resolveSettings({ fastinter: 100 }, { inter: 5000, downinter: undefined }), {
    inter: 5000,
    fastinter: 100,
    downinter: 5000,
    rise: 2,
    fall: 3,
    burst: 1,
    timeout: undefined,
    retries: undefined,
  });
});
