/**
 * The activity state machine as yagna's exe-unit enforces it: states as `[current, pending]` pairs; a stateful
 * command moves `cur → next` and holds `[cur, next]` while it runs; a second one meanwhile is "Busy".
 */
import type { ActivityStateName, StatePair } from '../../core/model/activity.ts';
import type { CommandName } from '../../core/model/exescript.ts';
import { ExeUnitErrorCode, exeUnitError } from './errors.ts';

/** yagna's Debug form of a pair, as it appears in its error texts: `StatePair(Ready, Some(Ready))`. */
export function formatPair([current, pending]: StatePair): string {
  return `StatePair(${current}, ${pending === null ? 'None' : `Some(${pending})`})`;
}

/** yagna's InvalidState texts. */
export function invalidStateMessage(pair: StatePair): string {
  if (pair[1] === null) {
    if (pair[0] === 'Initialized') return 'Activity is initialized - deploy() command is expected now';
    if (pair[0] === 'Deployed') return 'Activity is deployed - start() command is expected now';
    if (pair[0] === 'Ready') return 'Cannot send command after a successful start()';
  }
  return `This command is not allowed when activity is in the ${pair[0]} state`;
}

/**
 * The transition a stateful command makes from `pair`: `[from, to]`. Throws Busy while a transition is pending,
 * InvalidState when the command is not the one this state expects.
 */
export function transitionFor(pair: StatePair, command: CommandName): [ActivityStateName, ActivityStateName] {
  if (pair[1] !== null) {
    throw exeUnitError(ExeUnitErrorCode.Busy, `Busy: ${formatPair(pair)}`, {
      details: { state: pair },
      httpStatus: 400,
    });
  }
  const [current] = pair;
  const expected: ActivityStateName | undefined =
    command === 'deploy' ? 'Initialized' : command === 'start' ? 'Deployed' : 'Ready';
  if (current !== expected) {
    throw exeUnitError(ExeUnitErrorCode.InvalidState, invalidStateMessage(pair), {
      details: { state: pair, command },
      httpStatus: 400,
    });
  }
  if (command === 'deploy') return ['Initialized', 'Deployed'];
  if (command === 'start') return ['Deployed', 'Ready'];
  return ['Ready', 'Ready'];
}

/**
 * The ExeUnit's state with compare-and-set transitions: every change names the pair it comes from, so two
 * batches racing for the same transition cannot both win.
 */
export class StateMachine {
  #pair: StatePair = ['New', null];
  #listeners = new Set<(pair: StatePair) => void>();

  get pair(): StatePair {
    return [this.#pair[0], this.#pair[1]];
  }

  onChange(listener: (pair: StatePair) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Sets `next` if the state is still `from`; false otherwise. */
  compareAndSet(from: StatePair, next: StatePair): boolean {
    if (this.#pair[0] !== from[0] || this.#pair[1] !== from[1]) return false;
    this.#pair = [next[0], next[1]];
    for (const listener of this.#listeners) listener(this.pair);
    return true;
  }

  /** Forces a state (start-up, terminate, shutdown): those win over whatever runs. */
  force(next: StatePair): void {
    this.#pair = [next[0], next[1]];
    for (const listener of this.#listeners) listener(this.pair);
  }

  /** Claims the transition of a stateful command: `[cur, next]` set, or Busy/InvalidState thrown. */
  begin(command: CommandName): [ActivityStateName, ActivityStateName] {
    const before = this.pair;
    const [from, to] = transitionFor(before, command);
    if (!this.compareAndSet(before, [from, to]))
      throw exeUnitError(ExeUnitErrorCode.Busy, `Busy: ${formatPair(this.pair)}`);
    return [from, to];
  }

  /** Ends a claimed transition: `to` on success, back to `from` on failure (unless something else moved it). */
  end(transition: [ActivityStateName, ActivityStateName], ok: boolean): void {
    const [from, to] = transition;
    this.compareAndSet([from, to], [ok ? to : from, null]);
  }

  get terminated(): boolean {
    return this.#pair[0] === 'Terminated';
  }
}
