// Last-resort cleanup: while any testbed is alive, process exit, SIGINT/SIGTERM/SIGHUP and
// uncaught exceptions tear it down synchronously, so a failing test or a Ctrl-C leaves no
// namespace or child process behind. SIGKILL cannot be caught; `sweepStaleTestbeds()` covers it.
//
// The hooks are installed with the first live testbed and removed with the last one, so a
// process without a testbed keeps its normal signal behaviour.

export interface SyncDisposable {
  destroySync(): void;
}

const live = new Set<SyncDisposable>();
const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
let installed = false;

function destroyAll(): void {
  for (const item of [...live]) {
    try {
      item.destroySync();
    } catch {
      // Keep going: one failure must not leave the others behind.
    }
    live.delete(item);
  }
}

function onSignal(signal: NodeJS.Signals): void {
  destroyAll();
  uninstall();
  // When nobody else listens, re-raise so the process dies of the signal as it would have
  // without us (exit status 128+n, `signal` seen by the parent). Otherwise the other
  // listeners own the decision to exit.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', destroyAll);
  // The monitor variant observes without swallowing the exception: Node still prints it and exits.
  process.on('uncaughtExceptionMonitor', destroyAll);
  for (const signal of signals) process.on(signal, onSignal);
}

function uninstall(): void {
  if (!installed) return;
  installed = false;
  process.off('exit', destroyAll);
  process.off('uncaughtExceptionMonitor', destroyAll);
  for (const signal of signals) process.off(signal, onSignal);
}

export function registerForTeardown(item: SyncDisposable): void {
  live.add(item);
  install();
}

export function unregisterForTeardown(item: SyncDisposable): void {
  live.delete(item);
  if (live.size === 0) uninstall();
}
