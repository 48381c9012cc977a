// The closing lines of a tcp-checker run, in the Go tool's words ("Finished N/N checks",
// "Succeed", "Errors: connect, timeout, other") plus latency percentiles.
import { performance } from 'node:perf_hooks';
import type { CheckResult } from '../checker.js';

export class Summary {
  private readonly started = performance.now();
  private done = 0;
  private succeeded = 0;
  private connectErrors = 0;
  private timeouts = 0;
  private otherErrors = 0;
  private readonly rtts: number[] = [];

  constructor(private readonly planned: number) {}

  add(result: CheckResult): void {
    this.done++;
    if (result.rttMs !== undefined) this.rtts.push(result.rttMs);
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

  get allSucceeded(): boolean {
    return this.done === this.planned && this.succeeded === this.done;
  }

  render(interruptedBy?: string): string {
    const elapsed = performance.now() - this.started;
    const lines = [
      `Finished ${this.done}/${this.planned} checks in ${formatMs(elapsed)}${interruptedBy ? ` (interrupted by ${interruptedBy})` : ''}`,
      `  Succeed: ${this.succeeded}`,
      `  Errors: connect ${this.connectErrors}, timeout ${this.timeouts}, other ${this.otherErrors}`,
    ];
    if (this.rtts.length > 0) {
      const sorted = Float64Array.from(this.rtts).sort();
      const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
      lines.push(
        `  Latency: p50 ${formatMs(at(0.5))}, p90 ${formatMs(at(0.9))}, p99 ${formatMs(at(0.99))}, max ${formatMs(sorted[sorted.length - 1])}`,
      );
    }
    if (elapsed > 0 && this.done > 1) lines.push(`  Rate: ${Math.round((this.done / elapsed) * 1000)} checks/s`);
    return `${lines.join('\n')}\n`;
  }
}

export function formatMs(ms: number): string {
  if (ms >= 1000) return `${(ms / 1000).toFixed(3)}s`;
  return `${ms.toFixed(3)}ms`;
}
