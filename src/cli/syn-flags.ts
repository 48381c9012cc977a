// The command line's way to shape the SYN (the library's `raw.syn`) and choose source ports
// (`raw.sourcePorts`), for experiments such as RFC 7872's: do paths drop SYNs that carry IPv6
// extension headers?
//
//   --ipv6-ext hbh:16,dest     hop-by-hop options (16 bytes), then destination options (8)
//   --syn-options mss:1220,sack,ts,nop,ws:7   the TCP options in this order ("none": no options)
//   --ttl 3 --window 1024      IPv4 TTL / IPv6 hop limit, and the SYN's window
//   --source-ports 61000-61999
//
// Extension headers are filled so that a Linux receiver accepts them as such: option headers
// larger than 8 bytes carry one RFC 4727 experimental option (type 0x1e: "skip if unknown"),
// because Linux drops headers with more than 7 bytes of padding in a row (net/ipv6/exthdrs.c,
// as RFC 8200 §4.2 suggests); the routing header is of the experimental type 253 with
// segments-left 0, which RFC 8200 §4.4 says a node must ignore; the fragment header is an
// atomic fragment (offset 0, M=0; RFC 6946).
import type { Ipv6ExtensionHeader, TcpOption } from '../wire/index.js';
import type { RawStrategyOptions } from '../engine/raw-strategy.js';
import type { PortRange } from '../core/port-range.js';
import { UsageError } from './usage-error.js';

export type SynOverrides = NonNullable<RawStrategyOptions['syn']>;

/** RFC 4727 experimental option type whose top bits say "skip over this option" (RFC 8200 §4.2). */
const EXPERIMENTAL_OPTION = 0x1e;
/** RFC 4727 experimental routing type. */
const EXPERIMENTAL_ROUTING_TYPE = 253;
/** An option's data is at most 255 bytes. */
const MAX_OPTION_DATA = 255;
/** Header length field counts 8-byte units after the first: 8 + 255 * 8. */
const MAX_EXTENSION_HEADER = 2048;

const EXT_NAMES = ['hbh', 'dest', 'frag', 'route'] as const;

function extensionSize(name: string, text: string | undefined): number {
  if (text === undefined) return 8;
  const size = /^\d{1,4}$/.test(text) ? Number(text) : Number.NaN;
  if (!(size >= 8 && size <= MAX_EXTENSION_HEADER && size % 8 === 0)) {
    throw new UsageError(`--ipv6-ext ${name}:${text}: the size must be a multiple of 8 from 8 to ${MAX_EXTENSION_HEADER} bytes`);
  }
  if (name === 'frag' && size !== 8) throw new UsageError(`--ipv6-ext frag:${text}: a fragment header is always 8 bytes`);
  return size;
}

/** Options filling an options header to `size` bytes (2 bytes of next header + length first). */
function fillerOptions(size: number): Array<{ type: number; data: Uint8Array }> {
  // 8 bytes: the emitter's own 6-byte PadN is what Linux sends, and within its limit.
  if (size === 8) return [];
  const options: Array<{ type: number; data: Uint8Array }> = [];
  let left = size - 2;
  while (left > 0) {
    // Each option takes 2 + data bytes; never leave a remainder of 1 (or 0 < r < 2).
    let data = Math.min(MAX_OPTION_DATA, left - 2);
    if (left - (2 + data) === 1) data--;
    options.push({ type: EXPERIMENTAL_OPTION, data: new Uint8Array(data) });
    left -= 2 + data;
  }
  return options;
}

/** "hbh:16,dest,frag,route:24" as extension headers, in the order given. */
export function parseIpv6Extensions(text: string): Ipv6ExtensionHeader[] {
  if (text.trim() === '') throw new UsageError('--ipv6-ext needs a list, e.g. "hbh" or "hbh:16,dest"');
  return text.split(',').map((item) => {
    const [name, size, extra] = item.trim().split(':');
    if (!(EXT_NAMES as readonly string[]).includes(name) || extra !== undefined) {
      throw new UsageError(`--ipv6-ext: "${item}" is not one of hbh, dest, frag, route (each with an optional :BYTES)`);
    }
    const bytes = extensionSize(name, size);
    switch (name as (typeof EXT_NAMES)[number]) {
      case 'hbh':
        return { kind: 'hop-by-hop', options: fillerOptions(bytes) };
      case 'dest':
        return { kind: 'destination', options: fillerOptions(bytes) };
      case 'frag':
        return { kind: 'fragment', fragmentOffset: 0, moreFragments: false, identification: (Math.random() * 2 ** 32) >>> 0 };
      case 'route':
        return { kind: 'routing', routingType: EXPERIMENTAL_ROUTING_TYPE, segmentsLeft: 0, data: new Uint8Array(bytes - 4) };
    }
  });
}

