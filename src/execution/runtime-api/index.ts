/**
 * Golem's Runtime API (`ya-runtime-api`): protobuf messages with varint length prefixes over a service-mode
 * runtime's stdin/stdout. The client is the supervisor's side, the server the runtime's.
 */
export {
  RUNTIME_API_VERSION,
  RuntimeClient,
  type RuntimeClientOptions,
  type SpawnedRuntime,
  spawnServiceRuntime,
} from './client.ts';
export { RuntimeApiErrorCode } from './errors.ts';
export { DEFAULT_MAX_FRAME_BYTES, FrameReader, frame } from './framing.ts';
export {
  type CreateNetwork,
  decodeRequest,
  decodeResponse,
  type Endpoint,
  type EndpointKind,
  ErrorCode,
  encodeRequest,
  encodeResponse,
  type KillProcess,
  type Network,
  NetworkInterface,
  type Output,
  type ProcessStatus,
  type Request,
  type RequestCommand,
  type Response,
  type ResponseCommand,
  type RunProcess,
  type RuntimeStatus,
} from './messages.ts';
export { type RuntimeServer, type RuntimeService, RuntimeServiceError, serveRuntime } from './server.ts';
export { type DeployNetwork, VpnLink } from './vpn-link.ts';
