// Where a probe leaves from: the source address the kernel would pick for a destination and the
// interface to capture on. A connected UDP socket asks the kernel's routing table directly (no
// packet is sent by connect() on UDP) and is far cheaper than spawning `ip route get`; the
// interface is the one that carries that source address. Loopback destinations map to `lo`.
import dgram from 'node:dgram';
import os from 'node:os';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Family } from '../types.js';

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

export class RouteCache {
  private readonly cache = new Map<string, Route>();

  constructor(private readonly maxEntries = 65536) {}

  async lookup(ip: string, family: Family): Promise<Route> {
    const hit = this.cache.get(ip);
    if (hit) return hit;
    let route: Route | undefined;
    const source = await sourceAddressFor(ip, family);
    // A destination that is one of our own addresses travels over loopback, whatever
    // interface carries it.
    const local = isLoopback(ip) || interfaceOwning(ip) !== undefined;
    const iface = local ? loopbackInterface() : interfaceOwning(source);
    route = iface ? { source, interface: iface } : await ipRouteGet(ip);
    if (!route) route = { source, interface: 'any' };
    if (this.cache.size >= this.maxEntries) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(ip, route);
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
