// One abort listener per AbortSignal, however many checks watch it.
//
// Why: a run hands one signal to every check in flight, and Node's EventTarget walks its
// listener list on every addEventListener and removeEventListener. With a listener per check
// that is O(c) per check and O(c²) per run: a profile of `-c 20000` spent 58.6% of its CPU in
// addEventListener and 10.3% in removeEventListener, and `-c 100000` against a blackhole never
// got back to the event loop to see SIGINT. Here each signal gets one real listener (added the
// first time anything watches it) and the watchers sit in a Set: watch and unwatch are O(1),
// an abort is O(watchers) once.
import { addAbortListener } from 'node:events';

type Watcher = () => void;

const watchers = new WeakMap<AbortSignal, Set<Watcher>>();

/**
 * Calls `onAbort` once when `signal` aborts, unless unwatchAbort() came first. The same
 * function watching twice counts once (it is a Set). If the signal is already aborted nothing is
 * called: callers check `signal.aborted` first, as they must anyway to reject at once.
 */
export function watchAbort(signal: AbortSignal, onAbort: Watcher): void {
  let set = watchers.get(signal);
  if (set === undefined) {
    const created = new Set<Watcher>();
    set = created;
    watchers.set(signal, created);
    // Never disposed: one listener per signal lives as long as the signal, which is the point.
    addAbortListener(signal, () => {
      watchers.delete(signal);
      // A watcher that throws must not keep the others from hearing the abort.
      let failure: { error: unknown } | undefined;
      for (const watcher of created) {
        try {
          watcher();
        } catch (error) {
          failure ??= { error };
        }
      }
      created.clear();
      if (failure) throw failure.error;
    });
  }
  set.add(onAbort);
}

/** Stops `onAbort` from being called; O(1), and harmless if it was never watching. */
export function unwatchAbort(signal: AbortSignal, onAbort: Watcher): void {
  watchers.get(signal)?.delete(onAbort);
}

/** How many watchers a signal has (for tests: nothing may be left behind after a run). */
export function abortWatcherCount(signal: AbortSignal): number {
  return watchers.get(signal)?.size ?? 0;
}
