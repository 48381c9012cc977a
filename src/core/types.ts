// Shapes shared by the checker and its strategies. A strategy turns one resolved target
// (ip + port) into one ProbeOutcome; the checker does parsing of user input, resolution,
// deadlines across DNS, and maps outcomes to results and errors.

export type Family = 4 | 6;

export type StrategyName = 'raw' | 'socket' | 'connect';

export type CheckStatus = 'open' | 'closed' | 'timeout' | 'unreachable' | 'error';

/** What came back on the wire for one probe: the evidence behind a status. */
export interface ProbeEvidence {
  /** TCP flags of the reply as tcpdump prints them, e.g. "S." or "R." */
  flags?: string;
  /** IPv4 TTL or IPv6 hop limit of the reply. */
  ttl?: number;
  window?: number;
  /** MSS option of the SYN-ACK, when present. */
  mss?: number;
  /** Window scale shift of the SYN-ACK, when present. */
  windowScale?: number;
  sackPermitted?: boolean;
  timestamps?: boolean;
  /** For ICMP answers: type, code and the router or host that sent them. */
  icmpType?: number;
  icmpCode?: number;
  responder?: string;
}

export interface ProbeTarget {
  ip: string;
  family: Family;
  port: number;
  /**
   * `ip` as bytes, when the caller has them (an AddressTarget): the raw engine then does not
   * parse `ip` again. Must be the bytes of `ip`; never written.
   */
  address?: Uint8Array;
}

export interface ProbeOptions {
  /** Absolute deadline, performance.now() clock. */
  deadline: number;
  /** SYN retransmissions inside the deadline (raw strategy). */
  retries: number;
  signal?: AbortSignal;
}

export interface ProbeOutcome {
  status: CheckStatus;
  /** errno-style code for closed/unreachable/error/timeout (ECONNREFUSED, EHOSTUNREACH, ETIMEDOUT...). */
  code?: string;
  /** From the first SYN sent to the reply; undefined on timeout. */
  rttMs?: number;
  /** SYNs sent (1 + retransmissions). */
  attempts: number;
  evidence?: ProbeEvidence;
  /** Set for status 'error': what went wrong locally. */
  error?: Error;
}

export interface Strategy {
  readonly name: StrategyName;
  start(): Promise<void>;
  probe(target: ProbeTarget, options: ProbeOptions): Promise<ProbeOutcome>;
  /**
   * probe() without a promise, for batches (Checker.checkMany): `callback` gets exactly one
   * outcome unless the returned canceller runs first. Optional: strategies without it are
   * driven through probe().
   */
  submit?(target: ProbeTarget, options: ProbeOptions, callback: (outcome: ProbeOutcome) => void): () => void;
  /**
   * submit() returning a number for cancelHandle() instead of a canceller closure, for callers
   * that hold many checks (Checker.checkMany). Cancel a handle only while its check is in flight.
   */
  submitHandle?(target: ProbeTarget, options: ProbeOptions, callback: (outcome: ProbeOutcome) => void): number;
  cancelHandle?(handle: number): void;
  /**
   * Optional: looks up routes and opens captures for checks to these targets before they run,
   * sending nothing; failures are left for the checks to report.
   */
  prepare?(targets: readonly ProbeTarget[]): Promise<void>;
  close(): Promise<void>;
  /** Engine counters (probes sent, replies ignored, retries...) for metrics. */
  stats(): Record<string, number>;
}
