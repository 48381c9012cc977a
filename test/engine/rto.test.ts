// The retransmission schedule (Linux's linear-then-exponential SYN timeouts) and the RFC 6298
// estimator, as numbers: no clock, no engine.
import test from 'ava';
import { DEFAULT_RETRANSMIT_POLICY, RttEstimator, budgetedRtoMs, retransmitDelayMs, unmeasuredRtoMs, type RetransmitPolicy } from '../../src/engine/rto.js';

/** The times SYNs go out for a base RTO, until `untilMs`. */
function synTimes(rtoMs: number, policy: RetransmitPolicy, untilMs: number): number[] {
  const times = [0];
  while (true) {
    const next = times.at(-1)! + retransmitDelayMs(rtoMs, times.length, policy);
    if (next > untilMs) return times;
    times.push(next);
  }
}

const schedule = test.macro({
  exec(t, linearRetransmits: number, expected: number[]) {
    t.deepEqual(synTimes(1000, { ...DEFAULT_RETRANSMIT_POLICY, linearRetransmits }, 11_000), expected);
  },
  title: (_, linear: number) => `1 s RTO with linearRetransmits ${linear}: the kernel's SYN times`,
});
// net.ipv4.tcp_syn_linear_timeouts = 4 (Linux >= 6.5) and 0 (the classic doubling).
test(schedule, 4, [0, 1000, 2000, 3000, 4000, 5000, 7000, 11_000]);
test(schedule, 0, [0, 1000, 3000, 7000]);

test('backoff never passes maxRtoMs', (t) => {
  t.is(retransmitDelayMs(1000, 60, DEFAULT_RETRANSMIT_POLICY), DEFAULT_RETRANSMIT_POLICY.maxRtoMs);
});

test('an unmeasured destination: a third of the timeout, between the floor and 1 s; initialRtoMs wins', (t) => {
  t.is(unmeasuredRtoMs(3000, DEFAULT_RETRANSMIT_POLICY), 1000);
  t.is(unmeasuredRtoMs(60_000, DEFAULT_RETRANSMIT_POLICY), 1000);
  t.is(unmeasuredRtoMs(600, DEFAULT_RETRANSMIT_POLICY), 200);
  t.is(unmeasuredRtoMs(30, DEFAULT_RETRANSMIT_POLICY), DEFAULT_RETRANSMIT_POLICY.minRtoMs);
  t.is(unmeasuredRtoMs(500, { ...DEFAULT_RETRANSMIT_POLICY, initialRtoMs: 50 }), 50);
});

test('RFC 6298: first sample sets SRTT = R, RTTVAR = R/2; later ones fold in with 1/8 and 1/4', (t) => {
  const e = new RttEstimator({ ...DEFAULT_RETRANSMIT_POLICY, minRtoMs: 0 });
  t.is(e.rtoMs(7), undefined);
  e.sample(7, 100);
  t.is(e.srttMs(7), 100);
  t.is(e.rtoMs(7), 100 + 4 * 50);
  e.sample(7, 200);
  // RTTVAR = 3/4 * 50 + 1/4 * |100 - 200| = 62.5; SRTT = 7/8 * 100 + 1/8 * 200 = 112.5.
  t.is(e.srttMs(7), 112.5);
  t.is(e.rtoMs(7), 112.5 + 4 * 62.5);
  t.is(e.rtoMs(8), undefined, 'per destination');
});

test('the floor holds a sub-millisecond path at minRtoMs; bad samples are dropped', (t) => {
  const e = new RttEstimator();
  for (let i = 0; i < 20; i++) e.sample(1, 0.08);
  t.is(e.rtoMs(1), DEFAULT_RETRANSMIT_POLICY.minRtoMs);
  e.sample(2, Number.NaN);
  e.sample(2, -1);
  t.is(e.rtoMs(2), undefined);
});

test('a full estimator forgets everything and starts over', (t) => {
  const e = new RttEstimator(DEFAULT_RETRANSMIT_POLICY, 4);
  for (let d = 0; d < 4; d++) e.sample(d, 10);
  t.not(e.rtoMs(0), undefined);
  e.sample(99, 10);
  t.is(e.rtoMs(0), undefined);
  t.not(e.rtoMs(99), undefined);
});

test('budgetedRtoMs: an estimate too long for the timeout is capped so four SYNs fit; never below the floor', (t) => {
  const policy = { ...DEFAULT_RETRANSMIT_POLICY };
  t.is(budgetedRtoMs(900, 500, policy), 125);
  t.is(budgetedRtoMs(50, 500, policy), 50, 'a shorter estimate stands');
  t.is(budgetedRtoMs(900, 200, policy), 100, 'the floor wins over the budget');
  t.is(budgetedRtoMs(1000, 3000, policy), 750);
});