function number(text: string | undefined, what: string, min: number, max: number): number {
  const n = text !== undefined && /^\d{1,10}$/.test(text) ? Number(text) : Number.NaN;
  if (!(n >= min && n <= max)) throw new UsageError(`${what} must be a whole number from ${min} to ${max}, got "${text ?? ''}"`);
  return n;
}

/** "mss:1460,sack,ts,nop,ws:7" (or "none") as TCP options, in the order given. */
export function parseSynOptions(text: string): TcpOption[] {
  if (text.trim() === 'none') return [];
  return text.split(',').map((item): TcpOption => {
    const [name, value, extra] = item.trim().split(':');
    if (extra !== undefined) throw new UsageError(`--syn-options: "${item}" has more than one ":"`);
    const noValue = (): void => {
      if (value !== undefined) throw new UsageError(`--syn-options: ${name} takes no value, got "${item}"`);
    };
    switch (name) {
      case 'mss':
        return { kind: 'mss', mss: number(value, '--syn-options mss', 1, 65535) };
      case 'ws':
        // RFC 7323 §2.3 caps the shift at 14; sending more is allowed (and a fine experiment).
        return { kind: 'window-scale', shift: number(value, '--syn-options ws', 0, 255) };
      case 'sack':
        noValue();
        return { kind: 'sack-permitted' };
      case 'ts':
        noValue();
        // Sent with TSval 0: a custom option list is sent as given (wire/packet-template.ts
        // stamps the clock only into its default list). Legal (RFC 7323 §4.3), if unusual.
        return { kind: 'timestamps', tsVal: 0, tsEcr: 0 };
      case 'nop':
        noValue();
        return { kind: 'nop' };
      case 'eol':
        noValue();
        return { kind: 'eol' };
      default:
        throw new UsageError(`--syn-options: "${item}" is not one of mss:N, ws:N, sack, ts, nop, eol (or "none")`);
    }
  });
}

export interface SynFlagValues {
  'ipv6-ext'?: string;
  'syn-options'?: string;
  ttl?: string;
  window?: string;
  'source-ports'?: string;
}

/** The SYN overrides and source ports the flags ask for; undefined when none was given. */
export function parseSynFlags(v: SynFlagValues): { syn: SynOverrides | undefined; sourcePorts: PortRange | undefined } {
  const syn: SynOverrides = {};
  if (v['ipv6-ext'] !== undefined) syn.extensionHeaders = parseIpv6Extensions(v['ipv6-ext']);
  if (v['syn-options'] !== undefined) syn.options = parseSynOptions(v['syn-options']);
  if (v.ttl !== undefined) syn.ttl = number(v.ttl, '--ttl', 1, 255);
  if (v.window !== undefined) syn.window = number(v.window, '--window', 0, 65535);
  let sourcePorts: PortRange | undefined;
  if (v['source-ports'] !== undefined) {
    const m = /^(\d{1,5})-(\d{1,5})$/.exec(v['source-ports']);
    const low = m ? Number(m[1]) : 0;
    const high = m ? Number(m[2]) : 0;
    if (!m || low < 1 || high > 65535 || low > high) {
      throw new UsageError(`--source-ports wants LO-HI with 1 <= LO <= HI <= 65535, got "${v['source-ports']}"`);
    }
    sourcePorts = [low, high];
  }
  return { syn: Object.keys(syn).length > 0 ? syn : undefined, sourcePorts };
}

/** The flags that shape the SYN or its ports, for the "needs the raw strategy" checks. */
export const SYN_FLAGS = ['ipv6-ext', 'syn-options', 'ttl', 'window', 'source-ports'] as const;
