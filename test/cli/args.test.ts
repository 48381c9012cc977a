// parseCli: argv → options, or a UsageError (exit 2) whose one-line message says what was wrong.
// Pure: nothing is resolved or sent, so every case is a row in a table.
import test from 'ava';
import { parseCli, UsageError, USAGE, type CliOptions } from '../../src/cli/args.js';
import { ShakerError } from '../../src/errors.js';

const DEFAULTS = {
  timeoutMs: 1000,
  requests: 1,
  concurrency: 1,
  verbose: false,
  json: false,
  strategy: 'auto',
  retries: undefined,
  family: 'both',
  help: false,
  version: false,
} as const;

type Expected = Partial<Omit<CliOptions, 'targets'>> & { targets?: string[] };

const parses = test.macro({
  exec(t, argv: string[], expected: Expected) {
    const options = parseCli(argv);
    const { targets, ...rest } = expected;
    t.deepEqual({ ...options, targets: undefined }, { ...DEFAULTS, ...rest, targets: undefined });
    if (targets) t.deepEqual(options.targets.map((x) => x.text), targets);
  },
  title: (_p, argv: string[]) => `parses ${JSON.stringify(argv)}`,
});
test(parses, ['-a', '198.18.0.2:80'], { targets: ['198.18.0.2:80'] });
test(parses, ['--addr', 'example.com:443'], { targets: ['example.com:443'] });
test(parses, ['--addr=example.com:443'], { targets: ['example.com:443'] });
test(parses, ['198.18.0.2:80'], { targets: ['198.18.0.2:80'] }); // positional
test(parses, ['198.18.0.2:80', '[2001:2::2]:80'], { targets: ['198.18.0.2:80', '[2001:2::2]:80'] });
test(parses, ['-a', 'a.example:1', '-a', 'b.example:2', '-a', 'c.example:3'], { targets: ['a.example:1', 'b.example:2', 'c.example:3'] });
// -a targets first, then positionals, each group in command-line order.
test(parses, ['z.example:9', '-a', 'a.example:1', 'y.example:8'], { targets: ['a.example:1', 'z.example:9', 'y.example:8'] });
test(parses, ['-a', '198.18.0.2:80', '-t', '250', '-n', '10', '-c', '4'], { timeoutMs: 250, requests: 10, concurrency: 4 });
test(parses, ['-a', '198.18.0.2:80', '--timeout', '3600000', '--requests', '100000000', '--concurrency', '1000000'], {
  timeoutMs: 3_600_000,
  requests: 100_000_000,
  concurrency: 1_000_000,
});
test(parses, ['-a', '198.18.0.2:80', '-n', '007'], { requests: 7 });
test(parses, ['-a', '198.18.0.2:80', '--retries', '0'], { retries: 0 });
test(parses, ['-a', '198.18.0.2:80', '--retries', '255'], { retries: 255 });
for (const strategy of ['auto', 'raw', 'socket', 'connect'] as const) test(parses, ['-a', '198.18.0.2:80', '--strategy', strategy], { strategy });
test(parses, ['-a', 'localhost:80', '-4'], { family: 4 });
test(parses, ['-a', 'localhost:80', '-6'], { family: 6 });
test(parses, ['-a', 'localhost:80', '--ipv6'], { family: 6 });
test(parses, ['-a', '198.18.0.2:80', '--json', '-v'], { json: true, verbose: true });
test(parses, ['-a', '198.18.0.2:80', '--verbose'], { verbose: true });
test(parses, ['-h'], { help: true, targets: [] }); // help needs no target
test(parses, ['--help'], { help: true, targets: [] });
test(parses, ['--version'], { version: true, targets: [] });
test(parses, ['--', '198.18.0.2:80'], { targets: ['198.18.0.2:80'] });

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
test(usage, ['-a', '198.18.0.2:80', '--bogus'], /Unknown option '--bogus'/);
test(usage, ['-a', '198.18.0.2:80', '-x'], /Unknown option '-x'/);
test(usage, ['-a'], /argument missing/);
test(usage, ['-a', '198.18.0.2:80', '--json=yes'], /does not take an argument/);
test(usage, ['-a', '198.18.0.2:80', '-n', '0'], /--requests must be from 1 to 100000000, got 0/);
test(usage, ['-a', '198.18.0.2:80', '-n', '-1'], /ambiguous/); // node:util reads "-1" as a flag
test(usage, ['-a', '198.18.0.2:80', '-n-1'], /--requests must be a whole number, got "-1"/);
test(usage, ['-a', '198.18.0.2:80', '-n', '1.5'], /--requests must be a whole number, got "1.5"/);
test(usage, ['-a', '198.18.0.2:80', '-n', '99999999999999999999'], /--requests must be from 1 to 100000000/);
test(usage, ['-a', '198.18.0.2:80', '-c', 'abc'], /--concurrency must be a whole number, got "abc"/);
test(usage, ['-a', '198.18.0.2:80', '-c', '0'], /--concurrency must be from 1/);
test(usage, ['-a', '198.18.0.2:80', '-t', 'soon'], /--timeout must be a whole number, got "soon"/);
test(usage, ['-a', '198.18.0.2:80', '-t', '0'], /--timeout must be from 1 to 3600000, got 0/);
test(usage, ['-a', '198.18.0.2:80', '-t', '1e3'], /--timeout must be a whole number/);
test(usage, ['-a', '198.18.0.2:80', '--retries', '256'], /--retries must be from 0 to 255, got 256/);
test(usage, ['-a', '198.18.0.2:80', '--strategy', 'bogus'], /--strategy must be auto, raw, socket or connect, got "bogus"/);
test(usage, ['-a', 'localhost:80', '-4', '-6'], /-4 and -6 exclude each other/);
test(usage, ['-a', '198.18.0.2:0'], /invalid port 0 in "198.18.0.2:0"/);
test(usage, ['-a', '198.18.0.2:65536'], /invalid port 65536/);
test(usage, ['-a', '198.18.0.2'], /missing ":port"/);
test(usage, ['-a', '2001:2::2:80'], /brackets/);
test(usage, ['-a', 'ok.example:80', 'bad host:80'], /"bad host" is neither an IP address nor a host name/); // a bad positional
test(usage, ['-a', 'ok.example:80', '-a', 'ok.example:0'], /invalid port 0/); // the second -a

test('USAGE mentions every option parseCli accepts', (t) => {
  for (const flag of ['--addr', '--timeout', '--requests', '--concurrency', '--retries', '--strategy', '-4', '-6', '--json', '--verbose', '--help', '--version']) {
    t.true(USAGE.includes(flag), flag);
  }
});
