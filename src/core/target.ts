// Parsing what users type as a target: `host:port`, `198.18.0.2:80`, `[2001:2::2]:80`.
// Everything is checked before a packet is sent; mistakes give InvalidArgumentError with the
// offending text in the message.
import net from 'node:net';
import { formatAddress, parseAddress } from '../wire/address.js';
import { InvalidArgumentError } from './errors.js';

// What a TCP handshake cannot be sent to. 0.0.0.0/8 is "this network" (RFC 1122 §3.2.1.3: a
// source only; Linux routes 0.0.0.0 to the local host), 224.0.0.0/4 is multicast, 255.255.255.255
// the limited broadcast; in IPv6, :: is unspecified and ff00::/8 multicast (RFC 4291 §2.5.2, §2.7).
// A SYN to any of them either fails at send or is answered by something that is not the target.
const V4_THIS_NETWORK_END = 0x00ffffff;
const V4_MULTICAST_FIRST = 0xe0000000;
const V4_MULTICAST_LAST = 0xefffffff;
const V4_LIMITED_BROADCAST = 0xffffffff;

/**
 * Why the IPv4 addresses first..last (unsigned 32-bit numbers) cannot be TCP destinations, or
 * undefined. A block is refused only when every address in it is of one such kind (224.0.0.0/24):
 * a wide sweep that merely overlaps them (0.0.0.0/0) is the user's to make. `what` names the
 * addresses in the message ("224.0.0.1", "224.0.0.0/24").
 */
export function ipv4DestinationProblem(first: number, last: number, what: string): string | undefined {
  const is = first === last ? 'is' : 'is all';
  if (last <= V4_THIS_NETWORK_END) return `${what} ${is} in 0.0.0.0/8 ("this network", a source only), not a destination`;
  if (first >= V4_MULTICAST_FIRST && last <= V4_MULTICAST_LAST) return `${what} ${is} multicast; a TCP handshake needs a unicast destination`;
  if (first === V4_LIMITED_BROADCAST) return `${what} is the broadcast address; a TCP handshake needs a unicast destination`;
  return undefined;
}

/** The same for IPv6: `first` is the first address (16 bytes), `single` when it is the only one. */
export function ipv6DestinationProblem(first: Uint8Array, single: boolean, what: string): string | undefined {
  if (single && first.every((b) => b === 0)) return `${what} is the unspecified address, not a destination`;
  // An aligned block that starts in ff00::/8 lies in it entirely (a /0 starts at ::).
  if (first[0] === 0xff) return `${what} is ${single ? '' : 'all '}multicast; a TCP handshake needs a unicast destination`;
  return undefined;
}

/**
 * True for host text that inet_aton(3) would read as an IPv4 address although it is not a
 * dotted quad of plain decimals: "198.018.0.2" (octal), "0xc6.18.0.2" (hex), "198.18.2",
 * "3325166594". Its last label is a number, which no host name's top-level label is (RFC 3696
 * §2), so it is refused rather than sent to the resolver, where some libcs would read it one
 * way and others another.
 */
export function looksLikeInetAton(host: string): boolean {
  const labels = host.replace(/\.$/, '').split('.');
  return /^(0x[0-9a-f]*|\d+)$/i.test(labels[labels.length - 1]);
}

