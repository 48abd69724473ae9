export { ApiErrorCode } from './errors.ts';
export {
  clientGone,
  DEFAULT_POLL_TIMEOUT_S,
  LongPollErrorCode,
  MAX_POLL_TIMEOUT_S,
  maxEventsOf,
  Notifier,
  pollTimeoutMs,
  type Query,
  sendJsonId,
} from './long-poll.ts';
export { ApiServer, type ApiServerOptions, errorBody, requestIdentity } from './server.ts';
export {
  PACKAGE_VERSION,
  REPORTED_VERSION,
  type VersionInfo,
  versionInfo,
  YAGNA_API_VERSION,
} from './version.ts';
