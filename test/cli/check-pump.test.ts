// The check pump: concurrency, laziness, aborts, failures and rate waits, with jobs the test
// settles by hand. Nothing here depends on how fast anything runs.
import test from 'ava';
import { pump } from '../../src/cli/check-pump.js';

/** Jobs 0..n-1 that each wait for the test to settle them; counts how far the iterator was read. */
function harness(n: number) {
  const pending = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  const started: number[] = [];
  let pulled = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  function* jobs(): Generator<number> {
    for (let i = 0; i < n; i++) {
      pulled++;
      yield i;
    }
  }
  const run = (job: number): Promise<void> => {
    started.push(job);
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    return new Promise<void>((resolve, reject) => pending.set(job, { resolve, reject })).finally(() => inFlight--);
  };
  const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
  return {
    jobs: jobs(),
    run,
    started,
    pending,
    get pulled() {
      return pulled;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    async settle(job: number, error?: Error) {
      const p = pending.get(job)!;
      pending.delete(job);
      if (error) p.reject(error);
      else p.resolve();
      await tick();
    },
    async settleAll() {
      while (pending.size > 0) await this.settle([...pending.keys()][0]);
    },
    tick,
  };
}

const concurrency = test.macro({
  async exec(t, jobs: number, limit: number) {
    const h = harness(jobs);
    const done = pump({ jobs: h.jobs, concurrency: limit, run: h.run });
    await h.tick();
    t.is(h.started.length, Math.min(jobs, limit), 'fills up to the limit at once');
    t.is(h.pulled, Math.min(jobs, limit), 'reads the iterator only as far as it starts');
    await h.settleAll();
    await done;
    t.deepEqual(h.started, Array.from({ length: jobs }, (_, i) => i), 'every job once, in order');
    t.true(h.maxInFlight <= limit);
  },
  title: (_p, jobs: number, limit: number) => `${jobs} jobs, concurrency ${limit}`,
});
test(concurrency, 10, 1);
test(concurrency, 10, 3);
test(concurrency, 3, 10);
test(concurrency, 0, 4);
test(concurrency, 1000, 64);

test('abort: nothing new starts, running jobs finish, the rest is never read', async (t) => {
  const h = harness(100);
  const aborter = new AbortController();
  let resolved = false;
  const done = pump({ jobs: h.jobs, concurrency: 4, run: h.run, signal: aborter.signal }).then(() => (resolved = true));
  await h.tick();
  await h.settle(0);
  t.is(h.started.length, 5);
  aborter.abort();
  await h.tick();
  t.false(resolved, 'waits for the four in flight');
  await h.settleAll();
  await done;
  t.is(h.started.length, 5);
  t.is(h.pulled, 5);
});

test('an already aborted signal starts nothing', async (t) => {
  const h = harness(10);
  await pump({ jobs: h.jobs, concurrency: 4, run: h.run, signal: AbortSignal.abort() });
  t.is(h.started.length, 0);
});

test('a failing job stops the pump, which rejects once the others settle', async (t) => {
  const h = harness(10);
  const done = pump({ jobs: h.jobs, concurrency: 3, run: h.run });
  await h.tick();
  await h.settle(1, new Error('boom'));
  t.is(h.started.length, 3, 'no replacement for the failed job');
  await h.settleAll();
  await t.throwsAsync(done, { message: 'boom' });
});

test('a job that throws synchronously counts as a failure', async (t) => {
  await t.throwsAsync(
    pump({
      jobs: [1, 2][Symbol.iterator](),
      concurrency: 1,
      run: () => {
        throw new Error('sync');
      },
    }),
    { message: 'sync' },
  );
});

test('with a bucket: a refused token defers the start, one timer for the whole pump', async (t) => {
  const h = harness(3);
  // Token, refusal (wait 1 s: far longer than the few ticks below), then tokens.
  const answers = [0, 1000];
  let asked = 0;
  const bucket = { take: () => answers[asked++] ?? 0 };
  const done = pump({ jobs: h.jobs, concurrency: 10, run: h.run, bucket });
  await h.tick();
  t.is(h.started.length, 1, 'the refusal stops the filling');
  t.is(h.pulled, 2, 'the iterator is read one job ahead at most: the one waiting for its token');
  // A job finishing while the timer is armed must not take tokens of its own.
  await h.settle(0);
  t.is(asked, 2);
  while (h.started.length < 3) await new Promise((r) => setTimeout(r, 20));
  t.is(h.pulled, 3);
  await h.settleAll();
  await done;
  t.deepEqual(h.started, [0, 1, 2]);
});

test('with a bucket: the run ends with its last job, not one token period later', async (t) => {
  // Issue 13: --rate 0.5 -n 3 took 6 s, waiting for a fourth token before finding no fourth job.
  const h = harness(2);
  let asked = 0;
  // A token, a 50 ms wait, a token; anything asked after that would wait 2 s.
  const answers = [0, 50, 0];
  const bucket = { take: () => answers[asked++] ?? 2000 };
  let resolved = false;
  const done = pump({ jobs: h.jobs, concurrency: 1, run: h.run, bucket }).then(() => (resolved = true));
  await h.tick();
  t.deepEqual(h.started, [0], 'the first job starts at once');
  await h.settle(0);
  t.is(asked, 2, 'the second job waits for its token');
  while (h.started.length < 2) await new Promise((r) => setTimeout(r, 20));
  await h.settle(1);
  await h.tick();
  t.true(resolved, 'done as soon as the last job settles');
  t.is(asked, 3, 'no token asked for a job that does not exist');
  await done;
});

test('with a bucket: a wait past 2^31-1 ms arms a clamped timer (no overflow warning, no spinning)', async (t) => {
  // Issue 13: --rate 0.0000001 armed setTimeout(1e10): Node fired it after 1 ms with a
  // TimeoutOverflowWarning, the pump asked again, and so on thousands of times a second.
  const warnings: string[] = [];
  const onWarning = (w: Error): void => void warnings.push(w.name);
  process.on('warning', onWarning);
  t.teardown(() => process.off('warning', onWarning));
  const h = harness(2);
  let asked = 0;
  const bucket = { take: () => (asked++ === 0 ? 0 : 1e10) };
  const aborter = new AbortController();
  const done = pump({ jobs: h.jobs, concurrency: 1, run: h.run, bucket, signal: aborter.signal });
  await h.tick();
  await h.settle(0);
  // Plenty of turns for a 1 ms timer to fire many times over (load only makes it fewer).
  await new Promise((r) => setTimeout(r, 100));
  t.deepEqual(warnings, []);
  t.is(asked, 2, 'the bucket is asked once for the second job, and not again every millisecond');
  t.deepEqual(h.started, [0]);
  aborter.abort();
  await done;
});
