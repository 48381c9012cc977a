// HAProxy's health-check state machine, as a pure function of (state, round result).
//
// Known states use HAProxy's health counter (src/check.c): `health` runs from 0 to
// rise + fall - 1, and the target is UP while health >= rise.
//   - a success adds one, and once health reaches rise it jumps to the top ("fully up");
//   - a failure takes one away, and once health drops below rise it falls to 0 ("fully down").
// So an UP target goes DOWN after `fall` consecutive failures (a success in between restores
// it fully), and a DOWN target goes UP after `rise` consecutive successes (a failure in between
// starts it over).
//
// HAProxy starts a server UP with health = rise, so a single failure takes it DOWN. This monitor
// starts every target UNKNOWN instead, and decides the first state the same way as later ones:
// `rise` consecutive successes make it UP, `fall` consecutive failures make it DOWN; a mixed
// streak decides nothing yet. No alarm fires for a target that was never seen up.
//
// Intervals (HAProxy's srv_getinter): settled UP (health at the top) uses `inter`; settled DOWN
// (health 0) uses `downinter`; anything in between, and UNKNOWN, uses `fastinter`.

export type HealthStatus = 'unknown' | 'up' | 'down';

export interface HealthParams {
  rise: number;
  fall: number;
}

export interface HealthState {
  status: HealthStatus;
  /** HAProxy's counter, 0..rise+fall-1; 0 while UNKNOWN. */
  health: number;
  /** Consecutive identical results so far: > 0 successes, < 0 failures. */
  streak: number;
}

export interface HealthStep {
  state: HealthState;
  /** Set when this result changed the status. */
  change?: { from: HealthStatus; to: HealthStatus };
}

export type IntervalKind = 'inter' | 'fastinter' | 'downinter';

export const INITIAL_HEALTH: HealthState = Object.freeze({ status: 'unknown', health: 0, streak: 0 });

export function applyResult(state: HealthState, success: boolean, params: HealthParams): HealthStep {
  const { rise, fall } = params;
  const top = rise + fall - 1;
  const streak = success ? Math.max(0, state.streak) + 1 : Math.min(0, state.streak) - 1;
  let { status, health } = state;
  if (status === 'unknown') {
    if (success && streak >= rise) {
      status = 'up';
      health = top;
    } else if (!success && -streak >= fall) {
      status = 'down';
      health = 0;
    }
  } else if (success) {
    if (health < top) health++;
    if (health >= rise) {
      health = top;
      status = 'up';
    }
  } else {
    if (health > 0) health--;
    if (health < rise) {
      health = 0;
      status = 'down';
    }
  }
  const next = { status, health, streak };
  return status === state.status ? { state: next } : { state: next, change: { from: state.status, to: status } };
}

export function intervalKind(state: HealthState, params: HealthParams): IntervalKind {
  if (state.status === 'up' && state.health === params.rise + params.fall - 1) return 'inter';
  if (state.status === 'down' && state.health === 0) return 'downinter';
  return 'fastinter';
}
