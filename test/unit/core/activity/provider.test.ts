/**
 * The provider's side of the activity module on one bus, with the market faked: creating an activity races the
 * agreement's end (the read of the agreement is held at its await point by a gate, no sleeping), strangers and
 * unapproved agreements are refused, and a requestor node's open result waits are bounded.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ActivityErrorCode, ActivityService } from '../../../../src/core/activity/index.ts';
import { LocalBus } from '../../../../src/core/bus/index.ts';
import { resolveConfig } from '../../../../src/core/config/index.ts';
import { openDatabase } from '../../../../src/core/db/index.ts';
import { isGolemError } from '../../../../src/core/errors/index.ts';
import { silentLogger } from '../../../../src/core/log/index.ts';
import {
  ACTIVITY_EVENTS_TOPIC,
  type ActivityEvent,
  ActivityPublicAddress,
  ExeUnitMessage,
  exeUnitAddress,
  remoteActivityAddress,
} from '../../../../src/core/model/activity.ts';
import {
  AGREEMENT_EVENTS_TOPIC,
  type AgreementEvent,
  type AgreementState,
  type AgreementView,
  MarketLocalAddress,
} from '../../../../src/core/model/market.ts';
import { tempDir } from '../../../support/daemon.ts';

const PROVIDER = `0x${'a'.repeat(40)}`;
const REQUESTOR = `0x${'b'.repeat(40)}`;
const DESCRIPTOR = fileURLToPath(
  new URL('../../../support/exeunit-runtime/descriptor.json', import.meta.url),
);

describe('the provider side of activities', () => {
  const bus = new LocalBus();
  let service: ActivityService;
  let state: AgreementState = 'Approved';
  let gate: Promise<void> | undefined;
  let reads = 0;

  before(async () => {
    bus.setNodeIds(PROVIDER, [PROVIDER, REQUESTOR]);
    bus.bind(MarketLocalAddress.GetAgreement, async (message: { agreementId: string }) => {
      reads++;
      const view = {
        agreementId: message.agreementId,
        role: 'provider',
        state,
        requestorId: REQUESTOR,
        providerId: PROVIDER,
        offerProperties: { 'golem.runtime.name': 'test-runtime' },
        demandProperties: {},
      } as unknown as AgreementView;
      if (gate !== undefined) await gate;
      return view;
    });
    service = new ActivityService(
      {
        bus,
        db: openDatabase(':memory:'),
        logger: silentLogger,
        config: resolveConfig({ datadir: tempDir('activity-race-') }, {}),
        rest: { register() {} },
      },
      { exeUnitPath: [DESCRIPTOR] },
    );
    await service.start();
  });
  after(() => service.stop());

  it('an agreement that ends while it is read gets no activity', async () => {
    let release!: () => void;
    gate = new Promise((resolve) => {
      release = resolve;
    });
    const creating = bus.call(
      remoteActivityAddress(PROVIDER, ActivityPublicAddress.Create),
      { agreementId: 'g1', timeoutMs: 3000 },
      { as: REQUESTOR },
    );
    while (reads === 0) await new Promise((resolve) => setImmediate(resolve));
    // The read answered Approved and is held; now the agreement ends.
    state = 'Terminated';
    const ended: AgreementEvent = {
      type: 'terminated',
      agreementId: 'g1',
      role: 'provider',
      at: new Date().toISOString(),
      terminatedBy: 'requestor',
      reason: null,
    };
    await bus.publish(AGREEMENT_EVENTS_TOPIC, ended);
    gate = undefined;
    release();
    await assert.rejects(creating, (e: unknown) => isGolemError(e, ActivityErrorCode.AgreementNotApproved));
    const [row] = service.store.byAgreement('g1', 'provider');
    assert.deepEqual([row?.state, row?.pending], ['Terminated', null]);
  });

  it('a stranger cannot create on it, and an agreement not Approved is refused', async () => {
    state = 'Approved';
    await assert.rejects(
      bus.call(
        remoteActivityAddress(PROVIDER, ActivityPublicAddress.Create),
        { agreementId: 'g2' },
        { as: PROVIDER },
      ),
      (e: unknown) => isGolemError(e, ActivityErrorCode.Forbidden),
    );
    state = 'Pending';
    await assert.rejects(
      bus.call(
        remoteActivityAddress(PROVIDER, ActivityPublicAddress.Create),
        { agreementId: 'g2' },
        { as: REQUESTOR },
      ),
      (e: unknown) => isGolemError(e, ActivityErrorCode.AgreementNotApproved),
    );
    assert.deepEqual(service.store.byAgreement('g2', 'provider'), []);
  });

  it("bounds a requestor node's open result waits", async () => {
    service.store.insert({
      activity_id: 'a'.repeat(32),
      role: 'provider',
      agreement_id: 'g3',
      requestor_id: REQUESTOR,
      provider_id: PROVIDER,
      state: 'Ready',
      pending: null,
      created_at: new Date().toISOString(),
    });
    // An ExeUnit whose results never come.
    const unbind = bus.bind(
      exeUnitAddress('a'.repeat(32), ExeUnitMessage.GetExecBatchResults),
      () => new Promise(() => {}),
    );
    const poll = (signal?: AbortSignal) =>
      bus.call(
        remoteActivityAddress(PROVIDER, ActivityPublicAddress.GetExecBatchResults),
        { activityId: 'a'.repeat(32), batchId: 'b', timeoutMs: 60_000 },
        { as: REQUESTOR, signal },
      );
    const controllers = Array.from(
      { length: service.limits.maxWaitsPerRequestor },
      () => new AbortController(),
    );
    const open = controllers.map((controller) => poll(controller.signal).catch(() => 'ended'));
    await new Promise((resolve) => setImmediate(resolve));
    await assert.rejects(
      poll(),
      (e: unknown) => isGolemError(e, ActivityErrorCode.Limit) && e.httpStatus === 429,
    );
    controllers[0]!.abort();
    assert.equal(await open[0], 'ended');
    const again = new AbortController();
    const accepted = poll(again.signal).catch((e: unknown) =>
      isGolemError(e, ActivityErrorCode.Limit) ? 'refused' : 'ended',
    );
    await new Promise((resolve) => setImmediate(resolve));
    again.abort();
    assert.equal(await accepted, 'ended');
    for (const controller of controllers) controller.abort();
    await Promise.all(open);
    unbind();
  });

  it('an ExeUnit that dies makes its activity Unresponsive, then Terminated, and the create fails at once', async () => {
    // No control socket answers in this test: the supervisor starts, cannot join the bus and exits.
    state = 'Approved';
    const states: string[] = [];
    const off = bus.subscribe<ActivityEvent>(ACTIVITY_EVENTS_TOPIC, (event) => {
      if (event.type === 'state' && event.agreementId === 'g4') states.push(event.state.join('/'));
    });
    await assert.rejects(
      bus.call(
        remoteActivityAddress(PROVIDER, ActivityPublicAddress.Create),
        { agreementId: 'g4', timeoutMs: 30_000 },
        { as: REQUESTOR },
      ),
      (e: unknown) =>
        isGolemError(e, ActivityErrorCode.ExeUnitFailed) &&
        /control|daemon|GSB/i.test(JSON.stringify(e.details)),
    );
    off();
    assert.deepEqual(states, ['Unresponsive/', 'Terminated/']);
    const [row] = service.store.byAgreement('g4', 'provider');
    assert.equal(row?.reason, 'execution error');
    assert.match(row?.error_message ?? '', /exit code 1/);
  });
});
