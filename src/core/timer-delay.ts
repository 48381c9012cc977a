// Node stores a timer's delay as a signed 32-bit number of milliseconds: anything longer than
// 2^31-1 ms (24.8 days) is replaced by 1 ms with a TimeoutOverflowWarning, so a far deadline
// fires at once, and a timer that re-arms for the same deadline spins (issue 13: --rate 1e-7
// printed the warning thousands of times a second; check(t, { timeout: 1e12 }) used 12% of a
// core). Every timer is armed through timerDelay(): a far deadline gets a timer that wakes early,
// finds nothing due and re-arms, once every 24.8 days.

/** The longest delay setTimeout honours. */
export const MAX_TIMER_DELAY_MS = 0x7fffffff;

/** `ms` as a delay setTimeout honours: whole milliseconds (rounded up, so a timer never wakes a
 *  hair early and spins), from 0 to MAX_TIMER_DELAY_MS. NaN counts as 0. */
export function timerDelay(ms: number): number {
  if (!(ms > 0)) return 0;
  return Math.min(MAX_TIMER_DELAY_MS, Math.ceil(ms));
}