/** The IPv4 text of an IPv4-mapped IPv6 address (::ffff:a.b.c.d, RFC 4291 §2.5.5.2), else undefined. */
export function mappedIpv4(host: string): string | undefined {
  if (!net.isIPv6(host)) return undefined;
  const b = parseAddress(host);
  if (!b || b.length !== 16 || b.subarray(0, 10).some((x) => x !== 0) || b[10] !== 0xff || b[11] !== 0xff) return undefined;
  return `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
}

export interface Target {
  /** As the user wrote it, for results and logs. */
  text: string;
  host: string;
  port: number;
  /** 4 or 6 when host is an IP literal, 0 for a name to resolve. */
  literal: 0 | 4 | 6;
}

// RFC 1123 host names: labels of letters, digits and hyphens, dots between, 253 bytes at most.
const HOSTNAME = /^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$/i;

export function parsePort(text: string, context: string): number {
  if (!/^\d{1,5}$/.test(text)) {
    throw new InvalidArgumentError(`invalid port "${text}" in ${context}: expected a number from 1 to 65535`, 'ERR_SHAKER_INVALID_ADDRESS');
  }
  const port = Number(text);
  if (port < 1 || port > 65535) {
    throw new InvalidArgumentError(`invalid port ${port} in ${context}: expected a number from 1 to 65535`, 'ERR_SHAKER_INVALID_ADDRESS');
  }
  return port;
}

export function parseTarget(text: unknown): Target {
  if (typeof text !== 'string' || text.trim() === '') {
    throw new InvalidArgumentError(`invalid address ${show(text)}: expected "host:port"`, 'ERR_SHAKER_INVALID_ADDRESS');
  }
  const input = text.trim();
  let host: string;
  let portText: string;
  if (input.startsWith('[')) {
    const close = input.indexOf(']');
    if (close < 0 || input[close + 1] !== ':') {
      throw new InvalidArgumentError(`invalid address "${input}": expected "[ipv6]:port"`, 'ERR_SHAKER_INVALID_ADDRESS');
    }
    host = input.slice(1, close);
    portText = input.slice(close + 2);
    if (net.isIPv6(host) === false) {
      throw new InvalidArgumentError(`invalid address "${input}": "${host}" is not an IPv6 address`, 'ERR_SHAKER_INVALID_ADDRESS');
    }
  } else {
    const colon = input.lastIndexOf(':');
    if (colon < 0) {
      throw new InvalidArgumentError(`invalid address "${input}": missing ":port"`, 'ERR_SHAKER_INVALID_ADDRESS');
    }
    host = input.slice(0, colon);
    portText = input.slice(colon + 1);
    // Only an IPv6 address gets the brackets hint; "http://x:80" is simply not a host.
    if (host.includes(':') && net.isIPv6(host)) {
      throw new InvalidArgumentError(
        `invalid address "${input}": write IPv6 addresses in brackets, e.g. "[${host}]:${portText}"`,
        'ERR_SHAKER_INVALID_ADDRESS',
      );
    }
  }
  const port = parsePort(portText, `"${input}"`);
  // A v4-mapped literal is the IPv4 address it maps: probed over IPv4, as the kernel would.
  host = mappedIpv4(host) ?? host;
  const version = net.isIP(host);
  if (version === 0 && looksLikeInetAton(host)) {
    throw new InvalidArgumentError(
      `invalid address "${input}": "${host}" is not a valid IPv4 address (four decimal numbers from 0 to 255, no leading zeros)`,
      'ERR_SHAKER_INVALID_ADDRESS',
    );
  }
  if (version === 0 && !HOSTNAME.test(host)) {
    throw new InvalidArgumentError(`invalid address "${input}": "${host}" is neither an IP address nor a host name`, 'ERR_SHAKER_INVALID_ADDRESS');
  }
  const problem = version === 0 ? undefined : destinationProblem(host, version as 4 | 6);
  if (problem) throw new InvalidArgumentError(`invalid address "${input}": ${problem}`, 'ERR_SHAKER_INVALID_ADDRESS');
  return { text: input, host, port, literal: version as 0 | 4 | 6 };
}

/**
 * A target given as address bytes and a port: what parseTarget() makes of an IP literal's text,
 * made without that text being formatted and parsed again per check. Code that produces
 * addresses as numbers (the CLI's expansion of a CIDR block, 32766 targets for a /17) hands these
 * to checkMany(), which passes them to the raw engine as they are: in a profile of a /17 sweep,
 * formatting a target's text, parsing it back (parseTarget, normalizeIp) and parsing its address
 * again in the engine were ~3 µs of a check's ~30.
 *
 * The same rules as parseTarget(): an IPv4-mapped IPv6 address is its IPv4 address, and what
 * cannot be a TCP destination is refused with the same InvalidArgumentError. `text`, `ip` are
 * what parseTarget() and check() would show for the literal (canonical RFC 5952 text for IPv6).
 * The bytes are the target's own copy and are never written.
 */
export class AddressTarget {
  readonly text: string;
  readonly ip: string;
  readonly family: 4 | 6;
  readonly port: number;
  readonly address: Uint8Array;

  constructor(address: Uint8Array, port: number) {
    if (!(address instanceof Uint8Array) || (address.length !== 4 && address.length !== 16)) {
      throw new InvalidArgumentError(`invalid address: expected 4 or 16 bytes, got ${show(address)}`, 'ERR_SHAKER_INVALID_ADDRESS');
    }
    let bytes = new Uint8Array(address);
    if (bytes.length === 16 && isMappedIpv4(bytes)) bytes = bytes.slice(12);
    const ip = formatAddress(bytes);
    const text = bytes.length === 4 ? `${ip}:${port}` : `[${ip}]:${port}`;
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
      throw new InvalidArgumentError(`invalid port ${String(port)} in "${text}": expected a number from 1 to 65535`, 'ERR_SHAKER_INVALID_ADDRESS');
    }
    const problem = bytes.length === 16 ? ipv6DestinationProblem(bytes, true, `"${ip}"`) : ipv4DestinationProblem(u32(bytes), u32(bytes), `"${ip}"`);
    if (problem) throw new InvalidArgumentError(`invalid address "${text}": ${problem}`, 'ERR_SHAKER_INVALID_ADDRESS');
    this.text = text;
    this.ip = ip;
    this.family = bytes.length === 4 ? 4 : 6;
    this.port = port;
    this.address = bytes;
  }
}

function isMappedIpv4(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

function u32(b: Uint8Array): number {
  return ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
}

/** Why the IP literal `host` cannot be a TCP destination, or undefined (see ipv4DestinationProblem). */
export function destinationProblem(host: string, version: 4 | 6): string | undefined {
  const bytes = parseAddress(host.split('%')[0]);
  if (!bytes) return undefined; // not a literal: names are checked once resolved
  if (version === 6) return ipv6DestinationProblem(bytes, true, `"${host}"`);
  const value = ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0;
  return ipv4DestinationProblem(value, value, `"${host}"`);
}

/** The offending value for a message; JSON.stringify throws on a BigInt or a cycle. */
function show(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return typeof value;
  }
}
