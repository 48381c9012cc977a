// Command-line parsing for tcp-checker. Every mistake becomes a UsageError (exit 2) with one
// line that says what was wrong; nothing is sent before the whole command line checks out.
// Target files (-f) and config files (--config) are read later, by load-targets.ts.
import net from 'node:net';
import { parseArgs } from 'node:util';
import type { StrategyRequest } from '../strategies/choose.js';
import { parseDuration } from '../monitor/settings.js';
import type { Shard } from '../core/permutation.js';
import type { PortRange } from '../core/port-range.js';
import { parseSynFlags, SYN_FLAGS, type SynOverrides } from './syn-flags.js';
import { parseTargetSpec, type TargetSpec } from './target-spec.js';
import { UsageError } from './usage-error.js';

export { UsageError } from './usage-error.js';
export { USAGE } from './usage.js';

export interface ListenAddress {
  /** undefined: every interface. */
  host: string | undefined;
  port: number;
}

/** Monitor-mode settings from flags; undefined fields fall back to the config file, then defaults. */
export interface MonitorCliOptions {
  config: string | undefined;
  metrics: ListenAddress | undefined;
  inter: number | undefined;
  fastinter: number | undefined;
  downinter: number | undefined;
  rise: number | undefined;
  fall: number | undefined;
  burst: number | undefined;
  /** -t when given (else the config's timeout, else the checker's 1000 ms). */
  timeout: number | undefined;
  /** Rounds in flight at once. */
  concurrency: number;
}

export interface CliOptions {
  mode: 'check' | 'monitor';
  /** From -a and positionals, in that order; -f files are read later. */
  targets: TargetSpec[];
  files: string[];
  timeoutMs: number;
  requests: number;
  concurrency: number;
  rate: number | undefined;
  maxTargets: number;
  verbose: boolean;
  quiet: boolean;
  json: boolean;
  strategy: StrategyRequest;
  retries: number | undefined;
  family: 4 | 6 | 'both';
  source: string | undefined;
  interface: string | undefined;
  pcap: string | undefined;
  /** --seed: visit targets × ports in this seed's pseudo-random order (core/permutation.ts). */
  seed: number | undefined;
  /** --shard I/N (needs --seed). */
  shard: Shard | undefined;
  /** --ipv6-ext, --syn-options, --ttl, --window: the raw engine's `syn` overrides. */
  syn: SynOverrides | undefined;
  /** --source-ports LO-HI. */
  sourcePorts: PortRange | undefined;
  /** Set in monitor mode only. */
  monitor: MonitorCliOptions | undefined;
  help: boolean;
  version: boolean;
}

const DEFAULT_MAX_TARGETS = 65536;
const DEFAULT_MONITOR_CONCURRENCY = 1000;
const MAX_RATE = 10_000_000;

function integer(value: string | undefined, name: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  // "-5" is a whole number, only out of range: it gets the range message.
  if (!/^-?\d+$/.test(value)) throw new UsageError(`${name} must be a whole number, got "${value}"`);
  const n = Number(value);
  if (n < min || n > max) throw new UsageError(`${name} must be from ${min} to ${max}, got ${n}`);
  return n;
}

function optionalInteger(value: string | undefined, name: string, min: number, max: number): number | undefined {
  return value === undefined ? undefined : integer(value, name, min, max, 0);
}

function rate(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = /^\d+(\.\d+)?$/.test(value) ? Number(value) : Number.NaN;
  if (!(n > 0) || n > MAX_RATE) {
    throw new UsageError(`--rate must be a positive number of checks per second up to ${MAX_RATE}, got "${value}"`);
  }
  return n;
}

