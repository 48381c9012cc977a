// What every parser in src/wire returns, and the options every emitter takes.
//
// Parsers read bytes that came off the wire, so they never throw: anything impossible comes back
// as `{ ok: false, reason, detail }`, where `reason` is one of a small fixed set (branch on it) and
// `detail` is a sentence for logs (do not parse it). Emitters, on the other hand, are driven by
// our own code: a Repr that cannot be written (options longer than 40 bytes, a buffer too small)
// is a programming error and throws a RangeError.

/** Why a parser rejected its input. Stable strings: branch on these, log `detail`. */
export type MalformedReason =
  /** Fewer bytes than a fixed header, or than a length field says are there. */
  | 'truncated'
  /** IPv4 IHL < 5, TCP data offset < 5: a header shorter than its own fixed part. */
  | 'bad-header-length'
  /** A length field that contradicts another (IPv4 total length < header length...). */
  | 'bad-length'
  /** The IP version nibble is neither 4 nor 6 (or not the one the parser expects). */
  | 'bad-version'
  /** The Internet checksum does not verify (only when verification was asked for). */
  | 'bad-checksum'
  /** A TCP, IPv4 or IPv6 TLV option with an impossible length. */
  | 'bad-option'
  /** An IPv6 extension header where RFC 8200 forbids it (hop-by-hop not first). */
  | 'bad-extension-header'
  /** Port 0, which RFC 9293 §3.1 leaves unusable; no stack answers from or to it. */
  | 'bad-port'
  /** A TCP flag combination no stack sends (SYN with RST or FIN). */
  | 'bad-flags'
  /** The link-layer parser was given a link type it does not know. */
  | 'unsupported';

export interface Malformed {
  readonly ok: false;
  readonly reason: MalformedReason;
  readonly detail: string;
}

export interface Ok<T> {
  readonly ok: true;
  readonly value: T;
}

export type Parsed<T> = Ok<T> | Malformed;

export function ok<T>(value: T): Ok<T> {
  return { ok: true, value };
}

export function malformed(reason: MalformedReason, detail: string): Malformed {
  return { ok: false, reason, detail };
}

/** Prefixes a nested failure (the IP header quoted inside an ICMP error, say) with where it was. */
export function nested(prefix: string, inner: Malformed): Malformed {
  return { ok: false, reason: inner.reason, detail: `${prefix}: ${inner.detail}` };
}

/**
 * gopacket's SerializeOptions. With both on (the default) emitters derive every length and
 * checksum from the Repr; turning one off writes the Repr's own `headerLen`/`totalLength`/
 * `checksum` fields as given, which is how tests build deliberately broken packets.
 */
export interface SerializeOptions {
  /** Compute and write checksums (default true); otherwise write the Repr's `checksum` or 0. */
  readonly computeChecksums?: boolean;
  /** Derive length fields and pad options (default true); otherwise use the Repr's values. */
  readonly fixLengths?: boolean;
}

/** Options of the parsers that can check a checksum. */
export interface VerifyOptions {
  /**
   * Verify the Internet checksum (default true). Turn it off for packets captured on `lo` or
   * sent by this host: Linux leaves TCP/UDP checksums partial (pseudo-header sum only) when it
   * knows no wire will carry the packet, or when the NIC will fill them in (checksum offload).
   */
  readonly verifyChecksum?: boolean;
}
