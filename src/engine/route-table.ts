// The kernel's routing table, read once (`ip -j route show table all`) and matched in
// TypeScript: a sweep of a /16 behind one gateway is one route, so it should cost one lookup,
// not one per address. Asking per address (a connected UDP socket each) cost ~90 µs and an fd per
// new destination, and a sweep with more new destinations in flight than RLIMIT_NOFILE ended in
// EMFILE. Matching here is a longest-prefix match over a Map per prefix length: no syscall, no
// allocation for IPv4.
//
// Only what this engine needs is modelled: the tables the default rules consult (local, then
// main, then default; see `ip rule`), unicast and local routes with one device. Anything else
// (policy rules of one's own, multipath, blackhole/unreachable/prohibit, broadcast) matches as
// `undefined`, and the caller asks the kernel per address as before, which gives the kernel's
// own answer (or error) for those.
import type { Family } from '../core/types.js';
import { parseAddress } from '../wire/index.js';

export interface RouteEntry {
  family: Family;
  /** The destination prefix, masked, and its length in bits. */
  prefix: Uint8Array;
  prefixLen: number;
  /** `ip route` type: unicast, local, broadcast, blackhole, unreachable... */
  type: string;
  table: string;
  dev?: string;
  /** The route's preferred source (`src` in `ip route`), when it names one. */
  prefsrc?: string;
  gateway?: string;
  /** Several next hops (ECMP): the kernel picks one per flow, so the route says nothing alone. */
  multipath: boolean;
  metric: number;
}

/**
 * Up to this many IPv4 routes, a lookup also finds the block of addresses sharing its answer (a
 * scan of every route): a full Internet table (~10^6 routes) would make that scan the cost.
 */
const MAX_BLOCK_SCAN = 4096;

/** The tables the kernel's default rules look up, in rule order (priority 0, 32766, 32767). */
const DEFAULT_RULE_TABLES = ['local', 'main', 'default'];

/** One element of `ip -j route show` (only the fields read here). */
interface IpRouteJson {
  type?: string;
  dst?: string;
  dev?: string;
  table?: string;
  prefsrc?: string;
  gateway?: string;
  nexthops?: unknown[];
  metric?: number;
}

/** Parses `ip -j -4|-6 route show table all`; entries that cannot be read are skipped. */
export function parseIpRoutes(json: unknown, family: Family): RouteEntry[] {
  if (!Array.isArray(json)) return [];
  const entries: RouteEntry[] = [];
  for (const item of json as IpRouteJson[]) {
    if (typeof item !== 'object' || item === null || typeof item.dst !== 'string') continue;
    const bits = family === 4 ? 32 : 128;
    let text = item.dst;
    let prefixLen = bits;
    if (text === 'default') {
      text = family === 4 ? '0.0.0.0' : '::';
      prefixLen = 0;
    } else if (text.includes('/')) {
      const [address, len] = text.split('/');
      text = address;
      prefixLen = Number(len);
    }
    const prefix = parseAddress(text);
    if (!prefix || prefix.length !== bits / 8 || !Number.isInteger(prefixLen) || prefixLen < 0 || prefixLen > bits) continue;
    entries.push({
      family,
      prefix: maskBytes(prefix, prefixLen),
      prefixLen,
      type: item.type ?? 'unicast',
      table: item.table ?? 'main',
      dev: item.dev,
      prefsrc: item.prefsrc,
      gateway: item.gateway,
      multipath: Array.isArray(item.nexthops) && item.nexthops.length > 0,
      metric: typeof item.metric === 'number' ? item.metric : 0,
    });
  }
  return entries;
}

/**
 * Whether `ip -j rule show` lists only the kernel's default rules: local, main and (IPv4 has it,
 * IPv6 in a fresh namespace not) default. With rules of one's own (a VPN, source routing), the
 * table alone cannot answer.
 */
export function onlyDefaultRules(json: unknown): boolean {
  if (!Array.isArray(json)) return false;
  const rules = (json as Array<{ table?: string; src?: string; priority?: number }>).map((r) => `${r.priority}:${r.table}:${r.src ?? 'all'}`);
  const defaults = ['0:local:all', '32766:main:all', '32767:default:all'];
  return rules.length >= 2 && rules.length <= 3 && rules.every((rule, i) => rule === defaults[i]);
}

function maskBytes(bytes: Uint8Array, prefixLen: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    const bitsHere = Math.max(0, Math.min(8, prefixLen - i * 8));
    out[i] = bytes[i] & ((0xff << (8 - bitsHere)) & 0xff);
  }
  return out;
}

/** An IPv4 address (4 bytes at `at`) as an unsigned 32-bit number. */
function u32(bytes: Uint8Array, at: number): number {
  return ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;
}

/** One table's routes of one family: a Map per prefix length, longest first. */
class PrefixIndex {
  private readonly lengths: number[] = [];
  private readonly byLength = new Map<number, Map<number | string, RouteEntry>>();

  constructor(private readonly family: Family) {}

