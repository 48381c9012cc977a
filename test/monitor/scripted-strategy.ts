// A Strategy that answers from a script instead of the network, for running a real Checker (via
// its strategyFactory test seam) under the Monitor without root.
import { Checker } from '../../src/checker.js';
import type { ProbeOptions, ProbeOutcome, ProbeTarget, Strategy } from '../../src/core/types.js';

/** What one probe does: answer at once, or hang until aborted. */
export type Answer = 'open' | 'closed' | 'timeout' | 'hang';

const outcomes: Record<Exclude<Answer, 'hang'>, ProbeOutcome> = {
  open: { status: 'open', attempts: 1, rttMs: 0.5 },
  closed: { status: 'closed', code: 'ECONNREFUSED', attempts: 1, rttMs: 0.25 },
  timeout: { status: 'timeout', code: 'ETIMEDOUT', attempts: 1 },
};

export class ScriptedStrategy implements Strategy {
  readonly name = 'connect' as const;
  readonly counts = new Map<string, number>();
  inFlight = 0;
  maxInFlight = 0;
  probes = 0;

  /** `script(key, n)`: the answer to the n-th probe (0-based) of "ip:port". */
  constructor(private readonly script: (key: string, n: number) => Answer) {}

  async start(): Promise<void> {}
  async close(): Promise<void> {}
  stats(): Record<string, number> {
    return { probesStarted: this.probes, inFlight: this.inFlight };
  }

  async probe(target: ProbeTarget, options: ProbeOptions): Promise<ProbeOutcome> {
    const key = `${target.family === 6 ? `[${target.ip}]` : target.ip}:${target.port}`;
    const n = this.counts.get(key) ?? 0;
    this.counts.set(key, n + 1);
    this.probes++;
    const answer = this.script(key, n);
    if (answer !== 'hang') return { ...outcomes[answer] };
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      return await new Promise<ProbeOutcome>((_, reject) => {
        if (options.signal?.aborted) reject(options.signal.reason);
        options.signal?.addEventListener('abort', () => reject(options.signal!.reason), { once: true });
      });
    } finally {
      this.inFlight--;
    }
  }
}

/** Answers from a string per target: "+" open, "-" closed, "t" timeout, "h" hang; the last repeats. */
export function fromStrings(scripts: Record<string, string>): (key: string, n: number) => Answer {
  const map: Record<string, Answer> = { '+': 'open', '-': 'closed', t: 'timeout', h: 'hang' };
  return (key, n) => {
    const s = scripts[key] ?? '+';
    return map[s[Math.min(n, s.length - 1)]];
  };
}

export async function scriptedChecker(script: (key: string, n: number) => Answer): Promise<{ checker: Checker; strategy: ScriptedStrategy }> {
  const strategy = new ScriptedStrategy(script);
  const checker = new Checker({ strategyFactory: async () => strategy, timeout: 1000 });
  await checker.start();
  return { checker, strategy };
}
