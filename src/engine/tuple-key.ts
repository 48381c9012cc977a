// A number that names a probe's 4-tuple as seen from the reply: (remote address, remote port,
// local port). Numbers, not strings, because the table may hold a million entries; 52 bits so
// a Map keeps them as doubles without boxing. Not secret and not unique: the probe table
// compares the full tuple on lookup and the allocator re-rolls on a clash.

const MIX_A = 0x9e3779b1;
const MIX_B = 0x85ebca77;

function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

/** `addr` is 4 or 16 bytes starting at `offset`. */
export function tupleKey(addr: Uint8Array, offset: number, addrLen: number, remotePort: number, localPort: number): number {
  let a = Math.imul(addrLen, MIX_A) ^ ((remotePort << 16) | localPort);
  let b = Math.imul(localPort + 1, MIX_B) ^ remotePort;
  for (let i = 0; i < addrLen; i += 4) {
    const word =
      ((addr[offset + i] << 24) | (addr[offset + i + 1] << 16) | (addr[offset + i + 2] << 8) | addr[offset + i + 3]) >>> 0;
    a = mix(a ^ word);
    b = mix((b + word) >>> 0);
  }
  // 32 bits from one hash, 20 from the other: 52 bits, exactly representable.
  return (b & 0xfffff) * 0x100000000 + a;
}