/** A duration flag ("500ms", "2s") as ms; undefined when absent; UsageError when malformed. */
export function duration(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  try {
    return parseDuration(value, name);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** "127.0.0.1:9464", "[::1]:9464", "localhost:9464" or ":9464" (every interface). */
export function parseListenAddress(text: string, name = '--metrics'): ListenAddress {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port < 1 || port > 65535) throw new UsageError(`${name} wants HOST:PORT (e.g. 127.0.0.1:9464 or :9464), got "${text}"`);
  const host = m[1] ?? m[2];
  if (m[1] !== undefined && !net.isIPv6(m[1])) throw new UsageError(`${name}: "${m[1]}" is not an IPv6 address`);
  return { host: host === '' ? undefined : host, port };
}

/** "I/N": shard I (1-based) of N. */
function parseShard(text: string | undefined): Shard | undefined {
  if (text === undefined) return undefined;
  const m = /^(\d{1,9})\/(\d{1,9})$/.exec(text);
  const index = m ? Number(m[1]) : 0;
  const count = m ? Number(m[2]) : 0;
  if (!m || count < 1 || index < 1 || index > count) {
    throw new UsageError(`--shard wants I/N with 1 <= I <= N (e.g. 2/4), got "${text}"`);
  }
  return { index, count };
}

/**
 * "-n -5" as "--requests=-5": node:util's parseArgs calls a value that starts with "-" ambiguous
 * and stops there; the flag's own check then gives the range message. Only the numeric flags
 * are joined, so "--json -4" is still two flags.
 */
function negativeValuesInline(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const long = NUMERIC_FLAGS[args[i]];
    if (args[i] === '--') return [...out, ...args.slice(i)];
    if (long !== undefined && /^-\d/.test(args[i + 1] ?? '')) out.push(`--${long}=${args[++i]}`);
    else out.push(args[i]);
  }
  return out;
}
const NUMERIC_FLAGS: Record<string, string> = Object.fromEntries([
  ['-n', 'requests'],
  ['-t', 'timeout'],
  ['-c', 'concurrency'],
  ...['requests', 'timeout', 'concurrency', 'rate', 'retries', 'max-targets', 'inter', 'fastinter', 'downinter', 'rise', 'fall', 'burst', 'seed', 'ttl', 'window'].map(
    (name) => [`--${name}`, name],
  ),
]);

const CHECK_ONLY = ['requests', 'rate', 'seed', 'shard'] as const;
const MONITOR_ONLY = ['config', 'metrics', 'inter', 'fastinter', 'downinter', 'rise', 'fall', 'burst'] as const;
const flagName: Record<string, string> = { requests: '-n/--requests' };

