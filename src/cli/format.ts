// Number formatting shared by the summary, the progress line and the monitor's log lines.

/** "0.312ms" below a second, "1.204s" from one. The Go tool prints durations the same way. */
export function formatMs(ms: number): string {
  if (ms >= 1000) return `${(ms / 1000).toFixed(3)}s`;
  return `${ms.toFixed(3)}ms`;
}

/** Coarser, for elapsed times and ETAs: "850ms", "12.3s", "4m05s", "2h03m". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/**
 * Checks per second: whole numbers from 10 up, two significant digits below, so a slow run
 * (--rate 0.5) reads "0.5 checks/s" and never "0".
 */
export function formatRate(perSecond: number): string {
  if (perSecond >= 10) return String(Math.round(perSecond));
  return String(Number(perSecond.toPrecision(2)));
}

/** A compact round-trip time: "0.31ms", "12.4ms", "1.20s". */
export function formatRtt(ms: number): string {
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)}s`;
  if (ms >= 10) return `${ms.toFixed(1)}ms`;
  return `${ms.toFixed(2)}ms`;
}
