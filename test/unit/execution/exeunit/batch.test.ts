/** A batch's results (cumulative, long-polled) and its event stream (replayed from the start, then live). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isGolemError } from '../../../../src/core/errors/index.ts';
import { parseExeScript } from '../../../../src/core/model/exescript.ts';
import {
  Batch,
  MAX_EVENT_BYTES_PER_BATCH,
  MAX_EVENTS_PER_BATCH,
} from '../../../../src/execution/exeunit/batch.ts';
import { ExeUnitErrorCode } from '../../../../src/execution/exeunit/errors.ts';

const script = [{ start: {} }, { sign: {} }, { terminate: {} }];
const batch = () => new Batch('b1', script, parseExeScript(script));
const ok = (index: number) => ({ index, result: 'Ok' as const, stdout: null, stderr: null, message: null });

describe('exec batch', () => {
  it('answers what is done after the wait; cumulative from index 0; finished on the last command', async () => {
    const b = batch();
    assert.deepEqual(await b.resultsUpTo(undefined, 0), []);
    b.finish(ok(0));
    const waiting = b.resultsUpTo(undefined, 5000);
    b.finish(ok(1));
    b.finish(ok(2));
    const results = await waiting;
    assert.deepEqual(
      results.map((r) => [r.index, r.isBatchFinished]),
      [
        [0, false],
        [1, false],
        [2, true],
      ],
    );
    assert.ok(b.finished);
  });

  it('with commandIndex: waits for that command, marks it finished, and times out with 408', async () => {
    const b = batch();
    await assert.rejects(
      b.resultsUpTo(1, 20),
      (e: unknown) => isGolemError(e, ExeUnitErrorCode.Timeout) && e.httpStatus === 408,
    );
    b.finish(ok(0));
    b.finish(ok(1));
    const upTo0 = await b.resultsUpTo(0, 0);
    assert.deepEqual(
      upTo0.map((r) => [r.index, r.isBatchFinished]),
      [[0, true]],
    );
    await assert.rejects(b.resultsUpTo(3, 0), (e: unknown) => isGolemError(e, ExeUnitErrorCode.BadScript));
  });

  it('an error ends the batch', async () => {
    const b = batch();
    b.finish({ ...ok(0), result: 'Error', message: 'boom' });
    const results = await b.resultsUpTo(undefined, 1000);
    assert.equal(results.length, 1);
    assert.equal(results[0]!.isBatchFinished, true);
    assert.ok(b.finished);
  });

  it('streams every event from the start to a late reader, then live ones, and ends with the batch', async () => {
    const b = batch();
    b.emit(0, { started: { command: { start: {} } } });
    b.emit(0, { stdout: 'early' });
    const seen: unknown[] = [];
    const reading = (async () => {
      for await (const event of b.stream()) seen.push(event.kind);
    })();
    await new Promise((resolve) => setImmediate(resolve));
    b.emit(0, { finished: { return_code: 0, message: null } });
    b.finish(ok(0));
    b.close();
    await reading;
    assert.deepEqual(seen, [
      { started: { command: { start: {} } } },
      { stdout: 'early' },
      { finished: { return_code: 0, message: null } },
    ]);
    assert.match(b.events[0]!.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
  });

  it('keeps a bounded history: the oldest output goes first, started/finished stay, a reader sees nothing twice', async () => {
    const b = batch();
    b.emit(0, { started: { command: { start: {} } } });
    const seen: string[] = [];
    let resume!: () => void;
    const paused = new Promise<void>((resolve) => {
      resume = resolve;
    });
    // A reader that takes a few events, then lags while most of the history is dropped under it.
    const reading = (async () => {
      for await (const event of b.stream()) {
        seen.push(JSON.stringify(event.kind).slice(0, 60));
        if (seen.length === 5) await paused;
      }
    })();
    for (let i = 0; i < MAX_EVENTS_PER_BATCH * 2; i++) {
      b.emit(0, { stdout: `line ${i}\n` });
      if (i % 3000 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    const big = 'x'.repeat(1024 * 1024);
    for (let i = 0; i < 20; i++) b.emit(0, { stderr: `${i}${big}` });
    b.emit(0, { finished: { return_code: 0, message: null } });
    b.finish(ok(0));
    b.close();
    resume();
    await reading;
    assert.ok(b.events.length <= MAX_EVENTS_PER_BATCH);
    const kept = b.events.reduce((sum, e) => sum + ('stderr' in e.kind ? e.kind.stderr.length : 0), 0);
    assert.ok(kept <= MAX_EVENT_BYTES_PER_BATCH, `${kept} bytes kept`);
    assert.ok('started' in b.events[0]!.kind && 'finished' in b.events.at(-1)!.kind);
    assert.equal(new Set(seen).size, seen.length, 'no event twice');
    const lines = seen.filter((k) => k.includes('line')).map((k) => Number(/line (\d+)/.exec(k)![1]));
    assert.deepEqual(
      lines,
      [...lines].sort((x, y) => x - y),
      'in order',
    );
    assert.equal(seen[0], JSON.stringify({ started: { command: { start: {} } } }));
    assert.equal(seen.at(-1), JSON.stringify({ finished: { return_code: 0, message: null } }));
  });
});
