// Where a probe leaves from: the source address the kernel would pick for a destination and the
// interface to capture on. The routing table is read and matched in TypeScript (route-table.ts),
// once per route; for what the table cannot answer, a connected UDP socket asks the kernel per
// address (no packet is sent by connect() on UDP; far cheaper than spawning `ip route get`), the
// interface being the one that carries that source address. Loopback destinations map to `lo`.
import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import os from 'node:os';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Family } from '../core/types.js';
import { parseAddress } from '../wire/index.js';
import { onlyDefaultRules, parseIpRoutes, RouteTable, type RouteEntry } from './route-table.js';

export interface Route {
  source: string;
  interface: string;
}

const run = promisify(execFile);

export async function sourceAddressFor(ip: string, family: Family): Promise<string> {
  const socket = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      // Port 9 (discard) is arbitrary: UDP connect only consults the routing table.
      socket.connect(9, ip, () => resolve());
    });
    return socket.address().address;
  } finally {
    socket.close();
  }
}

function interfaceOwning(address: string): string | undefined {
  for (const [name, addrs] of Object.entries(os.networkInterfaces())) {
    if (addrs?.some((a) => a.address === address)) return name;
  }
  return undefined;
}

/** `ip -j route get` as a fallback when the source address sits on no single interface. */
async function ipRouteGet(ip: string): Promise<Route | undefined> {
  try {
    const { stdout } = await run('ip', ['-j', 'route', 'get', ip], { timeout: 2000 });
    const [entry] = JSON.parse(stdout) as Array<{ dev?: string; prefsrc?: string }>;
    if (entry?.dev && entry.prefsrc) return { source: entry.prefsrc, interface: entry.dev };
  } catch {
    // fall through
  }
  return undefined;
}

// Routes change (an interface goes down, a VPN comes up): the table and every answer derived
// from it are trusted this long, then re-read in the background (the old table keeps answering
// meanwhile, so a refresh is never on a probe's path).
const ROUTE_TTL_MS = 30_000;

async function ipJson(args: string[]): Promise<unknown> {
  const { stdout } = await run('ip', ['-j', ...args], { timeout: 2000, maxBuffer: 64 * 1024 * 1024 });
  return JSON.parse(stdout) as unknown;
}

/** Both families' routes of every table, or undefined when the table alone cannot answer. */
export async function readRouteTable(): Promise<RouteTable | undefined> {
  try {
    const [rules4, rules6, routes4, routes6] = await Promise.all([
      ipJson(['-4', 'rule', 'show']),
      ipJson(['-6', 'rule', 'show']),
      ipJson(['-4', 'route', 'show', 'table', 'all']),
      ipJson(['-6', 'route', 'show', 'table', 'all']),
    ]);
    // Policy routing of one's own: only the kernel knows (per-address lookups, as before).
    if (!onlyDefaultRules(rules4) || !onlyDefaultRules(rules6)) return undefined;
    return new RouteTable([...parseIpRoutes(routes4, 4), ...parseIpRoutes(routes6, 6)]);
  } catch {
    // No `ip` (iproute2) here, or it failed: per-address lookups, as before.
    return undefined;
  }
}

export interface RouteCacheStats {
  /** Times the routing table was read (`ip -j route`). */
  tableReads: number;
  /** Routes resolved from a table entry: one per route (prefix) used, not per address. */
  routesResolved: number;
  /** Per-address questions to the kernel (a connected UDP socket each): the fallback. */
  kernelLookups: number;
}

/**
 * Where probes to an address leave from. The routing table is read once (and every
 * ROUTE_TTL_MS); each route used is resolved once, so a sweep of a prefix behind one gateway
 * costs one lookup, and a known route answers from peek() without a promise. Destinations the
 * table cannot answer for (see route-table.ts) are asked of the kernel per address, cached.
 */
export class RouteCache {
  private readonly cache = new Map<string, { route: Route; expires: number }>();
  /** Lookups under way, so a thousand checks of one new address ask the kernel once. */
  private readonly pending = new Map<string, Promise<Route>>();
  private table: RouteTable | undefined;
  private tableExpires = 0;
  private tableRead: Promise<void> | undefined;
  /** Routes resolved per table entry (replaced with the table). */
  private byEntry = new Map<RouteEntry, Route>();
  private readonly pendingByEntry = new Map<RouteEntry, Promise<Route>>();
  readonly stats: RouteCacheStats = { tableReads: 0, routesResolved: 0, kernelLookups: 0 };
  private lastIp = '';
  private lastTable: RouteTable | undefined;
  private lastRoute: Route | undefined;

  constructor(
    private readonly maxEntries = 65536,
    private readonly loadTable: () => Promise<RouteTable | undefined> = readRouteTable,
  ) {}

  /** The known route, without waiting; undefined when it must be looked up. */
  peek(ip: string, bytes?: Uint8Array): Route | undefined {
    const now = performance.now();
    if (this.tableExpires !== 0 && now >= this.tableExpires) void this.refreshTable();
    if (this.table) {
      // Checks come in runs to one address (-n, a monitor's burst): the last answer first.
      if (ip === this.lastIp && this.lastTable === this.table && this.lastRoute !== undefined) return this.lastRoute;
      const address = bytes ?? parseAddress(ip);
      const entry = address && this.table.match(address);
      if (entry) {
        const route = this.byEntry.get(entry);
        if (route) {
          this.lastIp = ip;
          this.lastTable = this.table;
          this.lastRoute = route;
          return route;
        }
      }
    }
    const hit = this.cache.get(ip);
    if (hit === undefined) return undefined;
    if (hit.expires > now) return hit.route;
    this.cache.delete(ip);
    return undefined;
  }

