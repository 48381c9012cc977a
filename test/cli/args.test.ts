// parseCli: argv → options, or a UsageError (exit 2) whose one-line message says what was wrong.
// Pure: nothing is read, resolved or sent, so every case is a row in a table.
import test from 'ava';
import { parseCli, parseListenAddress, UsageError, USAGE, type CliOptions } from '../../src/cli/args.js';
import { ShakerError } from '../../src/core/errors.js';

type Expected = Partial<Omit<CliOptions, 'targets' | 'monitor'>> & {
  /** Target texts, in order. */
  targets?: string[];
  /** Checks per spec (hosts × ports). */
  counts?: number[];
  monitor?: Partial<NonNullable<CliOptions['monitor']>>;
};

const DEFAULTS: Partial<CliOptions> = {
  mode: 'check',
  files: [],
  timeoutMs: 1000,
  requests: 1,
  concurrency: 1,
  rate: undefined,
  maxTargets: 65536,
  verbose: false,
  quiet: false,
  json: false,
  strategy: 'auto',
  retries: undefined,
  family: 'both',
  source: undefined,
  interface: undefined,
  pcap: undefined,
  monitor: undefined,
  help: false,
  version: false,
};

const parses = test.macro({
  exec(t, argv: string[], expected: Expected) {
    const options = parseCli(argv);
    const { targets, counts, monitor, ...rest } = expected;
    const like: Partial<CliOptions> = { ...DEFAULTS, ...rest };
    // Monitor settings exist exactly in monitor mode; their fields are checked separately.
    if (options.mode === 'monitor') delete like.monitor;
    t.like(options, like);
    t.is(options.monitor === undefined, options.mode === 'check');
    if (targets) t.deepEqual(options.targets.map((x) => x.text), targets);
    if (counts) t.deepEqual(options.targets.map((x) => Number(x.count)), counts);
    if (monitor) t.like(options.monitor, monitor);
  },
  title: (_p, argv: string[]) => `parses ${JSON.stringify(argv)}`,
});
test(parses, ['-a', '198.18.0.2:80'], { targets: ['198.18.0.2:80'], counts: [1] });
test(parses, ['--addr', 'example.com:443'], { targets: ['example.com:443'] });
test(parses, ['--addr=example.com:443'], { targets: ['example.com:443'] });
test(parses, ['198.18.0.2:80'], { targets: ['198.18.0.2:80'] }); // positional
test(parses, ['198.18.0.2:80', '[2001:2::2]:80'], { targets: ['198.18.0.2:80', '[2001:2::2]:80'] });
test(parses, ['-a', 'a.example:1', '-a', 'b.example:2', '-a', 'c.example:3'], { targets: ['a.example:1', 'b.example:2', 'c.example:3'] });
// -a targets first, then positionals, each group in command-line order.
test(parses, ['z.example:9', '-a', 'a.example:1', 'y.example:8'], { targets: ['a.example:1', 'z.example:9', 'y.example:8'] });
// Target specs: port lists and CIDR blocks (IPv4 blocks below /31 lose network and broadcast).
test(parses, ['-a', '198.18.0.0/28:80,443'], { targets: ['198.18.0.0/28:80,443'], counts: [14 * 2] });
test(parses, ['-a', '198.18.0.2:8000-8009,8005'], { counts: [10] });
test(parses, ['-a', '[2001:2::/120]:22'], { counts: [256] });
test(parses, ['-f', 'targets.txt'], { files: ['targets.txt'], targets: [] }); // a file alone is enough
test(parses, ['-f', 'a.txt', '--file', '-', '-a', '198.18.0.2:80'], { files: ['a.txt', '-'], targets: ['198.18.0.2:80'] });
test(parses, ['-a', '198.18.0.2:80', '-t', '250', '-n', '10', '-c', '4'], { timeoutMs: 250, requests: 10, concurrency: 4 });
test(parses, ['-a', '198.18.0.2:80', '--timeout', '3600000', '--requests', '100000000', '--concurrency', '1000000'], {
  timeoutMs: 3_600_000,
  requests: 100_000_000,
  concurrency: 1_000_000,
});
test(parses, ['-a', '198.18.0.2:80', '-n', '007'], { requests: 7 });
test(parses, ['-a', '198.18.0.2:80', '--retries', '0'], { retries: 0 });
test(parses, ['-a', '198.18.0.2:80', '--retries', '255'], { retries: 255 });
test(parses, ['-a', '198.18.0.2:80', '--rate', '2.5'], { rate: 2.5 });
test(parses, ['-a', '198.18.0.2:80', '--max-targets', '10'], { maxTargets: 10 });
for (const strategy of ['auto', 'raw', 'socket', 'connect'] as const) test(parses, ['-a', '198.18.0.2:80', '--strategy', strategy], { strategy });
test(parses, ['-a', '198.18.0.2:80', '--source', '198.18.0.1', '--interface', 'veth0', '--pcap', 'out.pcap'], {
  source: '198.18.0.1',
  interface: 'veth0',
  pcap: 'out.pcap',
});
test(parses, ['-a', 'localhost:80', '-4'], { family: 4 });
test(parses, ['-a', 'localhost:80', '-6'], { family: 6 });
test(parses, ['-a', 'localhost:80', '--ipv6'], { family: 6 });
test(parses, ['-a', '198.18.0.2:80', '--json', '-v', '-q'], { json: true, verbose: true, quiet: true });
test(parses, ['-h'], { help: true, targets: [] }); // help needs no target
test(parses, ['--help'], { help: true, targets: [] });
test(parses, ['--version'], { version: true, targets: [] });
test(parses, ['--', '198.18.0.2:80'], { targets: ['198.18.0.2:80'] });
// Monitor mode: as a first word or a flag; its own defaults.
test(parses, ['monitor', '-a', '198.18.0.2:80'], { mode: 'monitor', concurrency: 1, monitor: { concurrency: 1000, inter: undefined, rise: undefined } });
test(parses, ['-a', '198.18.0.2:80', '--monitor'], { mode: 'monitor' });
test(parses, ['monitor', '--config', 'hc.yaml'], { mode: 'monitor', targets: [], monitor: { config: 'hc.yaml' } });
test(parses, ['monitor', '-a', '198.18.0.2:80', '--inter', '2s', '--fastinter', '500ms', '--downinter', '10s', '--rise', '3', '--fall', '2', '--burst', '4', '-c', '50'], {
  mode: 'monitor',
  monitor: { inter: 2000, fastinter: 500, downinter: 10_000, rise: 3, fall: 2, burst: 4, concurrency: 50 },
});
test(parses, ['monitor', '-a', '198.18.0.2:80', '--metrics', ':9464'], { mode: 'monitor', monitor: { metrics: { host: undefined, port: 9464 } } });
test(parses, ['monitor', '-a', '198.18.0.2:80', '--metrics', '[::1]:9464'], { mode: 'monitor', monitor: { metrics: { host: '::1', port: 9464 } } });

