// The testbed's address plan. Every address lives in the benchmarking ranges reserved for
// exactly this use: 198.18.0.0/15 (RFC 2544) and 2001:2::/48 (RFC 5180), so nothing the
// testbed sends could ever mean something on a real network.
import net from 'node:net';
import { InvalidArgumentError } from '../core/errors.js';
import type { Family } from '../core/types.js';

const allowed = new net.BlockList();
allowed.addSubnet('198.18.0.0', 15, 'ipv4');
allowed.addSubnet('2001:2::', 48, 'ipv6');

/** The veth link between the namespaces. */
export const LINK = {
  client: { ipv4: '198.18.0.1', ipv6: '2001:2::1', mac: '02:74:73:68:6b:01', iface: 'veth-client' },
  server: { ipv4: '198.18.0.2', ipv6: '2001:2::2', mac: '02:74:73:68:6b:02', iface: 'veth-server' },
  prefixLen4: 24,
  prefixLen6: 64,
} as const;

/**
 * Prefixes the client routes to the server, where a route of the named type makes the server
 * kernel answer with an ICMP error (it forwards, so it acts as a router would):
 * - `hostUnreachable`: route type `unreachable` → ICMP type 3 code 1 / ICMPv6 type 1 code 0
 *   (no route to destination).
 * - `prohibited`: route type `prohibit` → ICMP type 3 code 13 / ICMPv6 type 1 code 1
 *   (communication administratively prohibited).
 * - `blackhole`: route type `blackhole` → silently dropped, so probes time out.
 */
export const ERROR_ROUTES = {
  hostUnreachable: { prefix4: '198.18.1.0/24', prefix6: '2001:2:0:1::/64', ipv4: '198.18.1.1', ipv6: '2001:2:0:1::1', routeType: 'unreachable' },
  prohibited: { prefix4: '198.18.2.0/24', prefix6: '2001:2:0:2::/64', ipv4: '198.18.2.1', ipv6: '2001:2:0:2::1', routeType: 'prohibit' },
  blackhole: { prefix4: '198.18.3.0/24', prefix6: '2001:2:0:3::/64', ipv4: '198.18.3.1', ipv6: '2001:2:0:3::1', routeType: 'blackhole' },
} as const;

export type ErrorRouteName = keyof typeof ERROR_ROUTES;

export interface Cidr {
  address: string;
  prefixLen: number;
  family: Family;
  /** As given, normalised to "address/len". */
  text: string;
}

/**
 * Parses "addr/len" (or a bare address, as /32 or /128) and refuses anything outside the
 * benchmarking ranges, so a typo can never route real addresses into the testbed.
 */
export function parseTestbedCidr(text: string): Cidr {
  const [address, lenText, extra] = text.split('/');
  const family = net.isIP(address);
  if ((family !== 4 && family !== 6) || extra !== undefined) {
    throw new InvalidArgumentError(`not an address or prefix: ${JSON.stringify(text)}`, 'ERR_SHAKER_INVALID_ADDRESS');
  }
  const maxLen = family === 4 ? 32 : 128;
  const prefixLen = lenText === undefined ? maxLen : Number(lenText);
  if (!Number.isInteger(prefixLen) || prefixLen < 0 || prefixLen > maxLen || (lenText !== undefined && !/^\d+$/.test(lenText))) {
    throw new InvalidArgumentError(`bad prefix length in ${JSON.stringify(text)}`, 'ERR_SHAKER_INVALID_ADDRESS');
  }
  const minLen = family === 4 ? 15 : 48;
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (prefixLen < minLen || !allowed.check(address, type)) {
    throw new InvalidArgumentError(
      `${text} is outside the testbed ranges 198.18.0.0/15 and 2001:2::/48`,
      'ERR_SHAKER_INVALID_ADDRESS',
    );
  }
  return { address, prefixLen, family, text: `${address}/${prefixLen}` };
}
