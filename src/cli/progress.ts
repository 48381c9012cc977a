// The progress line on stderr: a pure renderer (renderProgress) and a small driver that redraws
// it from one interval timer, at most ten times a second, only on a terminal and only for runs
// long enough to want one.
import { performance } from 'node:perf_hooks';
import { formatDuration } from './format.js';

export interface ProgressView {
  done: number;
  planned: number;
  open: number;
  /** Checks that finished with anything but open. */
  failed: number;
  elapsedMs: number;
  /** Terminal columns; the line never gets longer than this minus one (no wrap on any terminal). */
  columns: number;
}

/** One line, no newline: "[#####-----]  50%  512/1024  open 500  failed 12  1.2s  ETA 1.2s". */
export function renderProgress(view: ProgressView): string {
  const { done, planned, open, failed, elapsedMs } = view;
  const fraction = planned > 0 ? Math.min(1, done / planned) : 1;
  const percent = `${Math.floor(fraction * 100)}%`.padStart(4);
  const counts = `${String(done).padStart(String(planned).length)}/${planned}`;
  const eta = done > 0 && done < planned ? `  ETA ${formatDuration((elapsedMs / done) * (planned - done))}` : '';
  const tail = `${percent}  ${counts}  open ${open}  failed ${failed}  ${formatDuration(elapsedMs)}${eta}`;
  const room = view.columns - 1 - tail.length - 3;
  if (room < 5) return tail.slice(0, Math.max(0, view.columns - 1));
  const width = Math.min(40, room);
  const filled = Math.round(fraction * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${tail}`;
}

export interface ProgressSource {
  done: number;
  planned: number;
  open: number;
  failed: number;
}

export interface ProgressBarOptions {
  /** Show at once when more checks than this are planned (default 100)... */
  minChecks?: number;
  /** ...or once the run has lasted this long (default 1000 ms). */
  minMs?: number;
  /** Redraw period (default 100 ms, i.e. at most ten redraws a second). */
  intervalMs?: number;
}

/** A progress line on a TTY stream. Call clear() before writing other lines to the same terminal. */
export class ProgressBar {
  private readonly started = performance.now();
  private readonly timer: NodeJS.Timeout;
  private visible = false;
  private readonly minChecks: number;
  private readonly minMs: number;

  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly source: () => ProgressSource,
    options: ProgressBarOptions = {},
  ) {
    this.minChecks = options.minChecks ?? 100;
    this.minMs = options.minMs ?? 1000;
    this.timer = setInterval(() => this.draw(), options.intervalMs ?? 100);
    // The run's own work keeps the process alive; the bar never should.
    this.timer.unref();
  }

  private draw(): void {
    const s = this.source();
    const elapsedMs = performance.now() - this.started;
    if (!this.visible && s.planned <= this.minChecks && elapsedMs < this.minMs) return;
    this.visible = true;
    const line = renderProgress({ ...s, elapsedMs, columns: this.stream.columns || 80 });
    this.stream.write(`\r${line}\x1b[K`);
  }

  /** Erases the line (it comes back at the next redraw). */
  clear(): void {
    if (this.visible) this.stream.write('\r\x1b[K');
  }

  stop(): void {
    clearInterval(this.timer);
    this.clear();
    this.visible = false;
  }
}
