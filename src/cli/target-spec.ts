// Target specs: what users type to name many checks at once, and their lazy expansion.
//
//   198.18.0.2:80                 one address, one port
//   198.18.0.0/28:80,443          a CIDR block times a port list
//   [2001:2::/120]:22             IPv6 blocks in brackets, like IPv6 addresses
//   db.example:5432,6432          a host name with a port list (resolved before anything is sent)
//
// A spec is parsed once into a small value (first address, host count, port list) and expanded
// by a generator, so a /16 times ten ports costs a few hundred bytes until it is walked, and its
// size is known (as a bigint: an IPv6 /64 has 2^64 hosts) before a single target is made.
//
// IPv4 blocks shorter than /31 lose their network and broadcast addresses (a SYN to the
// broadcast address of a directly connected subnet is not a check of anything); /31 and /32 keep
// every address (RFC 3021). IPv6 has no broadcast, so IPv6 blocks keep every address.
import net from 'node:net';
import { formatAddress, parseAddress } from '../wire/index.js';
import { AddressTarget, ipv4DestinationProblem, ipv6DestinationProblem, looksLikeInetAton, mappedIpv4, parseTarget } from '../core/target.js';
import { MAX_PERMUTATION_SIZE, permutedIndices, shardSize, type Shard } from '../core/permutation.js';
import { parsePortList } from './port-list.js';
import { UsageError } from './usage-error.js';

export type HostRange =
  | { kind: 'name'; host: string }
  /** `first` is the address as an unsigned 32-bit number. */
  | { kind: 'v4'; first: number; count: number }
  | { kind: 'v6'; first: Uint8Array; count: bigint };

export interface TargetSpec {
  /** As the user wrote it. */
  text: string;
  hosts: HostRange;
  ports: Uint16Array;
  /** Hosts times ports. */
  count: bigint;
}

function fail(text: string, why: string): never {
  throw new UsageError(`invalid target "${text}": ${why}`);
}

function prefixLength(textLen: string, max: number, text: string): number {
  if (!/^\d{1,3}$/.test(textLen) || Number(textLen) > max) {
    fail(text, `prefix length "/${textLen}" must be a number from 0 to ${max}`);
  }
  return Number(textLen);
}

function v4Range(address: string, lenText: string | undefined, text: string): HostRange {
  const bytes = parseAddress(address);
  if (!bytes || bytes.length !== 4) fail(text, `"${address}" is not an IPv4 address`);
  const value = ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0;
  if (lenText === undefined) return unicastV4({ kind: 'v4', first: value, count: 1 }, `"${address}"`, text);
  const len = prefixLength(lenText, 32, text);
  const size = 2 ** (32 - len);
  if (value % size !== 0) {
    const network = formatAddress(v4Bytes(value - (value % size)));
    fail(text, `${address}/${len} has host bits set; the block is ${network}/${len}`);
  }
  // RFC 3021: /31 point-to-point links have no network or broadcast address.
  const range = len < 31 ? { kind: 'v4' as const, first: value + 1, count: size - 2 } : { kind: 'v4' as const, first: value, count: size };
  return unicastV4(range, `${address}/${len}`, text);
}

/** Refuses a range of multicast, broadcast or "this network" addresses only (core/target.ts). */
function unicastV4(range: HostRange & { kind: 'v4' }, what: string, text: string): HostRange {
  const problem = ipv4DestinationProblem(range.first, range.first + range.count - 1, what);
  if (problem) fail(text, problem);
  return range;
}

