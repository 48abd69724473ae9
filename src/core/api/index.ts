export { ApiServer, type ApiServerOptions, errorBody, requestIdentity } from './server.ts';
export {
  PACKAGE_VERSION,
  REPORTED_VERSION,
  type VersionInfo,
  versionInfo,
  YAGNA_API_VERSION,
} from './version.ts';
