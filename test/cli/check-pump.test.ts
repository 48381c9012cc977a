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
  // Token, refusal (wait 200 ms: far longer than the few ticks below), then tokens.
  const answers = [0, 200];
  let asked = 0;
  const bucket = { take: () => answers[asked++] ?? 0 };
  const done = pump({ jobs: h.jobs, concurrency: 10, run: h.run, bucket });
  await h.tick();
  t.is(h.started.length, 1, 'the refusal stops the filling');
  t.is(h.pulled, 1, 'and the iterator is not read ahead');
  // A job finishing while the timer is armed must not take tokens of its own.
  await h.settle(0);
  t.is(asked, 2);
  while (h.started.length < 3) await new Promise((r) => setTimeout(r, 20));
  t.is(h.pulled, 3);
  await h.settleAll();
  await done;
  t.deepEqual(h.started, [0, 1, 2]);
});
