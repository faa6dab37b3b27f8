import { describe, expect, it } from 'vitest';
import {
  AcnError,
  canTransition,
  IllegalTransitionError,
  isCancellable,
  isFinal,
  TASK_STATES,
  transition,
  type TaskState,
} from '#core/index.ts';
import { expectError } from '#test/values.ts';

/**
 * The legal moves, written out here (from the life-cycle diagram and the
 * module's table) so a change to either shows up as a failing test.
 */
const LEGAL: readonly (readonly [TaskState, TaskState])[] = [
  ['pending', 'assigned'],
  ['pending', 'cancelled'],
  ['pending', 'failed'], // no worker took it
  ['assigned', 'running'],
  ['assigned', 'pending'], // worker timed out: reassign
  ['assigned', 'cancelled'], // still before a worker starts
  ['assigned', 'failed'],
  ['running', 'completed'],
  ['running', 'pending'], // worker timed out: reassign
  ['running', 'failed'],
  ['completed', 'verified'],
  ['completed', 'pending'],
  ['completed', 'failed'], // verification failed
  ['verified', 'settled'],
  ['failed', 'refunded'],
  ['cancelled', 'refunded'],
];

const isLegal = (from: TaskState, to: TaskState) => LEGAL.some(([a, b]) => a === from && b === to);

describe('task state machine', () => {
  it('has the nine states of the life cycle', () => {
    expect([...TASK_STATES].sort()).toEqual(
      ['assigned', 'cancelled', 'completed', 'failed', 'pending', 'refunded', 'running', 'settled', 'verified'].sort(),
    );
  });

  for (const [from, to] of LEGAL) {
    it(`${from} -> ${to} is allowed`, () => {
      expect(canTransition(from, to)).toBe(true);
      expect(transition(from, to)).toEqual({ ok: true, value: to });
    });
  }

  it('every other pair (including staying put) is refused with IllegalTransitionError', () => {
    let refused = 0;
    for (const from of TASK_STATES) {
      for (const to of TASK_STATES) {
        if (isLegal(from, to)) continue;
        expect(canTransition(from, to), `${from} -> ${to}`).toBe(false);
        const error = expectError(transition(from, to), 'IllegalTransitionError', 'illegal-transition');
        expect(error).toBeInstanceOf(IllegalTransitionError);
        expect(error).toBeInstanceOf(AcnError);
        refused++;
      }
    }
    expect(refused).toBe(TASK_STATES.length ** 2 - LEGAL.length);
  });

  it('settled and refunded are the only final states', () => {
    expect(TASK_STATES.filter(isFinal).sort()).toEqual(['refunded', 'settled']);
    for (const state of TASK_STATES) {
      expect(isFinal(state)).toBe(TASK_STATES.every((to) => !canTransition(state, to)));
    }
  });

  it('only pending and assigned tasks can be cancelled', () => {
    expect(TASK_STATES.filter(isCancellable).sort()).toEqual(['assigned', 'pending']);
  });

  it('value moves once: no path leads from a final state, and settled and refunded exclude each other', () => {
    const reachable = (start: TaskState): Set<TaskState> => {
      const seen = new Set<TaskState>();
      const queue: TaskState[] = [start];
      for (let state = queue.shift(); state !== undefined; state = queue.shift()) {
        for (const next of TASK_STATES) {
          if (canTransition(state, next) && !seen.has(next)) {
            seen.add(next);
            queue.push(next);
          }
        }
      }
      return seen;
    };
    expect(reachable('settled').size).toBe(0);
    expect(reachable('refunded').size).toBe(0);
    expect(reachable('verified')).toEqual(new Set(['settled']));
    expect(reachable('cancelled')).toEqual(new Set(['refunded']));
    expect(reachable('failed')).toEqual(new Set(['refunded']));
    // Every non-final state can still end somewhere final.
    for (const state of TASK_STATES) {
      if (isFinal(state)) continue;
      const ends = [...reachable(state)].filter(isFinal);
      expect(ends.length, state).toBeGreaterThan(0);
    }
  });

  it('walks the happy path and the cancel path', () => {
    const walk = (states: TaskState[]) =>
      states.slice(1).reduce<TaskState>((from, to) => {
        const next = transition(from, to);
        expect(next.ok, `${from} -> ${to}`).toBe(true);
        return next.ok ? next.value : from;
      }, states[0] as TaskState);
    expect(walk(['pending', 'assigned', 'running', 'completed', 'verified', 'settled'])).toBe('settled');
    expect(walk(['pending', 'assigned', 'running', 'pending', 'assigned', 'cancelled', 'refunded'])).toBe('refunded');
    expect(walk(['pending', 'assigned', 'running', 'completed', 'failed', 'refunded'])).toBe('refunded');
  });
});