const usage = test.macro({
  exec(t, argv: string[], message: RegExp) {
    const error = t.throws(() => parseCli(argv), { instanceOf: UsageError });
    t.true(error instanceof ShakerError);
    t.is(error?.name, 'UsageError');
    t.is(error?.code, 'ERR_SHAKER_USAGE');
    t.regex(error!.message, message);
    t.false(error!.message.includes('\n'), 'one line');
  },
  title: (_p, argv: string[]) => `usage error for ${JSON.stringify(argv)}`,
});
test(usage, [], /no target: give one with -a HOST:PORT/);
test(usage, ['-v', '--json'], /no target/);
test(usage, ['monitor'], /no target/);
test(usage, ['-a', '198.18.0.2:80', '--bogus'], /Unknown option '--bogus'/);
test(usage, ['-a', '198.18.0.2:80', '-x'], /Unknown option '-x'/);
test(usage, ['-a'], /argument missing/);
test(usage, ['-a', '198.18.0.2:80', '--json=yes'], /does not take an argument/);
test(usage, ['-a', '198.18.0.2:80', '-n', '0'], /--requests must be from 1 to 100000000, got 0/);
// Issue 13: a negative number gets the range message, not node:util's "argument is ambiguous".
test(usage, ['-a', '198.18.0.2:80', '-n', '-1'], /--requests must be from 1 to 100000000, got -1/);
test(usage, ['-a', '198.18.0.2:80', '-n-1'], /--requests must be from 1 to 100000000, got -1/);
test(usage, ['-a', '198.18.0.2:80', '--requests', '-5'], /--requests must be from 1 to 100000000, got -5/);
test(usage, ['-a', '198.18.0.2:80', '-t', '-100'], /--timeout must be from 1 to 3600000, got -100/);
test(usage, ['-a', '198.18.0.2:80', '-c', '-2'], /--concurrency must be from 1 to 1000000, got -2/);
test(usage, ['-a', '198.18.0.2:80', '--retries', '-1'], /--retries must be from 0 to 255, got -1/);
test(usage, ['-a', '198.18.0.2:80', '--max-targets', '-1'], /--max-targets must be from 1/);
test(usage, ['-a', '198.18.0.2:80', '--rate', '-3'], /--rate must be a positive number of checks per second up to 10000000, got "-3"/);
test(usage, ['monitor', '-a', '198.18.0.2:80', '--rise', '-2'], /--rise must be from 1 to 1000, got -2/);
test(usage, ['monitor', '-a', '198.18.0.2:80', '--inter', '-2s'], /--inter must be a duration/);
test(usage, ['-a', '198.18.0.2:80', '-n', '-1.5'], /--requests must be a whole number, got "-1.5"/);
test(usage, ['-a', '198.18.0.2:80', '-n', '1.5'], /--requests must be a whole number, got "1.5"/);
test(usage, ['-a', '198.18.0.2:80', '-n', '99999999999999999999'], /--requests must be from 1 to 100000000/);
test(usage, ['-a', '198.18.0.2:80', '-c', 'abc'], /--concurrency must be a whole number, got "abc"/);
test(usage, ['-a', '198.18.0.2:80', '-c', '0'], /--concurrency must be from 1/);
test(usage, ['-a', '198.18.0.2:80', '-t', 'soon'], /--timeout must be a whole number, got "soon"/);
test(usage, ['-a', '198.18.0.2:80', '-t', '0'], /--timeout must be from 1 to 3600000, got 0/);
test(usage, ['-a', '198.18.0.2:80', '-t', '1e3'], /--timeout must be a whole number/);
test(usage, ['-a', '198.18.0.2:80', '--retries', '256'], /--retries must be from 0 to 255, got 256/);
test(usage, ['-a', '198.18.0.2:80', '--rate', '0'], /--rate must be a positive number/);
test(usage, ['-a', '198.18.0.2:80', '--rate', 'fast'], /--rate must be a positive number/);
test(usage, ['-a', '198.18.0.2:80', '--strategy', 'bogus'], /--strategy must be auto, raw, socket or connect, got "bogus"/);
test(usage, ['-a', 'localhost:80', '-4', '-6'], /-4 and -6 exclude each other/);
test(usage, ['-a', '198.18.0.2:80', '--source', 'eth0'], /--source must be an IP address, got "eth0"/);
test(usage, ['-a', '198.18.0.2:80', '--interface', 'a name with spaces'], /is not an interface name/);
test(usage, ['-a', '198.18.0.2:80', '--strategy', 'socket', '--pcap', 'x.pcap'], /--pcap needs the raw strategy/);
test(usage, ['-a', '198.18.0.2:80', '--strategy', 'connect', '--source', '198.18.0.1'], /--source needs the raw strategy/);
test(usage, ['-a', '198.18.0.2:80', '--pcap', ''], /--pcap needs a file name/);
test(usage, ['-a', '198.18.0.2:80', '--inter', '2s'], /--inter only applies to monitor mode/);
test(usage, ['monitor', '-a', '198.18.0.2:80', '-n', '3'], /-n\/--requests has no meaning in monitor mode/);
test(usage, ['monitor', '-a', '198.18.0.2:80', '--inter', 'often'], /--inter must be a duration/);
test(usage, ['monitor', '-a', '198.18.0.2:80', '--rise', '0'], /--rise must be from 1 to 1000/);
test(usage, ['monitor', '-a', '198.18.0.2:80', '--metrics', '9464'], /--metrics wants HOST:PORT/);
test(usage, ['-a', '198.18.0.2:0'], /invalid port 0 in "198.18.0.2:0"/);
test(usage, ['-a', '198.18.0.2:65536'], /invalid port 65536/);
test(usage, ['-a', '198.18.0.2'], /missing ":port"/);
test(usage, ['-a', '198.18.0.2:'], /missing port/);
test(usage, ['-a', '198.18.0.2:90-80'], /runs backwards/);
test(usage, ['-a', '2001:2::2:80'], /brackets/);
test(usage, ['-a', '198.18.0.1/24:80'], /has host bits set; the block is 198.18.0.0\/24/);
test(usage, ['-a', '198.18.0.0/33:80'], /prefix length/);
test(usage, ['-a', '999.1.1.1:80'], /not a valid IPv4 address/);
test(usage, ['-a', 'ok.example:80', 'bad host:80'], /"bad host" is neither an IP address nor a host name/); // a bad positional
test(usage, ['-a', 'ok.example:80', '-a', 'ok.example:0'], /invalid port 0/); // the second -a