function v6Range(address: string, lenText: string | undefined, text: string): HostRange {
  const bytes = parseAddress(address);
  if (!bytes || bytes.length !== 16) fail(text, `"${address}" is not an IPv6 address`);
  // An IPv4-mapped address (::ffff:a.b.c.d) is the IPv4 address it maps, as the kernel treats it.
  const v4 = mappedIpv4(address);
  if (v4 !== undefined && lenText === undefined) return v4Range(v4, undefined, text);
  if (v4 !== undefined && /^\d{1,3}$/.test(lenText!) && Number(lenText) >= 96) return v4Range(v4, String(Number(lenText) - 96), text);
  const problem = ipv6DestinationProblem(bytes, lenText === undefined || lenText === '128', lenText === undefined ? `"${address}"` : `${address}/${lenText}`);
  if (problem) fail(text, problem);
  if (lenText === undefined) return { kind: 'v6', first: bytes, count: 1n };
  const len = prefixLength(lenText, 128, text);
  for (let bit = len; bit < 128; bit++) {
    if (bytes[bit >> 3] & (0x80 >> (bit & 7))) {
      const network = Uint8Array.from(bytes);
      for (let b = len; b < 128; b++) network[b >> 3] &= ~(0x80 >> (b & 7));
      fail(text, `${address}/${len} has host bits set; the block is ${formatAddress(network)}/${len}`);
    }
  }
  return { kind: 'v6', first: bytes, count: 1n << BigInt(128 - len) };
}

function nameRange(host: string, text: string): HostRange {
  // inet_aton forms ("198.018.0.2", "0xc6.18.0.2") are refused, never resolved: core/target.ts.
  if (looksLikeInetAton(host)) fail(text, `"${host}" is not a valid IPv4 address (four decimal numbers from 0 to 255, no leading zeros)`);
  try {
    parseTarget(`${host}:1`);
  } catch {
    fail(text, `"${host}" is neither an IP address nor a host name`);
  }
  return { kind: 'name', host };
}

/** Parses one spec; every mistake is a UsageError naming the spec. Sends and resolves nothing. */
export function parseTargetSpec(input: string): TargetSpec {
  const text = input.trim();
  if (text === '') throw new UsageError('empty target');
  let hostPart: string;
  let portText: string;
  let hosts: HostRange;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) fail(text, 'missing "]" after the IPv6 address');
    if (text[close + 1] !== ':') fail(text, 'missing ":port" after "]"');
    hostPart = text.slice(1, close);
    portText = text.slice(close + 2);
    const [address, len, extra] = hostPart.split('/');
    if (extra !== undefined) fail(text, 'more than one "/"');
    hosts = v6Range(address, len, text);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) fail(text, 'missing ":port" (e.g. ":80" or ":80,443")');
    hostPart = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (hostPart.includes(':')) {
      const bare = hostPart.split('/')[0];
      if (net.isIPv6(bare)) fail(text, `write IPv6 addresses in brackets, e.g. "[${hostPart}]:${portText}"`);
      fail(text, `"${hostPart}" is neither an IP address nor a host name`);
    }
    const slash = hostPart.indexOf('/');
    if (slash >= 0) hosts = v4Range(hostPart.slice(0, slash), hostPart.slice(slash + 1), text);
    else if (net.isIPv4(hostPart)) hosts = v4Range(hostPart, undefined, text);
    else hosts = nameRange(hostPart, text);
  }
  const ports = parsePortList(portText, `"${text}"`);
  const hostCount = hosts.kind === 'name' ? 1n : BigInt(hosts.count);
  return { text, hosts, ports, count: hostCount * BigInt(ports.length) };
}

/** 4 or 6 for address literals and blocks, 0 for a host name. */
export function specFamily(spec: TargetSpec): 0 | 4 | 6 {
  return spec.hosts.kind === 'v4' ? 4 : spec.hosts.kind === 'v6' ? 6 : 0;
}

function v4Bytes(value: number): Uint8Array {
  return Uint8Array.of(value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff);
}

/** Adds one to a 16-byte address in place (wrapping, which a counted walk never reaches). */
function increment(bytes: Uint8Array): void {
  for (let i = bytes.length - 1; i >= 0; i--) {
    bytes[i] = (bytes[i] + 1) & 0xff;
    if (bytes[i] !== 0) return;
  }
}

