import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

/** Version of this program. */
export const PACKAGE_VERSION: string = pkg.version;

/**
 * The yagna release whose REST API this node serves. Clients compare it (golem-js needs >= 0.15.2), so the
 * reported version leads with it and carries ours as a pre-release tag.
 */
export const YAGNA_API_VERSION = '0.17.6';

export const REPORTED_VERSION = `${YAGNA_API_VERSION}-golem-ts.${PACKAGE_VERSION}`;

/** Build date shown by `/version/get` (zone-less, as yagna writes it). */
export const RELEASE_TS = '2026-11-22T00:00:00';

export interface VersionInfo {
  current: {
    version: string;
    name: string;
    seen: boolean;
    releaseTs: string;
    insertionTs: string | null;
    updateTs: string | null;
  };
  pending: null;
}

export function versionInfo(): VersionInfo {
  return {
    current: {
      version: REPORTED_VERSION,
      name: `golem-ts ${PACKAGE_VERSION}`,
      seen: false,
      releaseTs: RELEASE_TS,
      insertionTs: null,
      updateTs: null,
    },
    pending: null,
  };
}
