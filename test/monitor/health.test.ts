// HAProxy's state machine as tables: a sequence of round results, and after each one the state,
// the interval that applies, and whether the state changed.
import test from 'ava';
import { applyResult, INITIAL_HEALTH, intervalKind, type HealthState, type HealthStatus, type IntervalKind } from '../../src/monitor/health.js';

/** "+" a successful round, "-" a failed one; then the state and interval after it; "!" marks a change. */
type Step = [result: '+' | '-', status: HealthStatus, interval: IntervalKind, changed?: '!'];

const sequence = test.macro({
  exec(t, rise: number, fall: number, steps: Step[]) {
    let state: HealthState = INITIAL_HEALTH;
    t.is(intervalKind(state, { rise, fall }), 'fastinter', 'UNKNOWN uses fastinter');
    steps.forEach(([result, status, interval, changed], i) => {
      const before = state.status;
      const step = applyResult(state, result === '+', { rise, fall });
      state = step.state;
      const at = `step ${i + 1} (${result})`;
      t.is(state.status, status, at);
      t.is(intervalKind(state, { rise, fall }), interval, at);
      if (changed) t.deepEqual(step.change, { from: before, to: status }, at);
      else t.is(step.change, undefined, at);
      t.true(state.health >= 0 && state.health <= rise + fall - 1, `${at}: health ${state.health} in range`);
    });
  },
  title: (what = '', rise: number, fall: number) => `rise ${rise} fall ${fall}: ${what}`,
});

test('unknown to UP after rise successes', sequence, 2, 3, [
  ['+', 'unknown', 'fastinter'],
  ['+', 'up', 'inter', '!'],
  ['+', 'up', 'inter'],
]);
test('unknown to DOWN after fall failures', sequence, 2, 3, [
  ['-', 'unknown', 'fastinter'],
  ['-', 'unknown', 'fastinter'],
  ['-', 'down', 'downinter', '!'],
]);
test('a mixed start decides nothing until a streak is long enough', sequence, 2, 3, [
  ['+', 'unknown', 'fastinter'],
  ['-', 'unknown', 'fastinter'],
  ['+', 'unknown', 'fastinter'],
  ['-', 'unknown', 'fastinter'],
  ['-', 'unknown', 'fastinter'],
  ['+', 'unknown', 'fastinter'],
  ['+', 'up', 'inter', '!'],
]);
test('UP goes DOWN after fall consecutive failures, with fastinter meanwhile', sequence, 2, 3, [
  ['+', 'unknown', 'fastinter'],
  ['+', 'up', 'inter', '!'],
  ['-', 'up', 'fastinter'],
  ['-', 'up', 'fastinter'],
  ['-', 'down', 'downinter', '!'],
  ['-', 'down', 'downinter'],
]);
test('one success restores UP fully (HAProxy jumps health to the top)', sequence, 2, 3, [
  ['+', 'unknown', 'fastinter'],
  ['+', 'up', 'inter', '!'],
  ['-', 'up', 'fastinter'],
  ['-', 'up', 'fastinter'],
  ['+', 'up', 'inter'],
  ['-', 'up', 'fastinter'],
  ['-', 'up', 'fastinter'],
  ['-', 'down', 'downinter', '!'],
]);
test('DOWN comes back after rise successes; a failure starts over', sequence, 3, 2, [
  ['-', 'unknown', 'fastinter'],
  ['-', 'down', 'downinter', '!'],
  ['+', 'down', 'fastinter'],
  ['+', 'down', 'fastinter'],
  ['-', 'down', 'downinter'],
  ['+', 'down', 'fastinter'],
  ['+', 'down', 'fastinter'],
  ['+', 'up', 'inter', '!'],
]);
test('rise 1 fall 1 flips on every change of result', sequence, 1, 1, [
  ['+', 'up', 'inter', '!'],
  ['-', 'down', 'downinter', '!'],
  ['-', 'down', 'downinter'],
  ['+', 'up', 'inter', '!'],
  ['+', 'up', 'inter'],
]);
test('flapping never settles with rise 2 fall 2', sequence, 2, 2, [
  ['+', 'unknown', 'fastinter'],
  ['+', 'up', 'inter', '!'],
  ['-', 'up', 'fastinter'],
  ['+', 'up', 'inter'],
  ['-', 'up', 'fastinter'],
  ['+', 'up', 'inter'],
]);

test('streak counts consecutive identical results', (t) => {
  let state = INITIAL_HEALTH;
  const streaks: number[] = [];
  for (const ok of [true, true, false, false, false, true]) {
    state = applyResult(state, ok, { rise: 2, fall: 3 }).state;
    streaks.push(state.streak);
  }
  t.deepEqual(streaks, [1, 2, -1, -2, -3, 1]);
});

test('the initial state is frozen and never mutated', (t) => {
  t.true(Object.isFrozen(INITIAL_HEALTH));
  applyResult(INITIAL_HEALTH, true, { rise: 1, fall: 1 });
  t.deepEqual(INITIAL_HEALTH, { status: 'unknown', health: 0, streak: 0 });
});
