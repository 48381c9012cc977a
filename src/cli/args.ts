// Command-line parsing for tcp-checker. Every mistake becomes a UsageError (exit 2) with one
// line that says what was wrong; nothing is sent before the whole command line checks out.
import { parseArgs } from 'node:util';
import { InvalidArgumentError, ShakerError } from '../errors.js';
import { parseTarget, type Target } from '../target.js';
import type { StrategyRequest } from '../strategies/choose.js';

export class UsageError extends ShakerError {
  constructor(message: string) {
    super(message, 'ERR_SHAKER_USAGE');
  }
  override get name(): string {
    return 'UsageError';
  }
}

export interface CliOptions {
  targets: Target[];
  timeoutMs: number;
  requests: number;
  concurrency: number;
  verbose: boolean;
  json: boolean;
  strategy: StrategyRequest;
  retries: number | undefined;
  family: 4 | 6 | 'both';
  help: boolean;
  version: boolean;
}

export const USAGE = `Usage: tcp-checker -a HOST:PORT [options]
       tcp-checker doctor [--json] [--no-self-test]

Checks whether TCP ports are open with a half-open handshake (SYN, SYN-ACK, RST): the
server application never sees a connection.

Options:
  -a, --addr HOST:PORT     target (repeatable; positional targets work too)
  -t, --timeout MS         timeout per check in milliseconds, DNS included (default 1000)
  -n, --requests N         checks per target (default 1)
  -c, --concurrency C      checks in flight at once (default 1)
      --retries N          SYN retransmissions inside the timeout (default 6)
      --strategy S         auto | raw | socket | connect (default auto)
  -4 / -6                  resolve host names to IPv4 / IPv6 only
      --json               one JSON line per check
  -v, --verbose            print every check and the chosen strategy
  -h, --help               this text
      --version            print the version

Exit status: 0 when every check found the port open, 1 when any did not, 2 on bad usage.`;

function integer(value: string | undefined, name: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value)) throw new UsageError(`${name} must be a whole number, got "${value}"`);
  const n = Number(value);
  if (n < min || n > max) throw new UsageError(`${name} must be from ${min} to ${max}, got ${n}`);
  return n;
}

export function parseCli(argv: string[]): CliOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        addr: { type: 'string', short: 'a', multiple: true },
        timeout: { type: 'string', short: 't' },
        requests: { type: 'string', short: 'n' },
        concurrency: { type: 'string', short: 'c' },
        retries: { type: 'string' },
        strategy: { type: 'string' },
        json: { type: 'boolean' },
        verbose: { type: 'boolean', short: 'v' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
        ipv4: { type: 'boolean', short: '4' },
        ipv6: { type: 'boolean', short: '6' },
      },
    });
  } catch (error) {
    // node:util's messages name the flag ("Unknown option '--x'"); keep their text, drop the stack.
    throw new UsageError((error as Error).message.split('\n')[0]);
  }
  const v = parsed.values;
  const help = v.help === true;
  const version = v.version === true;
  const texts = [...(v.addr ?? []), ...parsed.positionals];
  if (!help && !version && texts.length === 0) throw new UsageError('no target: give one with -a HOST:PORT');
  const targets = texts.map((text) => {
    try {
      return parseTarget(text);
    } catch (error) {
      if (error instanceof InvalidArgumentError) throw new UsageError(error.message);
      throw error;
    }
  });
  const strategy = (v.strategy ?? 'auto') as StrategyRequest;
  if (!['auto', 'raw', 'socket', 'connect'].includes(strategy)) {
    throw new UsageError(`--strategy must be auto, raw, socket or connect, got "${strategy}"`);
  }
  if (v.ipv4 && v.ipv6) throw new UsageError('-4 and -6 exclude each other');
  return {
    targets,
    timeoutMs: integer(v.timeout, '--timeout', 1, 3_600_000, 1000),
    requests: integer(v.requests, '--requests', 1, 100_000_000, 1),
    concurrency: integer(v.concurrency, '--concurrency', 1, 1_000_000, 1),
    retries: v.retries === undefined ? undefined : integer(v.retries, '--retries', 0, 255, 0),
    strategy,
    family: v.ipv4 ? 4 : v.ipv6 ? 6 : 'both',
    json: v.json === true,
    verbose: v.verbose === true,
    help,
    version,
  };
}
