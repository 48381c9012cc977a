// tcpdump inside a testbed namespace, writing a pcap file that `stop()` parses with our reader.
import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { ShakerError } from '../core/errors.js';
import { readPcapFile } from '../capture/pcap-file.js';
import type { PcapFile, PcapRecord } from '../capture/pcap-file.js';

export interface CaptureStats {
  /** From tcpdump's closing report; undefined when it was killed before printing it. */
  captured?: number;
  receivedByFilter?: number;
  droppedByKernel?: number;
}

export interface CaptureResult {
  path: string;
  file: PcapFile;
  records: PcapRecord[];
  stats: CaptureStats;
}

/** tcpdump's argv. Immediate mode hands each packet over at once (no 1 s ring-buffer wait),
 *  -U writes it out at once, and `-Z root` stops tcpdump from dropping privileges before it
 *  opens the output file. */
export function tcpdumpArgv(options: { iface: string; file: string; filter?: string; snapLen?: number; linkType?: string; bufferKiB?: number }): string[] {
  const argv = ['tcpdump', '-i', options.iface, '-nn', '-U', '--immediate-mode', '-Z', 'root'];
  argv.push('-s', String(options.snapLen ?? 0), '-w', options.file);
  if (options.bufferKiB !== undefined) argv.push('-B', String(Math.max(1, Math.floor(options.bufferKiB))));
  if (options.linkType) argv.push('-y', options.linkType);
  if (options.filter) argv.push(options.filter);
  return argv;
}

function parseStats(stderr: string): CaptureStats {
  const number = (pattern: RegExp): number | undefined => {
    const match = pattern.exec(stderr);
    return match ? Number(match[1]) : undefined;
  };
  return {
    captured: number(/(\d+) packets? captured/),
    receivedByFilter: number(/(\d+) packets? received by filter/),
    droppedByKernel: number(/(\d+) packets? dropped by kernel/),
  };
}

export class Capture {
  readonly path: string;
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;
  private stderr = '';
  private result: Promise<CaptureResult> | undefined;

  private constructor(child: ChildProcess, path: string) {
    this.child = child;
    this.path = path;
    this.exited = new Promise((resolve) => child.once('close', () => resolve()));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
  }

  /** Resolves once tcpdump prints "listening on", i.e. its socket and filter are in place. */
  static start(child: ChildProcess, path: string, timeoutMs = 10_000): Promise<Capture> {
    const capture = new Capture(child, path);
    return new Promise((resolve, reject) => {
      const fail = (why: string): void => {
        cleanup();
        child.kill('SIGKILL');
        reject(new ShakerError(`tcpdump ${why}: ${capture.stderr.trim()}`, 'ERR_SHAKER_TESTBED_CAPTURE'));
      };
      const onData = (): void => {
        if (!/listening on/.test(capture.stderr)) return;
        cleanup();
        resolve(capture);
      };
      const onClose = (code: number | null): void => fail(`exited with status ${code} before listening`);
      const timer = setTimeout(() => fail(`was not listening after ${timeoutMs} ms`), timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        child.stderr!.off('data', onData);
        child.off('close', onClose);
      };
      child.stderr!.on('data', onData);
      child.once('close', onClose);
    });
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The packets written so far (tcpdump -U writes whole packets, so the file stays readable). */
  async records(): Promise<PcapRecord[]> {
    try {
      return (await readPcapFile(this.path)).records;
    } catch {
      return []; // Not even the global header is out yet.
    }
  }

  /** Polls the file until it holds at least `count` packets; rejects after `timeoutMs`. */
  async waitForPackets(count: number, timeoutMs = 5000): Promise<PcapRecord[]> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const records = await this.records();
      if (records.length >= count) return records;
      if (performance.now() > deadline) {
        throw new ShakerError(
          `capture saw ${records.length} of ${count} expected packets within ${timeoutMs} ms`,
          'ERR_SHAKER_TESTBED_CAPTURE',
        );
      }
      await sleep(20);
    }
  }

  /**
   * Waits `settleMs` for packets still in flight, stops tcpdump (SIGINT: it flushes and reports
   * its counters) and parses the file. Idempotent: later calls return the same result.
   */
  stop(settleMs = 100): Promise<CaptureResult> {
    this.result ??= (async () => {
      if (this.running) {
        await sleep(settleMs);
        this.child.kill('SIGINT');
        const timer = setTimeout(() => this.child.kill('SIGKILL'), 3000);
        await this.exited;
        clearTimeout(timer);
      }
      const file = await readPcapFile(this.path);
      return { path: this.path, file, records: file.records, stats: parseStats(this.stderr) };
    })();
    return this.result;
  }
}
