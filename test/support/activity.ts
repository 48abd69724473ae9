/**
 * Helpers for activity tests, as golem-js drives an activity: the typed client, a script sent and its results
 * long-polled until the batch is finished, the SSE stream read frame by frame, and the ExeUnit processes found
 * in /proc.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { ActivityApi } from 'ya-ts-client';
import type { DaemonHandle } from './daemon.ts';

export type ActivityClient = InstanceType<typeof ActivityApi.Client>;
export type Result = {
  index: number;
  result: string;
  stdout?: unknown;
  stderr?: unknown;
  message?: unknown;
  isBatchFinished: boolean;
};
export type StreamedEvent = {
  index: number;
  kind: Record<string, unknown>;
  batch_id: string;
  timestamp: string;
};

export const activityClient = (daemon: DaemonHandle): ActivityClient =>
  new ActivityApi.Client({ BASE: `${daemon.apiUrl}/activity-api/v1`, TOKEN: daemon.appKey });

/** Sends a script and long-polls its results until the batch is finished (golem-js's loop). */
export async function execute(api: ActivityClient, activityId: string, script: unknown[]): Promise<Result[]> {
  const batchId = (await api.requestorControl.exec(activityId, { text: JSON.stringify(script) })) as string;
  assert.match(batchId, /^[0-9a-f]{32}$/);
  for (let i = 0; i < 60; i++) {
    const results = (await api.requestorControl.getExecBatchResults(
      activityId,
      batchId,
      undefined,
      5,
    )) as Result[];
    if (results.some((r) => r.isBatchFinished)) return results;
  }
  throw new Error('batch did not finish');
}

/** Creates an activity and brings it to Ready with `deploy` + `start`, as golem-js does. */
export async function readyActivity(api: ActivityClient, agreementId: string): Promise<string> {
  const { activityId } = (await api.requestorControl.createActivity({ agreementId })) as {
    activityId: string;
  };
  const setup = await execute(api, activityId, [{ deploy: {} }, { start: {} }]);
  assert.deepEqual(
    setup.map((r) => r.result),
    ['Ok', 'Ok'],
    JSON.stringify(setup),
  );
  assert.deepEqual((await api.requestorState.getActivityState(activityId)).state, ['Ready', null]);
  return activityId;
}

/** The exec results stream as golem-js reads it: `event: runtime` frames until the last command finished. */
export async function streamEvents(
  daemon: DaemonHandle,
  activityId: string,
  batchId: string,
  commands: number,
): Promise<StreamedEvent[]> {
  const controller = new AbortController();
  const response = await fetch(`${daemon.apiUrl}/activity-api/v1/activity/${activityId}/exec/${batchId}`, {
    headers: { accept: 'text/event-stream', authorization: `Bearer ${daemon.appKey}` },
    signal: controller.signal,
  });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type'), 'text/event-stream');
  const events: StreamedEvent[] = [];
  let text = '';
  const decoder = new TextDecoder();
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    text += decoder.decode(chunk);
    for (let end = text.indexOf('\n\n'); end >= 0; end = text.indexOf('\n\n')) {
      const lines = text.slice(0, end).split('\n');
      text = text.slice(end + 2);
      if (lines.includes('event: runtime'))
        events.push(JSON.parse(lines.find((l) => l.startsWith('data: '))!.slice(6)));
    }
    const last = events.at(-1);
    if (last !== undefined && last.index + 1 >= commands && 'finished' in last.kind) break;
  }
  controller.abort();
  return events;
}

/** Pids of processes whose command line contains every one of `parts`. */
export function processesWith(...parts: string[]): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (parts.every((part) => cmdline.includes(part))) pids.push(Number(entry));
    } catch {
      // gone
    }
  }
  return pids;
}

/** The supervisor processes of an activity. */
export const exeUnitPids = (activityId: string): number[] => processesWith('service-bus', activityId);
