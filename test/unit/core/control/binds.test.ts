/**
 * Binds over the control socket: a local process serves addresses on the daemon's bus (calls and streams,
 * bytes intact, cancellation), only under /local/exeunit/, and its binds go away with its socket.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { LocalBus } from '../../../../src/core/bus/index.ts';
import {
  ControlBindErrorCode,
  ControlConnection,
  ControlServer,
  controlSocketPath,
} from '../../../../src/core/control/index.ts';
import { GolemError, isGolemError } from '../../../../src/core/errors/index.ts';
import { silentLogger } from '../../../../src/core/log/index.ts';
import { MarketErrorCode } from '../../../../src/core/market/index.ts';
import { tempDir } from '../../../support/daemon.ts';

describe('control socket binds', () => {
  let bus: LocalBus;
  let server: ControlServer;
  let path: string;
  before(async () => {
    bus = new LocalBus();
    path = controlSocketPath(tempDir('control-binds-'));
    server = new ControlServer({ path, bus, logger: silentLogger });
    await server.start();
  });
  after(() => server.stop());

  it('serves calls and streams bound by a client, bytes and error codes intact', async () => {
    const client = await ControlConnection.connect(path);
    await client.bind('/local/exeunit/a1/Echo', (message, context) => ({ message, caller: context.caller }));
    await client.bind('/local/exeunit/a1/Fail', () => {
      throw new GolemError(MarketErrorCode.AgreementState, 'no', { httpStatus: 409 });
    });
    await client.bindStream('/local/exeunit/a1/Count', async function* (message) {
      for (let i = 0; i < (message as { n: number }).n; i++) yield { i, bytes: new Uint8Array([i, 255]) };
    });
    const bytes = new Uint8Array([0, 1, 254, 255]);
    assert.deepEqual(await bus.call('/local/exeunit/a1/Echo', { bytes }), {
      message: { bytes },
      caller: 'local',
    });
    await assert.rejects(
      bus.call('/local/exeunit/a1/Fail'),
      (e: unknown) => isGolemError(e, MarketErrorCode.AgreementState) && e.httpStatus === 409,
    );
    const items: unknown[] = [];
    for await (const item of bus.stream('/local/exeunit/a1/Count', { n: 3 })) items.push(item);
    assert.deepEqual(
      items,
      [0, 1, 2].map((i) => ({ i, bytes: new Uint8Array([i, 255]) })),
    );
    await client.unbind('/local/exeunit/a1/Echo');
    await assert.rejects(bus.call('/local/exeunit/a1/Echo'), (e: unknown) =>
      isGolemError(e, 'BUS_NO_HANDLER'),
    );
    await client.close();
  });

  it('refuses binds outside /local/exeunit/', async () => {
    const client = await ControlConnection.connect(path);
    for (const address of [
      '/local/identity/Sign',
      '/public/activity/Create',
      '/local/exeunit/../identity/Sign',
    ])
      await assert.rejects(
        client.bind(address, () => null),
        (e: unknown) => isGolemError(e, ControlBindErrorCode.BindForbidden),
      );
    await client.close();
  });

  it('tells a bound handler when the caller gives up', async () => {
    const client = await ControlConnection.connect(path);
    let aborted!: () => void;
    const sawAbort = new Promise<void>((resolve) => {
      aborted = resolve;
    });
    await client.bind('/local/exeunit/a2/Wait', (_message, context) => {
      context.signal.addEventListener('abort', () => aborted());
      return new Promise(() => {});
    });
    await assert.rejects(bus.call('/local/exeunit/a2/Wait', {}, { timeoutMs: 50 }), (e: unknown) =>
      isGolemError(e, 'BUS_TIMEOUT'),
    );
    await sawAbort;
    await client.close();
  });

  it('drops the binds and fails the waiting calls when the client goes away', async () => {
    const client = await ControlConnection.connect(path);
    await client.bind('/local/exeunit/a3/Hang', () => new Promise(() => {}));
    await client.bindStream('/local/exeunit/a3/Stream', async function* () {
      yield 1;
      await new Promise(() => {});
    });
    const hanging = bus.call('/local/exeunit/a3/Hang', {});
    const stream = bus.stream('/local/exeunit/a3/Stream', {})[Symbol.asyncIterator]();
    assert.deepEqual(await stream.next(), { value: 1, done: false });
    const next = stream.next();
    await new Promise((resolve) => setTimeout(resolve, 20));
    await client.close();
    await assert.rejects(hanging, (e: unknown) => isGolemError(e, ControlBindErrorCode.BinderGone));
    await assert.rejects(next, (e: unknown) => isGolemError(e, ControlBindErrorCode.BinderGone));
    await assert.rejects(bus.call('/local/exeunit/a3/Hang'), (e: unknown) =>
      isGolemError(e, 'BUS_NO_HANDLER'),
    );
    // The address is free for the next process.
    const again = await ControlConnection.connect(path);
    await again.bind('/local/exeunit/a3/Hang', () => 'back');
    assert.equal(await bus.call('/local/exeunit/a3/Hang'), 'back');
    await again.close();
  });
});
