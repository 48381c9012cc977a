// Parsing what users type as a target: `host:port`, `198.18.0.2:80`, `[2001:2::2]:80`.
// Everything is checked before a packet is sent; mistakes give InvalidArgumentError with the
// offending text in the message.
import net from 'node:net';
import { InvalidArgumentError } from './errors.js';

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
  const version = net.isIP(host);
  if (version === 0 && !HOSTNAME.test(host)) {
    throw new InvalidArgumentError(`invalid address "${input}": "${host}" is neither an IP address nor a host name`, 'ERR_SHAKER_INVALID_ADDRESS');
  }
  return { text: input, host, port, literal: version as 0 | 4 | 6 };
}

/** The offending value for a message; JSON.stringify throws on a BigInt or a cycle. */
function show(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return typeof value;
  }
}
