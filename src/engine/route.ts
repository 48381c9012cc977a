// Where a probe leaves from: the source address the kernel would pick for a destination and the
// interface to capture on. A connected UDP socket asks the kernel's routing table directly (no
// packet is sent by connect() on UDP) and is far cheaper than spawning `ip route get`; the
// interface is the one that carries that source address. Loopback destinations map to `lo`.
import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import os from 'node:os';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Family } from '../core/types.js';

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

// Routes change (an interface goes down, a VPN comes up): a cached answer is trusted this long.
const ROUTE_TTL_MS = 30_000;

export class RouteCache {
  private readonly cache = new Map<string, { route: Route; expires: number }>();
  /** Lookups under way, so a thousand checks of one new address ask the kernel once. */
  private readonly pending = new Map<string, Promise<Route>>();

  constructor(private readonly maxEntries = 65536) {}

  /** The cached route, without waiting; undefined when it must be looked up. */
  peek(ip: string): Route | undefined {
    const hit = this.cache.get(ip);
    if (hit === undefined) return undefined;
    if (hit.expires > performance.now()) return hit.route;
    this.cache.delete(ip);
    return undefined;
  }

  lookup(ip: string, family: Family): Promise<Route> {
    const hit = this.peek(ip);
    if (hit) return Promise.resolve(hit);
    let pending = this.pending.get(ip);
    if (!pending) {
      pending = this.resolve(ip, family).finally(() => this.pending.delete(ip));
      this.pending.set(ip, pending);
    }
    return pending;
  }

  private async resolve(ip: string, family: Family): Promise<Route> {
    let route: Route | undefined;
    const source = await sourceAddressFor(ip, family);
    // A destination that is one of our own addresses travels over loopback, whatever
    // interface carries it.
    const local = isLoopback(ip) || interfaceOwning(ip) !== undefined;
    const iface = local ? loopbackInterface() : interfaceOwning(source);
    route = iface ? { source, interface: iface } : await ipRouteGet(ip);
    if (!route) route = { source, interface: 'any' };
    if (this.cache.size >= this.maxEntries) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(ip, { route, expires: performance.now() + ROUTE_TTL_MS });
    return route;
  }
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
