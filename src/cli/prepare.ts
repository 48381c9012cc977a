// Everything both modes do before the first packet: read target files, check sizes and
// families, resolve host names, check the interface, and build the Checker's options. Any
// mistake is a UsageError, so a bad command line never sends anything.
import dns from 'node:dns';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import type { CheckerOptions } from '../checker.js';
import type { RawStrategyOptions } from '../engine/raw-strategy.js';
import type { CliOptions } from './args.js';
import { parseAddress } from '../wire/address.js';
import { readTargetFile } from './target-file.js';
import { specFamily, type TargetSpec } from './target-spec.js';
import { UsageError } from './usage-error.js';

type Lookup = NonNullable<CheckerOptions['lookup']>;
type Address = { address: string; family: number };

/** -a and positional specs, then every -f file in order. */
export async function loadSpecs(options: CliOptions): Promise<TargetSpec[]> {
  const specs = [...options.targets];
  for (const file of options.files) specs.push(...(await readTargetFile(file)));
  return specs;
}

/** The family host names resolve to: -4/-6, else the --source address's, else both. */
export function effectiveFamily(options: Pick<CliOptions, 'family' | 'source'>): 4 | 6 | 'both' {
  const sourceFamily = options.source === undefined ? 0 : net.isIP(options.source);
  if (sourceFamily !== 0 && options.family !== 'both' && options.family !== sourceFamily) {
    throw new UsageError(`--source ${options.source} is an IPv${sourceFamily} address but -${options.family} was given`);
  }
  if (sourceFamily === 4 || sourceFamily === 6) return sourceFamily;
  return options.family;
}

/** Literals and blocks of the wrong family for -4/-6 or --source. */
export function checkFamilies(specs: readonly TargetSpec[], family: 4 | 6 | 'both', why: string): void {
  if (family === 'both') return;
  for (const spec of specs) {
    const f = specFamily(spec);
    if (f !== 0 && f !== family) throw new UsageError(`${spec.text} is IPv${f} but ${why} asks for IPv${family}`);
  }
}

/**
 * Resolves every host name once, now, so an unresolvable name is a usage error, and returns a
 * lookup for the Checker that answers from these results (a -n 1000 run makes one DNS query per
 * name, not a thousand). Without `cache`, the Checker keeps resolving on its own (the monitor
 * does: names may move while it runs).
 */
export async function resolveNames(specs: readonly TargetSpec[], family: 4 | 6 | 'both'): Promise<Lookup> {
  const names = [...new Set(specs.flatMap((s) => (s.hosts.kind === 'name' ? [s.hosts.host] : [])))];
  const answers = new Map<string, Address[]>();
  await Promise.all(
    names.map(async (host) => {
      try {
        const all = await dns.promises.lookup(host, { all: true, verbatim: true });
        if (!all.some((a) => family === 'both' || a.family === family)) throw new Error(`no IPv${family} address`);
        answers.set(host, all);
      } catch (error) {
        const why = (error as { code?: string }).code ?? (error as Error).message;
        throw new UsageError(`cannot resolve "${host}": ${why}`);
      }
    }),
  );
  return async (host) => answers.get(host) ?? dns.promises.lookup(host, { all: true, verbatim: true });
}

/** --interface must exist (in this network namespace); "any" captures on all of them. */
export function checkInterface(name: string | undefined): void {
  if (name === undefined || name === 'any' || !fs.existsSync('/sys/class/net')) return;
  if (!fs.existsSync(`/sys/class/net/${name}`)) throw new UsageError(`--interface ${name}: no such network interface`);
}

/**
 * --source must be an address of this host (in this network namespace): the raw engine writes
 * it into every SYN, and replies to an address the host does not own never come back to it, so
 * every check would time out (or, worse, someone else's host would get the SYN-ACKs).
 */
export function checkSource(source: string | undefined, interfaces = os.networkInterfaces()): void {
  if (source === undefined) return;
  const wanted = parseAddress(source.split('%')[0]);
  const owned = Object.values(interfaces)
    .flatMap((list) => list ?? [])
    .some((a) => {
      const bytes = parseAddress(a.address.split('%')[0]);
      return bytes !== undefined && wanted !== undefined && Buffer.compare(bytes, wanted) === 0;
    });
  if (!owned) throw new UsageError(`--source ${source} is not an address of this host (see "ip addr")`);
}

/** Flags that only the raw engine honours make 'auto' mean 'raw'. */
export function needsRaw(options: CliOptions): boolean {
  return (
    options.pcap !== undefined ||
    options.source !== undefined ||
    options.interface !== undefined ||
    options.syn !== undefined ||
    options.sourcePorts !== undefined
  );
}

export function checkerOptions(
  options: CliOptions,
  family: 4 | 6 | 'both',
  onPacket: RawStrategyOptions['onPacket'] | undefined,
  lookup?: Lookup,
  onWarning?: RawStrategyOptions['onWarning'],
): CheckerOptions {
  const raw: RawStrategyOptions = {};
  if (onWarning) raw.onWarning = onWarning;
  if (options.source !== undefined) raw.source = options.source;
  if (options.interface !== undefined) raw.interface = options.interface;
  if (options.syn !== undefined) raw.syn = options.syn;
  if (options.sourcePorts !== undefined) raw.sourcePorts = options.sourcePorts;
  if (onPacket) raw.onPacket = onPacket;
  const result: CheckerOptions = {
    strategy: options.strategy === 'auto' && needsRaw(options) ? 'raw' : options.strategy,
    timeout: options.timeoutMs,
    family,
    raw,
  };
  if (options.retries !== undefined) result.retries = options.retries;
  if (lookup) result.lookup = lookup;
  return result;
}

/** Several packet hooks as one (the pcap recorder and the monitor's reply counter). */
export function combineHooks(
  hooks: Array<RawStrategyOptions['onPacket'] | undefined>,
): RawStrategyOptions['onPacket'] | undefined {
  const present = hooks.filter((h): h is NonNullable<typeof h> => h !== undefined);
  if (present.length === 0) return undefined;
  if (present.length === 1) return present[0];
  return (direction, bytes, timestampUs) => {
    for (const hook of present) hook(direction, bytes, timestampUs);
  };
}