const listen = test.macro({
  exec(t, text: string, expected: { host: string | undefined; port: number } | RegExp) {
    if (expected instanceof RegExp) t.throws(() => parseListenAddress(text), { instanceOf: UsageError, message: expected });
    else t.deepEqual(parseListenAddress(text), expected);
  },
  title: (_p, text: string) => `parseListenAddress(${JSON.stringify(text)})`,
});
test(listen, '127.0.0.1:9464', { host: '127.0.0.1', port: 9464 });
test(listen, 'localhost:1', { host: 'localhost', port: 1 });
test(listen, ':9464', { host: undefined, port: 9464 });
test(listen, '[::]:9464', { host: '::', port: 9464 });
test(listen, '[example.com]:9464', /not an IPv6 address/);
test(listen, '127.0.0.1:0', /wants HOST:PORT/);
test(listen, '127.0.0.1:65536', /wants HOST:PORT/);
test(listen, '::1:9464', /wants HOST:PORT/);

test('USAGE mentions every option parseCli accepts', (t) => {
  for (const flag of [
    '--addr',
    '--file',
    '--timeout',
    '--requests',
    '--concurrency',
    '--rate',
    '--retries',
    '--max-targets',
    '--strategy',
    '--source',
    '--interface',
    '--pcap',
    '-4',
    '-6',
    '--json',
    '--verbose',
    '--quiet',
    '--help',
    '--version',
    '--config',
    '--inter',
    '--fastinter',
    '--downinter',
    '--rise',
    '--fall',
    '--burst',
    '--metrics',
  ]) {
    t.true(USAGE.includes(flag), flag);
  }
});
