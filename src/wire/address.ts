// Text <-> bytes for IP addresses, used by describe() and by code that takes addresses from users.
// Neither direction throws: formatAddress renders any byte string, parseAddress answers undefined.

const hex = '0123456789abcdef';

/**
 * 4 bytes: dotted quad. 16 bytes: RFC 5952 text (lower case, no leading zeros, the longest run of
 * two or more zero groups as "::", the first on a tie; IPv4-mapped addresses end in a dotted quad,
 * RFC 5952 §5). Any other length (a MAC address, say): colon-separated hex bytes.
 */
export function formatAddress(bytes: Uint8Array): string {
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  if (bytes.length !== 16) {
    let s = '';
    for (let i = 0; i < bytes.length; i++) {
      if (i > 0) s += ':';
      s += hex[bytes[i] >>> 4] + hex[bytes[i] & 15];
    }
    return s;
  }
  // ::ffff:a.b.c.d
  let mapped = bytes[10] === 0xff && bytes[11] === 0xff;
  for (let i = 0; i < 10 && mapped; i++) mapped = bytes[i] === 0;
  if (mapped) return `::ffff:${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;

  // Longest run of zero groups (RFC 5952 §4.2.2: a single zero group is not shortened).
  let bestStart = -1;
  let bestLen = 1;
  for (let g = 0; g < 8; ) {
    if (bytes[2 * g] !== 0 || bytes[2 * g + 1] !== 0) {
      g++;
      continue;
    }
    let end = g;
    while (end < 8 && bytes[2 * end] === 0 && bytes[2 * end + 1] === 0) end++;
    if (end - g > bestLen) {
      bestStart = g;
      bestLen = end - g;
    }
    g = end;
  }
  let s = '';
  for (let g = 0; g < 8; g++) {
    if (g === bestStart) {
      s += '::';
      g += bestLen - 1;
      continue;
    }
    if (s !== '' && !s.endsWith(':')) s += ':';
    s += ((bytes[2 * g] << 8) | bytes[2 * g + 1]).toString(16);
  }
  return s;
}

function parseIpv4Into(text: string, out: Uint8Array, at: number): boolean {
  // A character scan, not split + regex: the raw engine parses every target it is given.
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 0x2e; // a final '.' closes the last part
    if (c === 0x2e) {
      if (digits === 0 || part > 3) return false;
      out[at + part++] = value;
      value = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      // Decimal only, no leading zeros: "010" is octal to inet_aton and decimal to others.
      if (digits === 1 && value === 0) return false;
      value = value * 10 + (c - 0x30);
      if (++digits > 3 || value > 255) return false;
    } else {
      return false;
    }
  }
  return part === 4;
}

/**
 * Dotted quad or RFC 4291 §2.2 IPv6 text (including "::" and a trailing dotted quad) to 4 or 16
 * bytes; undefined for anything else. Zone ids ("fe80::1%eth0") and brackets are not addresses
 * and are rejected: strip them first.
 */
export function parseAddress(text: string): Uint8Array | undefined {
  if (typeof text !== 'string' || text.length === 0 || text.length > 45) return undefined;
  if (!text.includes(':')) {
    const out = new Uint8Array(4);
    return parseIpv4Into(text, out, 0) ? out : undefined;
  }
  const out = new Uint8Array(16);
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groupsOf = (s: string): string[] => (s === '' ? [] : s.split(':'));
  const head = groupsOf(halves[0]);
  const tail = halves.length === 2 ? groupsOf(halves[1]) : [];
  // A trailing dotted quad stands for two groups.
  const all = halves.length === 2 ? tail : head;
  let quad: string | undefined;
  if (all.length > 0 && all[all.length - 1].includes('.')) quad = all.pop();
  const quadGroups = quad === undefined ? 0 : 2;
  const total = head.length + tail.length + quadGroups;
  if (halves.length === 2 ? total > 7 : total !== 8) return undefined;
  const put = (groups: string[], at: number): boolean => {
    for (let i = 0; i < groups.length; i++) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(groups[i])) return false;
      const v = parseInt(groups[i], 16);
      out[at + 2 * i] = v >>> 8;
      out[at + 2 * i + 1] = v & 0xff;
    }
    return true;
  };
  if (!put(head, 0)) return undefined;
  const tailAt = 16 - 2 * (tail.length + quadGroups);
  if (halves.length === 2 && !put(tail, tailAt)) return undefined;
  if (quad !== undefined && !parseIpv4Into(quad, out, 12)) return undefined;
  return out;
}
