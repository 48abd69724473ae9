import { GolemError } from '../../core/errors/index.ts';

export const ImageErrorCode = {
  /** The file has no valid GVMI trailer (too short, bad length digits, CRC mismatch, JSON that is not an object). */
  BadGvmi: 'IMAGE_BAD_GVMI',
  /** The build source is neither a directory, an OCI layout nor a `docker save` tarball. */
  BadSource: 'IMAGE_BAD_SOURCE',
  /** An external tool (mksquashfs, tar) is missing or failed. */
  ToolFailed: 'IMAGE_TOOL_FAILED',
  /** The registry knows no such image tag or hash. */
  NotFound: 'IMAGE_NOT_FOUND',
  /** A request to the registry that is not of its form. */
  BadRequest: 'IMAGE_BAD_REQUEST',
} as const;
export type ImageErrorCode = (typeof ImageErrorCode)[keyof typeof ImageErrorCode];

declare module '../../core/errors/index.ts' {
  interface ErrorCodes {
    image: ImageErrorCode;
  }
}

export function badGvmi(path: string, reason: string): GolemError {
  return new GolemError(ImageErrorCode.BadGvmi, `${path} is not a GVMI image: ${reason}`, {
    details: { path },
  });
}
