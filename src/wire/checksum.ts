// The Internet checksum (RFC 1071), the IPv4/IPv6 pseudo-headers TCP, UDP and ICMPv6 add to it,
// and the incremental update of RFC 1624.
//
// The functions work on *partial sums*: a partial sum is the one's-complement sum of 16-bit
// big-endian words folded to 16 bits, NOT yet complemented (smoltcp's `checksum::data`). Partial
// sums of separate pieces add with `combine`, so a TCP checksum is
// `finish(combine(pseudoHeaderV4(...), sum(segment)))`, and a received segment verifies when the
// same total, taken with the checksum field in place, is 0xffff (RFC 1071 §1, step 3).
//
// Everything here is pure: nothing writes into the bytes it sums (gopacket's ip4 checksum zeroes
// the caller's field as a side effect; emitters here write 0 into their own output first).

/** Folds carries above bit 15 back in (end-around carry) until the value fits in 16 bits. */
export function fold(acc: number): number {
  while (acc > 0xffff) acc = (acc & 0xffff) + Math.floor(acc / 0x10000);
  return acc;
}

/**
 * Partial sum of `bytes[start..end)`, added to `initial`. An odd trailing byte is the high
 * octet of a final word padded with zero (RFC 1071 §4.1, "if (count > 0) sum += *addr").
 */
export function sum(bytes: Uint8Array, initial = 0, start = 0, end = bytes.length): number {
  let acc = initial;
  let i = start;
  // Fold every 2^15 words so the accumulator stays below 2^32 and exact in a double.
  while (i + 1 < end) {
    const stop = Math.min(end - 1, i + 0x10000);
    for (; i < stop; i += 2) acc += (bytes[i] << 8) | bytes[i + 1];
    acc = fold(acc);
  }
  if (i < end) acc += bytes[i] << 8;
  return fold(acc);
}

/** Adds partial sums (one's-complement addition is associative and commutative). */
export function combine(...parts: number[]): number {
  let acc = 0;
  for (const p of parts) acc += p;
  return fold(acc);
}

/** The value to store in a checksum field: the complement of the total partial sum. */
export function finish(partial: number): number {
  return ~partial & 0xffff;
}

/** True when a total partial sum taken *including* the stored checksum verifies. */
export function verifies(partial: number): boolean {
  return partial === 0xffff;
}

/** Sum of the 16-bit words of an address (4 or 16 bytes), without allocating. */
function addressSum(a: Uint8Array): number {
  let acc = 0;
  for (let i = 0; i + 1 < a.length; i += 2) acc += (a[i] << 8) | a[i + 1];
  return acc;
}

/**
 * RFC 9293 §3.1 (and RFC 768 for UDP) pseudo-header: source, destination, zero, protocol,
 * upper-layer length (16 bits).
 */
export function pseudoHeaderV4(src: Uint8Array, dst: Uint8Array, protocol: number, length: number): number {
  return fold(addressSum(src) + addressSum(dst) + protocol + (length & 0xffff));
}

/**
 * RFC 8200 §8.1 pseudo-header: source, destination (the *final* one if a routing header is
 * present), 32-bit upper-layer length, three zero bytes, next header.
 */
export function pseudoHeaderV6(src: Uint8Array, dst: Uint8Array, nextHeader: number, length: number): number {
  return fold(addressSum(src) + addressSum(dst) + Math.floor(length / 0x10000) + (length & 0xffff) + nextHeader);
}

/** The pseudo-header for whichever family `src` belongs to (4 bytes: IPv4, else IPv6). */
export function pseudoHeader(src: Uint8Array, dst: Uint8Array, protocol: number, length: number): number {
  return src.length === 4
    ? pseudoHeaderV4(src, dst, protocol, length)
    : pseudoHeaderV6(src, dst, protocol, length);
}

/**
 * RFC 1624 eqn. 3, HC' = ~(~HC + ~m + m'): the checksum after one 16-bit word of the summed data
 * changed from `oldWord` to `newWord`, without touching the rest. Unlike eqn. 2 of RFC 1141 it
 * never yields 0x0000 where a full recomputation would give 0xffff (RFC 1624 §3), except for data
 * that become all zero bytes (a sum of +0), which no IP or TCP header is: there it gives 0x0000,
 * the other one's-complement zero, which verifies the same (found by npm run fuzz).
 */
export function update16(checksum: number, oldWord: number, newWord: number): number {
  return finish(fold((~checksum & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff)));
}

/** `update16` for a 32-bit field (a sequence number, a timestamp): both halves at once. */
export function update32(checksum: number, oldValue: number, newValue: number): number {
  return finish(
    fold(
      (~checksum & 0xffff) +
        (~(oldValue >>> 16) & 0xffff) +
        (~oldValue & 0xffff) +
        ((newValue >>> 16) & 0xffff) +
        (newValue & 0xffff),
    ),
  );
}