/** The host texts of a range, in address order. */
function* hostTexts(hosts: HostRange): Generator<string> {
  switch (hosts.kind) {
    case 'name':
      yield hosts.host;
      return;
    case 'v4':
      for (let i = 0; i < hosts.count; i++) yield formatAddress(v4Bytes((hosts.first + i) >>> 0));
      return;
    case 'v6': {
      const address = Uint8Array.from(hosts.first);
      for (let i = 0n; i < hosts.count; i++) {
        yield `[${formatAddress(address)}]`;
        increment(address);
      }
    }
  }
}

/**
 * A target of an expansion as checkMany() takes it fastest: an AddressTarget (no text to parse
 * per check), or the text where parseTarget() must have its say (host names, and the few
 * addresses it refuses or maps, so their results stay exactly what the text gives).
 */
function item(address: Uint8Array, port: number): AddressTarget | string {
  if (address.length === 4) {
    const value = ((address[0] << 24) | (address[1] << 16) | (address[2] << 8) | address[3]) >>> 0;
    if (ipv4DestinationProblem(value, value, '') === undefined) return new AddressTarget(address, port);
    return `${formatAddress(address)}:${port}`;
  }
  // An IPv4-mapped address in a wide IPv6 block keeps its bracketed text (parseTarget maps it).
  let mapped = address[10] === 0xff && address[11] === 0xff;
  for (let i = 0; i < 10 && mapped; i++) mapped = address[i] === 0;
  if (!mapped && ipv6DestinationProblem(address, true, '') === undefined) return new AddressTarget(address, port);
  return `[${formatAddress(address)}]:${port}`;
}

/** The hosts of a range as address bytes (a fresh array each), in address order; names as text. */
function* hostAddresses(hosts: HostRange): Generator<Uint8Array | string> {
  switch (hosts.kind) {
    case 'name':
      yield hosts.host;
      return;
    case 'v4':
      for (let i = 0; i < hosts.count; i++) yield v4Bytes((hosts.first + i) >>> 0);
      return;
    case 'v6': {
      const address = Uint8Array.from(hosts.first);
      for (let i = 0n; i < hosts.count; i++) {
        yield Uint8Array.from(address);
        increment(address);
      }
    }
  }
}

/**
 * expandSpec()'s targets in its order, as AddressTargets where they are IP literals (see
 * item()): what `tcp-checker` hands to checkMany(). Each item's text is expandSpec()'s string.
 */
export function* expandSpecItems(spec: TargetSpec): Generator<AddressTarget | string> {
  for (const host of hostAddresses(spec.hosts)) {
    if (typeof host === 'string') for (const port of spec.ports) yield `${host}:${port}`;
    else for (const port of spec.ports) yield item(host, port);
  }
}

/** Every "host:port" of a spec: each host with each port, hosts in address order. */
export function* expandSpec(spec: TargetSpec): Generator<string> {
  for (const host of hostTexts(spec.hosts)) {
    for (const port of spec.ports) yield `${host}:${port}`;
  }
}

/**
 * A scattered visiting order (`--seed`, `--shard`): targets × ports of all specs numbered as
 * expandSpecs would list them, then visited in the seed's permutation of those numbers
 * (core/permutation.ts), keeping only the given shard's positions.
 */
export interface SweepOrder {
  seed: number;
  /** Default 1/1: the whole space. */
  shard?: Shard;
}

/** The host text of the `index`th host of a range (address order), without walking up to it. */
function hostTextAt(hosts: HostRange, index: number): string {
  const host = hostAddressAt(hosts, index);
  if (typeof host === 'string') return host;
  return hosts.kind === 'v6' ? `[${formatAddress(host)}]` : formatAddress(host);
}

