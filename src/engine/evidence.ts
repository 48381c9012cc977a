// The part of a SYN-ACK's options that goes into a result's evidence.
import { summarizeTcpOptions, TcpOptionKind, type TcpOption } from '../wire/index.js';
import type { ProbeEvidence } from '../core/types.js';

type OptionEvidence = Pick<ProbeEvidence, 'mss' | 'windowScale' | 'sackPermitted' | 'timestamps'>;

export function synOptionEvidence(options: readonly TcpOption[]): OptionEvidence {
  const s = summarizeTcpOptions(options);
  const out: OptionEvidence = {
    sackPermitted: s.sackPermitted,
    timestamps: s.tsVal !== undefined,
  };
  if (s.mss !== undefined) out.mss = s.mss;
  if (s.windowScale !== undefined) out.windowScale = s.windowScale;
  return out;
}

/**
 * The evidence of an open port, with the options read straight from `b[start..end)`: what
 * `{flags, ttl, window, ...synOptionEvidence(list)}` gives, in the same key order, without
 * building the option list. The options must already be known to parse (tcpOptionBytesValid).
 */
export function synAckEvidence(flags: string, ttl: number, window: number, b: Uint8Array, start: number, end: number): ProbeEvidence {
  let mss: number | undefined;
  let windowScale: number | undefined;
  let sackPermitted = false;
  let timestamps = false;
  for (let i = start; i < end; ) {
    const kind = b[i];
    if (kind === TcpOptionKind.EOL) break;
    if (kind === TcpOptionKind.NOP) {
      i++;
      continue;
    }
    if (kind === TcpOptionKind.MSS) mss = (b[i + 2] << 8) | b[i + 3];
    else if (kind === TcpOptionKind.WINDOW_SCALE) windowScale = b[i + 2];
    else if (kind === TcpOptionKind.SACK_PERMITTED) sackPermitted = true;
    else if (kind === TcpOptionKind.TIMESTAMPS) timestamps = true;
    i += b[i + 1];
  }
  const out: ProbeEvidence = { flags, ttl, window, sackPermitted, timestamps };
  if (mss !== undefined) out.mss = mss;
  if (windowScale !== undefined) out.windowScale = windowScale;
  return out;
}
