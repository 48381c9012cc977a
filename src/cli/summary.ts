// The closing lines of a tcp-checker run, in the Go tool's words ("Finished N/N checks",
// "Succeed", "Errors: connect, timeout, other") plus latency percentiles.
import { performance } from 'node:perf_hooks';
import type { CheckResult } from '../checker.js';
import { formatMs, formatRate } from './format.js';

export { formatMs } from './format.js';

/** Nearest-rank percentile (the value at rank ceil(q * n)) of an ascending array; q in (0, 1]. */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

export class Summary {
  private readonly started: number;
  private count = 0;
  private succeeded = 0;
  private connectErrors = 0;
  private timeouts = 0;
  private otherErrors = 0;
  // A growable Float64Array: a million checks are 8 MB of RTTs, not a million boxed numbers.
  private rtts = new Float64Array(1024);
  private rttCount = 0;

  constructor(
    readonly planned: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.started = now();
  }

  add(result: CheckResult): void {
    this.count++;
    if (result.rttMs !== undefined) {
      if (this.rttCount === this.rtts.length) {
        const grown = new Float64Array(this.rtts.length * 2);
        grown.set(this.rtts);
        this.rtts = grown;
      }
      this.rtts[this.rttCount++] = result.rttMs;
    }
    switch (result.status) {
      case 'open':
        this.succeeded++;
        break;
      case 'closed':
      case 'unreachable':
        this.connectErrors++;
        break;
      case 'timeout':
        this.timeouts++;
        break;
      default:
        this.otherErrors++;
    }
  }

  get done(): number {
    return this.count;
  }

  get open(): number {
    return this.succeeded;
  }

  get failed(): number {
    return this.count - this.succeeded;
  }

  get allSucceeded(): boolean {
    return this.count === this.planned && this.succeeded === this.count;
  }

  render(interruptedBy?: string): string {
    const elapsed = this.now() - this.started;
    const lines = [
      `Finished ${this.count}/${this.planned} checks in ${formatMs(elapsed)}${interruptedBy ? ` (interrupted by ${interruptedBy})` : ''}`,
      `  Succeed: ${this.succeeded}`,
      `  Errors: connect ${this.connectErrors}, timeout ${this.timeouts}, other ${this.otherErrors}`,
    ];
    if (this.rttCount > 0) {
      const sorted = this.rtts.slice(0, this.rttCount).sort();
      lines.push(
        `  Latency: p50 ${formatMs(percentile(sorted, 0.5))}, p90 ${formatMs(percentile(sorted, 0.9))}, ` +
          `p99 ${formatMs(percentile(sorted, 0.99))}, max ${formatMs(sorted[sorted.length - 1])}`,
      );
    }
    if (elapsed > 0 && this.count > 1) lines.push(`  Rate: ${formatRate((this.count / elapsed) * 1000)} checks/s`);
    return `${lines.join('\n')}\n`;
  }
}