/** The host numbered `index` of a range as bytes (address order), or a name as text. */
function hostAddressAt(hosts: HostRange, index: number): Uint8Array | string {
  switch (hosts.kind) {
    case 'name':
      return hosts.host;
    case 'v4':
      return v4Bytes((hosts.first + index) >>> 0);
    case 'v6': {
      const address = Uint8Array.from(hosts.first);
      let carry = BigInt(index);
      for (let i = 15; i >= 0 && carry > 0n; i--) {
        const sum = BigInt(address[i]) + (carry & 0xffn);
        address[i] = Number(sum & 0xffn);
        carry = (carry >> 8n) + (sum >> 8n);
      }
      return address;
    }
  }
}

/** targetAt() as an item (see item()). */
function itemAt(specs: readonly TargetSpec[], starts: readonly number[], index: number): AddressTarget | string {
  const low = specAt(starts, index);
  const spec = specs[low];
  const local = index - starts[low];
  const ports = spec.ports.length;
  const host = hostAddressAt(spec.hosts, Math.floor(local / ports));
  const port = spec.ports[local % ports];
  return typeof host === 'string' ? `${host}:${port}` : item(host, port);
}

/** The spec that target `index` falls in, by binary search over the specs' first indices. */
function specAt(starts: readonly number[], index: number): number {
  // Few specs in practice (one per -a or file line): a binary search keeps many-line files cheap.
  let low = 0;
  let high = starts.length - 1;
  while (low < high) {
    const mid = (low + high + 1) >> 1;
    if (starts[mid] <= index) low = mid;
    else high = mid - 1;
  }
  return low;
}

/** The target numbered `index` in expandSpecs' order, found from the specs' sizes alone. */
function targetAt(specs: readonly TargetSpec[], starts: readonly number[], index: number): string {
  const low = specAt(starts, index);
  const spec = specs[low];
  const local = index - starts[low];
  const ports = spec.ports.length;
  return `${hostTextAt(spec.hosts, Math.floor(local / ports))}:${spec.ports[local % ports]}`;
}

/** Every target of every spec, lazily: in order, or in `order`'s permutation and shard. */
export function* expandSpecs(specs: Iterable<TargetSpec>, order?: SweepOrder): Generator<string> {
  if (order === undefined) {
    for (const spec of specs) yield* expandSpec(spec);
    return;
  }
  const { list, starts, total } = numbered(specs);
  for (const index of permutedIndices(total, order.seed, order.shard)) yield targetAt(list, starts, index);
}

/**
 * expandSpecs() as checkMany() items (see expandSpecItems): the same targets in the same order,
 * IP literals as AddressTargets, each one `repeat` times in a row (tcp-checker's -n).
 */
export function expandSpecsItems(specs: Iterable<TargetSpec>, order?: SweepOrder, repeat = 1): IterableIterator<AddressTarget | string> {
  return new RepeatedItems(order === undefined ? new InOrderItems([...specs]) : shuffledItems(specs, order), repeat);
}

function* shuffledItems(specs: Iterable<TargetSpec>, order: SweepOrder): Generator<AddressTarget | string> {
  const { list, starts, total } = numbered(specs);
  for (const index of permutedIndices(total, order.seed, order.shard)) yield itemAt(list, starts, index);
}

/** Each item of `items` `repeat` times in a row. */
class RepeatedItems implements IterableIterator<AddressTarget | string> {
  private current: AddressTarget | string = '';
  private left = 0;

  constructor(
    private readonly items: Iterator<AddressTarget | string>,
    private readonly repeat: number,
  ) {}

  [Symbol.iterator](): this {
    return this;
  }

  next(): IteratorResult<AddressTarget | string> {
    if (this.left === 0) {
      if (this.repeat < 1) return { value: undefined, done: true };
      const next = this.items.next();
      if (next.done) return next;
      this.current = next.value;
      this.left = this.repeat;
    }
    this.left--;
    return { value: this.current, done: false };
  }
}

/**
 * The specs' items in address order, as a plain iterator. An IPv4 block (a sweep's usual shape)
 * is walked by number, each address made into an AddressTarget without generators in between:
 * three nested generators and the address's bytes made and copied twice cost ~0.8 µs a target
 * in a /17 sweep, several percent of the run. Other hosts (names, IPv6) take expandSpecItems().
 */