export function parseCli(argv: string[]): CliOptions {
  let mode: 'check' | 'monitor' = 'check';
  let args = argv;
  if (argv[0] === 'monitor') {
    mode = 'monitor';
    args = argv.slice(1);
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: negativeValuesInline(args),
      allowPositionals: true,
      strict: true,
      options: {
        addr: { type: 'string', short: 'a', multiple: true },
        file: { type: 'string', short: 'f', multiple: true },
        timeout: { type: 'string', short: 't' },
        requests: { type: 'string', short: 'n' },
        concurrency: { type: 'string', short: 'c' },
        rate: { type: 'string' },
        retries: { type: 'string' },
        'max-targets': { type: 'string' },
        strategy: { type: 'string' },
        source: { type: 'string' },
        interface: { type: 'string' },
        pcap: { type: 'string' },
        seed: { type: 'string' },
        shard: { type: 'string' },
        'ipv6-ext': { type: 'string' },
        'syn-options': { type: 'string' },
        ttl: { type: 'string' },
        window: { type: 'string' },
        'source-ports': { type: 'string' },
        json: { type: 'boolean' },
        verbose: { type: 'boolean', short: 'v' },
        quiet: { type: 'boolean', short: 'q' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
        ipv4: { type: 'boolean', short: '4' },
        ipv6: { type: 'boolean', short: '6' },
        monitor: { type: 'boolean' },
        config: { type: 'string' },
        metrics: { type: 'string' },
        inter: { type: 'string' },
        fastinter: { type: 'string' },
        downinter: { type: 'string' },
        rise: { type: 'string' },
        fall: { type: 'string' },
        burst: { type: 'string' },
      },
    });
  } catch (error) {
    // node:util's messages name the flag ("Unknown option '--x'"); keep their text, drop the stack.
    throw new UsageError((error as Error).message.split('\n')[0]);
  }
  const v = parsed.values;
  if (v.monitor) mode = 'monitor';
  const help = v.help === true;
  const version = v.version === true;
  const texts = [...(v.addr ?? []), ...parsed.positionals];
  const files = v.file ?? [];
  if (!help && !version && texts.length === 0 && files.length === 0 && v.config === undefined) {
    throw new UsageError('no target: give one with -a HOST:PORT');
  }
  for (const key of mode === 'monitor' ? CHECK_ONLY : MONITOR_ONLY) {
    if (v[key] !== undefined) {
      const flag = flagName[key] ?? `--${key}`;
      throw new UsageError(
        mode === 'monitor' ? `${flag} has no meaning in monitor mode` : `${flag} only applies to monitor mode (tcp-checker monitor ...)`,
      );
    }
  }
  const targets = texts.map((text) => parseTargetSpec(text));
  const strategy = (v.strategy ?? 'auto') as StrategyRequest;
  if (!['auto', 'raw', 'socket', 'connect'].includes(strategy)) {
    throw new UsageError(`--strategy must be auto, raw, socket or connect, got "${strategy}"`);
  }
  if (v.ipv4 && v.ipv6) throw new UsageError('-4 and -6 exclude each other');
  // Extension headers exist only in IPv6: the flag makes the run IPv6-only (names resolve to IPv6).
  const ipv6Only = v['ipv6-ext'] !== undefined;
  if (ipv6Only && v.ipv4) throw new UsageError('--ipv6-ext and -4 exclude each other (extension headers are IPv6 only)');
  const v4Target = ipv6Only ? targets.find((spec) => spec.hosts.kind === 'v4') : undefined;
  if (v4Target) throw new UsageError(`--ipv6-ext: ${v4Target.text} is an IPv4 target (extension headers are IPv6 only)`);
  if (v.source !== undefined && net.isIP(v.source) === 0) throw new UsageError(`--source must be an IP address, got "${v.source}"`);
  if (v.interface !== undefined && !/^[\w.:@-]{1,15}$/.test(v.interface)) {
    throw new UsageError(`--interface "${v.interface}" is not an interface name`);
  }
  const shaped = SYN_FLAGS.filter((name) => v[name] !== undefined).map((name) => [`--${name}`, v[name]] as const);
  for (const [flag, value] of [['--pcap', v.pcap], ['--source', v.source], ['--interface', v.interface], ...shaped] as const) {
    if (value !== undefined && (strategy === 'socket' || strategy === 'connect')) {
      throw new UsageError(`${flag} needs the raw strategy (it works on the raw engine's packets), not --strategy ${strategy}`);
    }
  }
  if (v.pcap === '') throw new UsageError('--pcap needs a file name');
  const timeoutMs = integer(v.timeout, '--timeout', 1, 3_600_000, 1000);
  const shard = parseShard(v.shard);
  if (shard !== undefined && v.seed === undefined) {
    throw new UsageError('--shard needs --seed (every shard must use the same seed, or the shards would overlap and leave gaps)');
  }
  return {
    mode,
    targets,
    files,
    timeoutMs,
    requests: integer(v.requests, '--requests', 1, 100_000_000, 1),
    concurrency: mode === 'check' ? integer(v.concurrency, '--concurrency', 1, 1_000_000, 1) : 1,
    rate: rate(v.rate),
    maxTargets: integer(v['max-targets'], '--max-targets', 1, 100_000_000, DEFAULT_MAX_TARGETS),
    retries: optionalInteger(v.retries, '--retries', 0, 255),
    strategy,
    family: v.ipv4 ? 4 : v.ipv6 || ipv6Only ? 6 : 'both',
    source: v.source,
    interface: v.interface,
    pcap: v.pcap,
    seed: optionalInteger(v.seed, '--seed', 0, Number.MAX_SAFE_INTEGER),
    ...parseSynFlags(v),
    shard,
    json: v.json === true,
    verbose: v.verbose === true,
    quiet: v.quiet === true,
    monitor:
      mode === 'monitor'
        ? {
            config: v.config,
            metrics: v.metrics === undefined ? undefined : parseListenAddress(v.metrics),
            inter: duration(v.inter, '--inter'),
            fastinter: duration(v.fastinter, '--fastinter'),
            downinter: duration(v.downinter, '--downinter'),
            rise: optionalInteger(v.rise, '--rise', 1, 1000),
            fall: optionalInteger(v.fall, '--fall', 1, 1000),
            burst: optionalInteger(v.burst, '--burst', 1, 1000),
            timeout: v.timeout === undefined ? undefined : timeoutMs,
            concurrency: integer(v.concurrency, '--concurrency', 1, 1_000_000, DEFAULT_MONITOR_CONCURRENCY),
          }
        : undefined,
    help,
    version,
  };
}
