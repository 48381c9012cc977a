// The part of a SYN-ACK's options that goes into a result's evidence.
import { summarizeTcpOptions, type TcpOption } from '../wire/index.js';
import type { ProbeEvidence } from '../types.js';

export function synOptionEvidence(options: readonly TcpOption[]): Pick<ProbeEvidence, 'mss' | 'windowScale' | 'sackPermitted' | 'timestamps'> {
  const s = summarizeTcpOptions(options);
  const out: Pick<ProbeEvidence, 'mss' | 'windowScale' | 'sackPermitted' | 'timestamps'> = {
    sackPermitted: s.sackPermitted,
    timestamps: s.tsVal !== undefined,
  };
  if (s.mss !== undefined) out.mss = s.mss;
  if (s.windowScale !== undefined) out.windowScale = s.windowScale;
  return out;
}
