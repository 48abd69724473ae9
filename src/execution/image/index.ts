/** GVMI images: the format, an offline builder (gvmkit-build's job) and an offline registry golem-js can resolve. */
export { type BuildOptions, type BuildResult, buildImage } from './build.ts';
export { ImageErrorCode } from './errors.ts';
export {
  appendGvmiTrailer,
  type ContainerConfig,
  type GvmiInfo,
  gvmiTrailer,
  readGvmi,
  sha3File,
} from './gvmi.ts';
export {
  loadRegistry,
  REGISTRY_INDEX,
  type RegistryImage,
  type RegistryIndex,
  type RegistryServer,
  serveRegistry,
} from './registry.ts';
