/**
 * The steps a whole-activity e2e test takes around its own script: a requestor and a provider daemon that reach
 * each other over a relay, a file sent by GFTP and its upper-cased copy received back, the batch checked, and
 * the activity destroyed at the end.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ControlConnection } from '../../src/core/control/index.ts';
import { GftpLocalAddress, type GftpPublished } from '../../src/core/model/gftp.ts';
import type { ActivityClient, Result } from './activity.ts';
import { type DaemonHandle, type RelayHandle, startDaemon, startRelayProcess, tempDir } from './daemon.ts';
import { eventually } from './net.ts';

/** A `run` command's capture of both streams, whole, as text. */
export const CAPTURE = { stdout: { atEnd: { format: 'str' } }, stderr: { atEnd: { format: 'str' } } };

export interface RelayedPair {
  relay: RelayHandle;
  requestor: DaemonHandle;
  provider: DaemonHandle;
}

/** A relay and two daemons that use it; what started is stopped again when the rest fails to. */
export async function startRelayedPair(): Promise<RelayedPair> {
  const relay = await startRelayProcess();
  const env = { YA_NET_RELAY: relay.addresses[0]! };
  const [requestor, provider] = await Promise.allSettled([startDaemon({ env }), startDaemon({ env })]);
  if (requestor.status === 'fulfilled' && provider.status === 'fulfilled')
    return { relay, requestor: requestor.value, provider: provider.value };
  await stopRelayedPair({
    relay,
    requestor: requestor.status === 'fulfilled' ? requestor.value : undefined,
    provider: provider.status === 'fulfilled' ? provider.value : undefined,
  });
  throw requestor.status === 'rejected' ? requestor.reason : (provider as PromiseRejectedResult).reason;
}

/** Stops what `startRelayedPair` started, as far as it got. */
export async function stopRelayedPair(pair: Partial<RelayedPair> | undefined): Promise<void> {
  await Promise.all([pair?.requestor, pair?.provider].map((daemon) => daemon?.stop()));
  await pair?.relay?.stop();
}

/**
 * `quiet words\n` published by the requestor's GFTP (`from`), and a GFTP address to receive a file at (`to`);
 * `upperCasedBack()` waits until what came back there is `QUIET WORDS\n`, then closes the control connection.
 */
export async function gftpRoundTrip(requestor: DaemonHandle) {
  const control = await ControlConnection.connect(join(requestor.dataDir, 'yagna.sock'));
  const input = join(tempDir('gftp-e2e-'), 'in.txt');
  writeFileSync(input, 'quiet words\n');
  const [published] = await control.call<GftpPublished>(GftpLocalAddress.Publish, { paths: [input] });
  const output = join(tempDir('gftp-e2e-'), 'out.txt');
  const [receiver] = await control.call<GftpPublished>(GftpLocalAddress.Receive, { path: output });
  return {
    from: published!.url,
    to: receiver!.url,
    upperCasedBack: async () => {
      await eventually(() => {
        try {
          return readFileSync(output, 'utf8') === 'QUIET WORDS\n';
        } catch {
          return false;
        }
      }, 'the upper-cased file on the requestor');
      await control.close();
    },
  };
}

/** Every command of the batch ended Ok. */
export function assertAllOk(results: Result[], commands: number): void {
  assert.deepEqual(
    results.map((r) => r.result),
    Array(commands).fill('Ok'),
    JSON.stringify(results),
  );
}

/** Destroys the activity; it reads Terminated after. */
export async function destroyActivity(
  api: ActivityClient,
  activityId: string,
  timeoutS: number,
): Promise<void> {
  await api.requestorControl.destroyActivity(activityId, timeoutS);
  assert.deepEqual((await api.requestorState.getActivityState(activityId)).state, ['Terminated', null]);
}
