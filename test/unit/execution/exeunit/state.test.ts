/** The ExeUnit state machine as yagna enforces it: which command each state takes, its messages, Busy. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isGolemError } from '../../../../src/core/errors/index.ts';
import type { StatePair } from '../../../../src/core/model/activity.ts';
import type { CommandName } from '../../../../src/core/model/exescript.ts';
import { ExeUnitErrorCode } from '../../../../src/execution/exeunit/errors.ts';
import { StateMachine, transitionFor } from '../../../../src/execution/exeunit/state.ts';

function outcome(pair: StatePair, command: CommandName): string {
  try {
    return transitionFor(pair, command).join(' -> ');
  } catch (error) {
    assert.ok(isGolemError(error));
    return `${error.code}: ${error.message}`;
  }
}

describe('ExeUnit state machine', () => {
  it('takes deploy in Initialized, start in Deployed, everything else in Ready, with yagna texts', () => {
    assert.equal(outcome(['Initialized', null], 'deploy'), 'Initialized -> Deployed');
    assert.equal(outcome(['Deployed', null], 'start'), 'Deployed -> Ready');
    assert.equal(outcome(['Ready', null], 'run'), 'Ready -> Ready');
    assert.equal(outcome(['Ready', null], 'transfer'), 'Ready -> Ready');
    const initialized = `${ExeUnitErrorCode.InvalidState}: Activity is initialized - deploy() command is expected now`;
    assert.equal(outcome(['Initialized', null], 'run'), initialized);
    assert.equal(outcome(['Initialized', null], 'start'), initialized);
    assert.equal(
      outcome(['Deployed', null], 'run'),
      `${ExeUnitErrorCode.InvalidState}: Activity is deployed - start() command is expected now`,
    );
    const started = `${ExeUnitErrorCode.InvalidState}: Cannot send command after a successful start()`;
    assert.equal(outcome(['Ready', null], 'deploy'), started);
    assert.equal(outcome(['Ready', null], 'start'), started);
    for (const dead of ['New', 'Terminated', 'Unresponsive'] as const)
      assert.equal(
        outcome([dead, null], 'run'),
        `${ExeUnitErrorCode.InvalidState}: This command is not allowed when activity is in the ${dead} state`,
      );
  });

  it('is Busy while a transition is pending, whatever the command', () => {
    assert.equal(
      outcome(['Ready', 'Ready'], 'run'),
      `${ExeUnitErrorCode.Busy}: Busy: StatePair(Ready, Some(Ready))`,
    );
    assert.equal(
      outcome(['Initialized', 'Deployed'], 'deploy'),
      `${ExeUnitErrorCode.Busy}: Busy: StatePair(Initialized, Some(Deployed))`,
    );
  });

  it('claims a transition by compare-and-set: of two claims from the same state one wins', () => {
    const machine = new StateMachine();
    machine.force(['Initialized', null]);
    const seen: StatePair[] = [];
    machine.onChange((pair) => seen.push(pair));
    const first = machine.begin('deploy');
    assert.throws(
      () => machine.begin('deploy'),
      (e: unknown) => isGolemError(e, ExeUnitErrorCode.Busy),
    );
    machine.end(first, true);
    assert.deepEqual(machine.pair, ['Deployed', null]);
    // A failed start goes back where it came from.
    machine.end(machine.begin('start'), false);
    assert.deepEqual(machine.pair, ['Deployed', null]);
    assert.deepEqual(seen, [
      ['Initialized', 'Deployed'],
      ['Deployed', null],
      ['Deployed', 'Ready'],
      ['Deployed', null],
    ]);
  });

  it('does not undo a forced state (terminate, shutdown) when a claimed command ends late', () => {
    const machine = new StateMachine();
    machine.force(['Ready', null]);
    const run = machine.begin('run');
    machine.force(['Terminated', null]);
    machine.end(run, true);
    assert.deepEqual(machine.pair, ['Terminated', null]);
  });
});