  async lookup(ip: string, family: Family, bytes?: Uint8Array): Promise<Route> {
    const hit = this.peek(ip, bytes);
    if (hit) return hit;
    // The first lookups wait for the first read (later refreshes run behind the old table).
    if (this.tableExpires === 0) await this.refreshTable();
    else if (this.table === undefined && this.tableRead) await this.tableRead;
    const address = bytes ?? parseAddress(ip);
    const entry = address && this.table?.match(address);
    if (entry) {
      const route = this.fromEntry(entry, ip, family);
      if (route) return route;
    }
    return this.lookupAddress(ip, family);
  }

  /** Reads the routing table now (engine start-up), so the first probes find it ready. */
  prefetch(): Promise<void> {
    return this.tableExpires === 0 ? this.refreshTable() : Promise.resolve();
  }

  /** Reads the table once at a time; a failed read leaves per-address lookups until the next. */
  private refreshTable(): Promise<void> {
    if (!this.tableRead) {
      this.stats.tableReads++;
      // Set now, not on completion: peek() must not start a second read meanwhile.
      this.tableExpires = performance.now() + ROUTE_TTL_MS;
      this.tableRead = this.loadTable()
        .then((table) => {
          this.table = table;
          this.byEntry = new Map();
          this.cache.clear();
        })
        .finally(() => {
          this.tableRead = undefined;
        });
    }
    return this.tableRead;
  }

  /**
   * The route of a table entry, or a promise of it; undefined when the source depends on the
   * address (ask per address). IPv4 picks the source per route (its preferred source, else the
   * device's address for the gateway: fib_result_prefsrc), never per destination, so one
   * answer serves the whole prefix.
   */
  private fromEntry(entry: RouteEntry, ip: string, family: Family): Route | Promise<Route> | undefined {
    const known = this.byEntry.get(entry);
    if (known) return known;
    if (entry.type === 'local') {
      // Our own address: the packet travels over loopback; without a preferred source the
      // kernel answers from the destination itself (ip_route_output_key_hash_rcu, RTN_LOCAL).
      if (entry.prefsrc === undefined) return this.remember(ip, { source: ip, interface: loopbackInterface() });
      return this.rememberEntry(entry, { source: entry.prefsrc, interface: loopbackInterface() });
    }
    if (entry.prefsrc !== undefined) return this.rememberEntry(entry, { source: entry.prefsrc, interface: entry.dev! });
    // IPv6 chooses the source per destination (RFC 6724 rule 8, longest matching prefix), so
    // only ask the kernel once per route when the device has one address to choose from.
    if (family === 6 && !singleGlobalIpv6(entry.dev!)) return undefined;
    let pending = this.pendingByEntry.get(entry);
    if (!pending) {
      pending = sourceAddressFor(ip, family)
        .then((source) => {
          this.stats.kernelLookups++;
          return this.rememberEntry(entry, { source, interface: entry.dev! });
        })
        .finally(() => this.pendingByEntry.delete(entry));
      this.pendingByEntry.set(entry, pending);
    }
    return pending;
  }

  private rememberEntry(entry: RouteEntry, route: Route): Route {
    this.stats.routesResolved++;
    this.byEntry.set(entry, route);
    return route;
  }

  private remember(ip: string, route: Route): Route {
    if (this.cache.size >= this.maxEntries) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(ip, { route, expires: performance.now() + ROUTE_TTL_MS });
    return route;
  }

  private lookupAddress(ip: string, family: Family): Promise<Route> {
    let pending = this.pending.get(ip);
    if (!pending) {
      pending = this.resolve(ip, family).finally(() => this.pending.delete(ip));
      this.pending.set(ip, pending);
    }
    return pending;
  }

  /** The per-address way: a connected UDP socket asks the kernel (and an fd while it does). */
  private async resolve(ip: string, family: Family): Promise<Route> {
    this.stats.kernelLookups++;
    let route: Route | undefined;
    const source = await sourceAddressFor(ip, family);
    // A destination that is one of our own addresses travels over loopback, whatever
    // interface carries it.
    const local = isLoopback(ip) || interfaceOwning(ip) !== undefined;
    const iface = local ? loopbackInterface() : interfaceOwning(source);
    route = iface ? { source, interface: iface } : await ipRouteGet(ip);
    if (!route) route = { source, interface: 'any' };
    return this.remember(ip, route);
  }
}

/** Whether `dev` has exactly one IPv6 address that is not link-local. */
function singleGlobalIpv6(dev: string): boolean {
  const addrs = os.networkInterfaces()[dev] ?? [];
  return addrs.filter((a) => a.family === 'IPv6' && !a.address.toLowerCase().startsWith('fe80:')).length === 1;
}

export function isLoopback(ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1' || ip.startsWith('::ffff:127.');
}

function loopbackInterface(): string {
  for (const [name, addrs] of Object.entries(os.networkInterfaces())) {
    if (addrs?.some((a) => a.internal)) return name;
  }
  return 'lo';
}