  add(entry: RouteEntry): void {
    let map = this.byLength.get(entry.prefixLen);
    if (!map) {
      this.byLength.set(entry.prefixLen, (map = new Map()));
      this.lengths.push(entry.prefixLen);
      this.lengths.sort((a, b) => b - a);
    }
    // `| 0`: a signed 32-bit key is a small integer to V8, where one above 2^31 (most of the
    // IPv4 space) is a heap number, allocated on every lookup.
    const key = this.family === 4 ? u32(entry.prefix, 0) | 0 : hex(entry.prefix);
    const known = map.get(key);
    // Same prefix twice (different metrics): the kernel uses the lowest metric.
    if (!known || entry.metric < known.metric) map.set(key, entry);
  }

  match(address: Uint8Array): RouteEntry | undefined {
    if (this.family === 4) {
      const a = u32(address, 0);
      for (const len of this.lengths) {
        // `>>> 0` after the shift: a mask of 32 bits must stay unsigned; a /0 mask is 0.
        const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
        const hit = this.byLength.get(len)!.get(a & mask);
        if (hit) return hit;
      }
      return undefined;
    }
    for (const len of this.lengths) {
      const hit = this.byLength.get(len)!.get(hex(maskBytes(address, len)));
      if (hit) return hit;
    }
    return undefined;
  }
}

function hex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

/**
 * The routes of the default rules' tables, matched as the kernel does with those rules: the
 * local table first, then main, then default, longest prefix within each.
 */
export class RouteTable {
  private readonly tables: Array<{ 4: PrefixIndex; 6: PrefixIndex }> = DEFAULT_RULE_TABLES.map(() => ({
    4: new PrefixIndex(4),
    6: new PrefixIndex(6),
  }));

  /** The IPv4 prefixes of every table (as numbers) and their lengths, for blockOf(). */
  private readonly v4Prefixes: Uint32Array;
  private readonly v4Lengths: Uint8Array;
  /** The last IPv4 answer and the block of addresses that share it (mask 0 and block -1: none yet). */
  private lastMask = 0;
  private lastBlock = -1;
  private lastAnswer: RouteEntry | undefined;

  constructor(entries: readonly RouteEntry[]) {
    const v4: RouteEntry[] = [];
    for (const entry of entries) {
      const at = DEFAULT_RULE_TABLES.indexOf(entry.table);
      if (at < 0) continue;
      this.tables[at][entry.family].add(entry);
      if (entry.family === 4) v4.push(entry);
    }
    this.v4Prefixes = Uint32Array.from(v4, (e) => u32(e.prefix, 0));
    this.v4Lengths = Uint8Array.from(v4, (e) => e.prefixLen);
  }

  /**
   * The route the kernel would take to `address` (4 or 16 bytes), or undefined when the table
   * alone cannot tell (see the file comment): the caller then asks the kernel.
   *
   * A sweep asks for thousands of addresses in a row behind one route: an IPv4 answer comes with
   * the block around the address whose addresses all get the same one (blockOf), and the next
   * address inside that block is answered from it, without a lookup.
   */
  match(address: Uint8Array): RouteEntry | undefined {
    if (address.length === 4) {
      const a = u32(address, 0) | 0;
      if ((a & this.lastMask) === this.lastBlock) return this.lastAnswer;
      const answer = this.lookup(address, 4);
      if (this.v4Prefixes.length <= MAX_BLOCK_SCAN) {
        const len = this.blockOf(a);
        this.lastMask = len === 0 ? 0 : (0xffffffff << (32 - len)) | 0;
        this.lastBlock = a & this.lastMask;
        this.lastAnswer = answer;
      }
      return answer;
    }
    return this.lookup(address, 6);
  }

  /**
   * The length of the largest prefix around IPv4 address `a` inside which every address lies in
   * exactly the routes `a` lies in (of every table, whatever their type), so it gets the same
   * answer from match(). A route that holds `a` holds the block if the block is no larger than
   * the route; a route that does not hold `a` first differs from it at bit clz32(prefix ^ a),
   * and stays out of the block if the block keeps that bit. The block is as small as the
   * tightest of these asks: a /17 sweep behind a /16 route with nothing inside it is one block.
   */
  private blockOf(a: number): number {
    let len = 0;
    const prefixes = this.v4Prefixes;
    const lengths = this.v4Lengths;
    for (let i = 0; i < prefixes.length; i++) {
      const needed = Math.min(lengths[i], Math.clz32(prefixes[i] ^ a) + 1);
      if (needed > len) len = needed;
    }
    return Math.min(len, 32);
  }

  private lookup(address: Uint8Array, family: Family): RouteEntry | undefined {
    for (const table of this.tables) {
      const hit = table[family].match(address);
      // A `throw` route sends the lookup on to the next table (ip-route(8)).
      if (hit === undefined || hit.type === 'throw') continue;
      if ((hit.type !== 'unicast' && hit.type !== 'local') || hit.multipath || hit.dev === undefined) return undefined;
      return hit;
    }
    return undefined;
  }
}
