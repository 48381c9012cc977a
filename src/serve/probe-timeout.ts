// How long one /probe may check. Prometheus sends its scrape timeout in the
// X-Prometheus-Scrape-Timeout-Seconds header; blackbox_exporter subtracts `--timeout-offset`
// (default 0.5 s) from it, so its answer is written before Prometheus gives up on the scrape, and
// uses the module's own timeout instead when that is shorter. We do the same, with two
// deliberate differences: a scrape timeout at or below the offset keeps the whole scrape timeout
// (blackbox would fall back to an unset module timeout, i.e. zero), and without the header a
// module without a timeout gets Prometheus's default scrape timeout (10 s) minus the offset.
import { ProbeRequestError } from './probe-request.js';

export const SCRAPE_TIMEOUT_HEADER = 'x-prometheus-scrape-timeout-seconds';
/** blackbox_exporter's --timeout-offset default. */
export const DEFAULT_TIMEOUT_OFFSET_MS = 500;
/** Prometheus's default scrape_timeout, used when a request has no header. */
export const DEFAULT_SCRAPE_TIMEOUT_MS = 10_000;

/**
 * The check's timeout in ms: min(module timeout, scrape timeout - offset). Throws
 * ProbeRequestError (HTTP 400) for a header that is not a positive number of seconds.
 */
export function probeTimeoutMs(header: string | undefined, moduleTimeoutMs: number | undefined, offsetMs: number): number {
  let scrapeMs = DEFAULT_SCRAPE_TIMEOUT_MS;
  if (header !== undefined) {
    const seconds = /^\s*\d+(\.\d+)?\s*$/.test(header) ? Number(header) : Number.NaN;
    if (!(seconds > 0)) throw new ProbeRequestError(`${SCRAPE_TIMEOUT_HEADER} must be a positive number of seconds, got "${header}"`);
    scrapeMs = seconds * 1000;
  }
  const capMs = scrapeMs > offsetMs ? scrapeMs - offsetMs : scrapeMs;
  return moduleTimeoutMs !== undefined && moduleTimeoutMs < capMs ? moduleTimeoutMs : capMs;
}
