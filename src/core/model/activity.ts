/**
 * Bus contract of the activity module and of the ExeUnits it runs.
 * An activity runs on the provider's node inside an ExeUnit (one supervisor process per activity); both the
 * provider's and the requestor's node know it. Three sets of addresses:
 * - `/local/activity/…`: this node's activity module (payment reads activities; ExeUnits report state and usage);
 * - `/public/activity/…`: the provider's activity module as the requestor's node reaches it
 *   (`/net/<providerId>/activity/…`); every handler checks the authenticated caller is the agreement's requestor;
 * - `/local/exeunit/<activityId>/…`: bound by the ExeUnit process itself over the daemon's control socket.
 */

export const ACTIVITY_LOCAL = '/local/activity';
export const ACTIVITY_PUBLIC = '/public/activity';
export const EXEUNIT_LOCAL = '/local/exeunit';

export const ActivityLocalAddress = {
  /** `GetActivity` → `ActivityInfo` (error `ACTIVITY_NOT_FOUND` when this node knows no such activity). */
  GetActivity: `${ACTIVITY_LOCAL}/GetActivity`,
  /** ExeUnit → daemon: `SetActivityState` → null, on every state change (Golem's report_url service). */
  SetActivityState: `${ACTIVITY_LOCAL}/SetActivityState`,
  /** ExeUnit → daemon: `SetActivityUsage` → null, every second. */
  SetActivityUsage: `${ACTIVITY_LOCAL}/SetActivityUsage`,
} as const;

/** Requestor's node → provider's node. Reached as `/net/<providerId>/activity/<Message>`. */
export const ActivityPublicAddress = {
  /** `CreateActivity` → `{activityId}` once the ExeUnit is `Initialized`. */
  Create: `${ACTIVITY_PUBLIC}/Create`,
  /** `ActivityRef` → null; the activity ends `Terminated`. */
  Destroy: `${ACTIVITY_PUBLIC}/Destroy`,
  /** `ExecRequest` → batch id. */
  Exec: `${ACTIVITY_PUBLIC}/Exec`,
  /** `GetExecBatchResults` → `ExeScriptCommandResult[]` (cumulative from index 0). */
  GetExecBatchResults: `${ACTIVITY_PUBLIC}/GetExecBatchResults`,
  /** Stream: `BatchRef` → `RuntimeEvent`… until the batch ends. */
  StreamExecBatchResults: `${ACTIVITY_PUBLIC}/StreamExecBatchResults`,
  /** `ActivityRef` → `ActivityState`. */
  GetState: `${ACTIVITY_PUBLIC}/GetState`,
  /** `ActivityRef` → `ActivityUsage`. */
  GetUsage: `${ACTIVITY_PUBLIC}/GetUsage`,
  /** `ActivityRef` → `ExeScriptCommandState[]` (error `ACTIVITY_NOTHING_RUNNING` when idle). */
  GetRunningCommand: `${ACTIVITY_PUBLIC}/GetRunningCommand`,
} as const;

/** The `/net/<nodeId>/…` form of a public activity address, to reach the provider's node. */
export function remoteActivityAddress(nodeId: string, address: string): string {
  return `/net/${nodeId}${address.slice('/public'.length)}`;
}

/** Messages an ExeUnit binds under `/local/exeunit/<activityId>/`. */
export const ExeUnitMessage = {
  Exec: 'Exec',
  GetExecBatchResults: 'GetExecBatchResults',
  StreamExecBatchResults: 'StreamExecBatchResults',
  GetState: 'GetState',
  GetUsage: 'GetUsage',
  GetRunningCommand: 'GetRunningCommand',
  /** `{reason}` → null: stop batches and the runtime, report `Terminated`, then exit. */
  Shutdown: 'Shutdown',
} as const;
export type ExeUnitMessageName = (typeof ExeUnitMessage)[keyof typeof ExeUnitMessage];

export function exeUnitService(activityId: string): string {
  return `${EXEUNIT_LOCAL}/${activityId}`;
}

export function exeUnitAddress(activityId: string, message: ExeUnitMessageName): string {
  return `${exeUnitService(activityId)}/${message}`;
}

/** Local topic: activity lifecycle (`ActivityEvent`), published where the state changes. */
export const ACTIVITY_EVENTS_TOPIC = 'local:activity-events';

/** Golem's activity states (`api.md` §4.2). */
export type ActivityStateName = 'New' | 'Initialized' | 'Deployed' | 'Ready' | 'Terminated' | 'Unresponsive';
export type StatePair = [ActivityStateName, ActivityStateName | null];

export interface GetActivity {
  activityId: string;
}

export interface ActivityInfo {
  activityId: string;
  agreementId: string;
  /** This node's side. */
  role: 'requestor' | 'provider';
  requestorId: string;
  providerId: string;
  /** `[current, pending]` as yagna reports it. */
  state: StatePair;
  createdAt: string;
}

export type ActivityEvent =
  | { type: 'created'; activityId: string; agreementId: string; at: string }
  | {
      type: 'state';
      activityId: string;
      agreementId: string;
      at: string;
      state: StatePair;
    }
  | { type: 'destroyed'; activityId: string; agreementId: string; at: string };

/** `ActivityState` as REST and the bus carry it. */
export interface ActivityState {
  state: StatePair;
  reason: string | null;
  errorMessage: string | null;
}

/** `ActivityUsage`: counters in the agreement's usage-vector order; `timestamp` in unix seconds. */
export interface ActivityUsage {
  currentUsage: number[] | null;
  timestamp: number;
}

export interface ActivityRef {
  activityId: string;
  /** How long the provider may take (ms). */
  timeoutMs?: number;
}

export interface CreateActivity {
  agreementId: string;
  requestorPubKey?: string;
  timeoutMs?: number;
}

export interface SetActivityState {
  activityId: string;
  state: ActivityState;
}

export interface SetActivityUsage {
  activityId: string;
  usage: ActivityUsage;
}

/** One ExeScript command as JSON (externally tagged, `{"run": {…}}`); the ExeUnit validates the inside. */
export type ExeScriptCommand = Record<string, unknown>;

export interface ExecRequest {
  activityId: string;
  batchId: string;
  exeScript: ExeScriptCommand[];
}

export interface BatchRef {
  activityId: string;
  batchId: string;
}

export interface GetExecBatchResults extends BatchRef {
  /** Wait for this command (default: the last); with it, a timeout is an error. */
  commandIndex?: number;
  timeoutMs: number;
}

/** Captured output: text, or bytes as a number array (JSON has no byte strings). */
export type CommandOutput = string | number[] | null;

export interface ExeScriptCommandResult {
  index: number;
  eventDate: string;
  result: 'Ok' | 'Error';
  stdout: CommandOutput;
  stderr: CommandOutput;
  message: string | null;
  isBatchFinished: boolean;
}

export type RuntimeEventKind =
  | { started: { command: ExeScriptCommand } }
  | { finished: { return_code: number; message: string | null } }
  | { stdout: string | number[] }
  | { stderr: string | number[] }
  | {
      progress: {
        step: [number, number];
        message: string | null;
        progress: [number, number | null];
        unit: string | null;
      };
    };

/** One streamed event of a batch, with yagna's snake_case fields and zone-less timestamp. */
export interface RuntimeEvent {
  batch_id: string;
  index: number;
  timestamp: string;
  kind: RuntimeEventKind;
}

export interface ExeScriptCommandState {
  command: string;
  progress: string | null;
  params: string[];
}
