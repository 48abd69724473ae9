/**
 * Bus contract of the activity module (the part other modules need; the activity module grows the rest here).
 * An activity runs on the provider's node inside an ExeUnit; both the provider's and the requestor's node know it.
 */

export const ACTIVITY_LOCAL = '/local/activity';

export const ActivityLocalAddress = {
  /** `GetActivity` → `ActivityInfo` (error `ACTIVITY_NOT_FOUND` when this node knows no such activity). */
  GetActivity: `${ACTIVITY_LOCAL}/GetActivity`,
} as const;

/** Local topic: activity lifecycle (`ActivityEvent`), published where the state changes. */
export const ACTIVITY_EVENTS_TOPIC = 'local:activity-events';

/** Golem's activity states (`api.md` §4.2). */
export type ActivityStateName = 'New' | 'Initialized' | 'Deployed' | 'Ready' | 'Terminated' | 'Unresponsive';

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
  state: [ActivityStateName, ActivityStateName | null];
  createdAt: string;
}

export type ActivityEvent =
  | { type: 'created'; activityId: string; agreementId: string; at: string }
  | {
      type: 'state';
      activityId: string;
      agreementId: string;
      at: string;
      state: [ActivityStateName, ActivityStateName | null];
    }
  | { type: 'destroyed'; activityId: string; agreementId: string; at: string };
