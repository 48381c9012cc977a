// Every error tcp-shaker throws or rejects with. Branch on `err.code`, which is stable across
// versions; `instanceof` works too, even across duplicate copies of the package, because each
// class answers `Symbol.hasInstance` through a global brand (as undici's errors do).

const brand = Symbol.for('tcp-shaker.error');

export type ShakerErrorCode =
  | 'ETIMEDOUT'
  | 'ECONNREFUSED'
  | 'EHOSTUNREACH'
  | 'ENETUNREACH'
  | 'EACCES'
  | 'EPROTO'
  | 'ABORT_ERR'
  | 'ERR_SHAKER_INVALID_ADDRESS'
  | 'ERR_SHAKER_INVALID_OPTION'
  | 'ERR_SHAKER_RESOLVE'
  | 'ERR_SHAKER_ALREADY_STARTED'
  | 'ERR_SHAKER_NOT_STARTED'
  | 'ERR_SHAKER_CLOSED'
  | 'ERR_SHAKER_UNSUPPORTED'
  | 'ERR_SHAKER_NO_ADDON'
  | 'ERR_SHAKER_SYSTEM'
  | 'ERR_SHAKER_MALFORMED_PCAP'
  | 'ERR_SHAKER_USAGE'
  | 'ERR_SHAKER_CONFIG'
  | 'ERR_SHAKER_TESTBED_COMMAND'
  | 'ERR_SHAKER_TESTBED_SERVER'
  | 'ERR_SHAKER_TESTBED_CAPTURE';

export class ShakerError extends Error {
  readonly code: ShakerErrorCode | string;

  constructor(message: string, code: ShakerErrorCode | string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    Object.defineProperty(this, brand, { value: true });
  }

  override get name(): string {
    return 'ShakerError';
  }

  /**
   * Branded, not prototype-based: an error made by another copy of this package (two versions
   * in one node_modules tree) still answers `instanceof` here. For a subclass the error's `name`
   * must match too, so `instanceof TimeoutError` means a timeout whichever copy threw it.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (typeof value !== 'object' || value === null) return false;
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    if (!(brand in value)) return false;
    return this === ShakerError || (value as { name?: unknown }).name === (this.prototype as Error).name;
  }
}

/** No answer before the deadline (tcp-shaker's ErrTimeout). */
export class TimeoutError extends ShakerError {
  declare readonly code: 'ETIMEDOUT';
  constructor(message = 'no reply before the deadline', options?: { cause?: unknown }) {
    super(message, 'ETIMEDOUT', options);
  }
  override get name(): string {
    return 'TimeoutError';
  }
  /** Mirrors Go's net.Error: a timeout, so callers may retry. */
  timeout(): true {
    return true;
  }
}

export type ConnectErrorCode = 'ECONNREFUSED' | 'EHOSTUNREACH' | 'ENETUNREACH' | 'EACCES' | 'EPROTO' | string;

/**
 * The target answered "no" (tcp-shaker's ErrConnect): a RST gives ECONNREFUSED; an ICMP
 * destination-unreachable gives the errno a kernel connect() would have reported for it.
 */
export class ConnectError extends ShakerError {
  declare readonly code: ConnectErrorCode;
  constructor(message: string, code: ConnectErrorCode, options?: { cause?: unknown }) {
    super(message, code, options);
  }
  override get name(): string {
    return 'ConnectError';
  }
}

/** Bad user input: address, port, option value. Found before anything is sent. */
export class InvalidArgumentError extends ShakerError {
  declare readonly code: 'ERR_SHAKER_INVALID_ADDRESS' | 'ERR_SHAKER_INVALID_OPTION';
  constructor(message: string, code: 'ERR_SHAKER_INVALID_ADDRESS' | 'ERR_SHAKER_INVALID_OPTION' = 'ERR_SHAKER_INVALID_OPTION') {
    super(message, code);
  }
  override get name(): string {
    return 'InvalidArgumentError';
  }
}

/** The host name did not resolve (to an address of the wanted family). */
export class ResolveError extends ShakerError {
  declare readonly code: 'ERR_SHAKER_RESOLVE';
  readonly host: string;
  constructor(host: string, message: string, options?: { cause?: unknown }) {
    super(message, 'ERR_SHAKER_RESOLVE', options);
    this.host = host;
  }
  override get name(): string {
    return 'ResolveError';
  }
}

/** The checker is in the wrong lifecycle state for the call. */
export class StateError extends ShakerError {
  declare readonly code: 'ERR_SHAKER_ALREADY_STARTED' | 'ERR_SHAKER_NOT_STARTED' | 'ERR_SHAKER_CLOSED';
  constructor(message: string, code: 'ERR_SHAKER_ALREADY_STARTED' | 'ERR_SHAKER_NOT_STARTED' | 'ERR_SHAKER_CLOSED') {
    super(message, code);
  }
  override get name(): string {
    return 'StateError';
  }
}

/** This host cannot run what was asked (no CAP_NET_RAW, no nft, no libpcap...). */
export class UnsupportedError extends ShakerError {
  declare readonly code: 'ERR_SHAKER_UNSUPPORTED' | 'ERR_SHAKER_NO_ADDON';
  constructor(message: string, options?: { cause?: unknown; code?: 'ERR_SHAKER_NO_ADDON' }) {
    super(message, options?.code ?? 'ERR_SHAKER_UNSUPPORTED', options);
  }
  override get name(): string {
    return 'UnsupportedError';
  }
}

/**
 * What to tell a user whose process lacks the raw strategy's privileges. Both capabilities, and
 * the least-privilege ways to grant them (README "Privileges"): `setcap` on the shared `node`
 * binary would hand CAP_NET_ADMIN to every Node program on the host.
 */
export const RAW_PRIVILEGE_HINT =
  'grant this process just CAP_NET_RAW and CAP_NET_ADMIN (systemd AmbientCapabilities=, ' +
  '`docker run --cap-add NET_RAW --cap-add NET_ADMIN`, `setpriv --ambient-caps`: README "Privileges") or run as root';

/**
 * The native addon is not there or does not load (not built, no prebuilt binary for this
 * platform, a missing libpcap0.8, disabled by TCP_SHAKER_NO_ADDON): `raw` and `socket` cannot
 * run and `auto` can only do full handshakes. The message names the cause and the fix;
 * `reason` and `fix` hold them separately. An UnsupportedError, with a code of its own.
 */
export class AddonUnavailableError extends UnsupportedError {
  declare readonly code: 'ERR_SHAKER_NO_ADDON';
  readonly reason: string;
  readonly fix: string;
  constructor(reason: string, fix: string, options?: { cause?: unknown }) {
    super(`the tcp-shaker native addon is unavailable: ${reason}; fix: ${fix}`, { ...options, code: 'ERR_SHAKER_NO_ADDON' });
    this.reason = reason;
    this.fix = fix;
  }
  override get name(): string {
    return 'AddonUnavailableError';
  }
}

/** An abort through AbortSignal when the signal carried no reason of its own. */
export class AbortError extends ShakerError {
  declare readonly code: 'ABORT_ERR';
  constructor(message = 'the check was aborted', options?: { cause?: unknown }) {
    super(message, 'ABORT_ERR', options);
  }
  override get name(): string {
    return 'AbortError';
  }
}

/** A failed syscall, shaped like Node's own system errors (code, errno, syscall). */
export class SystemError extends ShakerError {
  readonly errno: number;
  readonly syscall: string;
  constructor(message: string, code: string, errno: number, syscall: string) {
    super(message, code);
    this.errno = errno;
    this.syscall = syscall;
  }
  override get name(): string {
    return 'SystemError';
  }
}
