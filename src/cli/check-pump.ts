// Starts jobs from a lazy iterator with at most `concurrency` in flight and, with a token
// bucket, at most its rate per second. There is one timer for the whole run (armed only while
// waiting for a token), not one per check, and the iterator is advanced only when a job has a
// slot (at most one job waits for its token), so a million targets are never held at once.
import { timerDelay } from '../core/timer-delay.js';

export interface PumpOptions<T> {
  jobs: Iterator<T>;
  concurrency: number;
  /** A TokenBucket, or anything that answers take() the same way. */
  bucket?: { take(): number };
  /** Aborting stops starting jobs; the pump resolves once the running ones have settled. */
  signal?: AbortSignal;
  /** Runs one job. A rejection stops the pump, which rejects with it once the others settle. */
  run: (job: T) => Promise<void>;
}

export function pump<T>(options: PumpOptions<T>): Promise<void> {
  const { jobs, concurrency, bucket, signal, run } = options;
  return new Promise((resolve, reject) => {
    let inFlight = 0;
    let exhausted = false;
    let failure: { error: unknown } | undefined;
    let timer: NodeJS.Timeout | undefined;
    let settled = false;

    const stopped = (): boolean => exhausted || failure !== undefined || signal?.aborted === true;
    const settleIfDone = (): void => {
      if (settled || !stopped() || inFlight > 0) return;
      settled = true;
      if (timer) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (failure) reject(failure.error);
      else resolve();
    };
    const onAbort = (): void => {
      if (timer) clearTimeout(timer);
      timer = undefined;
      settleIfDone();
    };
    const finished = (): void => {
      inFlight--;
      // While a token timer is armed, it restarts the filling; starting here too would take
      // tokens twice.
      if (!timer) fill();
      settleIfDone();
    };
    const failed = (error: unknown): void => {
      failure ??= { error };
      finished();
    };
    // The job drawn but not started yet (waiting for a token). Drawing before taking a token
    // means the run ends with its last check, not one token period later (--rate 0.5 -n 3 took
    // 6 s, not 4).
    let waiting: { job: T } | undefined;
    const fill = (): void => {
      timer = undefined;
      while (!stopped() && inFlight < concurrency) {
        if (!waiting) {
          const next = jobs.next();
          if (next.done) {
            exhausted = true;
            break;
          }
          waiting = { job: next.value };
        }
        if (bucket) {
          const waitMs = bucket.take();
          if (waitMs > 0) {
            // At least 1 ms, at most what setTimeout honours: a tiny rate wakes early and waits again.
            timer = setTimeout(fill, Math.max(1, timerDelay(waitMs)));
            return;
          }
        }
        const job = waiting.job;
        waiting = undefined;
        inFlight++;
        let started: Promise<void>;
        try {
          started = run(job);
        } catch (error) {
          started = Promise.reject(error);
        }
        started.then(finished, failed);
      }
      settleIfDone();
    };

    signal?.addEventListener('abort', onAbort, { once: true });
    fill();
  });
}