class InOrderItems implements Iterator<AddressTarget | string> {
  private spec = -1;
  /** The current IPv4 block: its next host number, one past its last, and the port index. */
  private host = 0;
  private end = 0;
  private port = 0;
  private ports: Uint16Array = new Uint16Array(0);
  /** The current host's bytes and text, or its text alone where parseTarget has its say. */
  private bytes: Uint8Array | undefined;
  private text = '';
  /** The current spec's items when it is not an IPv4 block. */
  private other: Iterator<AddressTarget | string> | undefined;

  constructor(private readonly specs: readonly TargetSpec[]) {}

  next(): IteratorResult<AddressTarget | string> {
    for (;;) {
      if (this.other !== undefined) {
        const next = this.other.next();
        if (!next.done) return next;
        this.other = undefined;
      } else if (this.port < this.ports.length) {
        const port = this.ports[this.port++];
        const value = this.bytes !== undefined ? new AddressTarget(this.bytes, port) : `${this.text}:${port}`;
        return { value, done: false };
      } else if (this.host < this.end) {
        const value = this.host++;
        this.port = 0;
        // As item(): the few addresses parseTarget refuses or maps stay text.
        if (ipv4DestinationProblem(value, value, '') === undefined) this.bytes = v4Bytes(value);
        else {
          this.bytes = undefined;
          this.text = formatAddress(v4Bytes(value));
        }
      } else if (++this.spec < this.specs.length) {
        const spec = this.specs[this.spec];
        this.ports = spec.ports;
        this.port = this.ports.length;
        if (spec.hosts.kind === 'v4') {
          this.host = spec.hosts.first;
          this.end = spec.hosts.first + spec.hosts.count;
        } else {
          this.host = this.end = 0;
          this.other = expandSpecItems(spec);
        }
      } else {
        return { value: undefined, done: true };
      }
    }
  }
}

/** The specs with each one's first target number, for a shuffled walk. */
function numbered(specs: Iterable<TargetSpec>): { list: TargetSpec[]; starts: number[]; total: number } {
  const list = [...specs];
  const starts: number[] = [];
  let total = 0n;
  for (const spec of list) {
    starts.push(Number(total));
    total += spec.count;
  }
  if (total > BigInt(MAX_PERMUTATION_SIZE)) {
    throw new UsageError(`a shuffled sweep covers at most 2^52 targets, these expand to ${total}`);
  }
  return { list, starts, total: Number(total) };
}

/**
 * The number of targets, or a UsageError when it exceeds `max`: found from the specs' sizes,
 * before anything is expanded or sent.
 */
export function countTargets(specs: Iterable<TargetSpec>, max: number): number {
  let total = 0n;
  for (const spec of specs) {
    total += spec.count;
    if (total > BigInt(max)) {
      throw new UsageError(
        `the targets expand to more than --max-targets ${max} (${spec.text} alone is ${spec.count}); ` +
          'narrow them or raise --max-targets',
      );
    }
  }
  return Number(total);
}

/**
 * The number of targets shard `shard` visits, or a UsageError when that exceeds `max`: a shard
 * of a space too large for one machine is the point of sharding, so only the shard is bounded.
 */
export function countShard(specs: Iterable<TargetSpec>, shard: Shard, max: number): number {
  let total = 0n;
  for (const spec of specs) total += spec.count;
  if (total > BigInt(MAX_PERMUTATION_SIZE)) {
    throw new UsageError(`a shuffled sweep covers at most 2^52 targets, these expand to ${total}`);
  }
  const count = shardSize(Number(total), shard);
  if (count > max) {
    throw new UsageError(
      `shard ${shard.index}/${shard.count} of ${total} targets is ${count}, more than --max-targets ${max}; ` +
        'use more shards or raise --max-targets',
    );
  }
  return count;
}
