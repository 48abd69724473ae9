import { GolemError } from '../../../core/errors/index.ts';

export const VmErrorCode = {
  /** Bad command-line arguments of the runtime program. */
  BadArguments: 'VM_BAD_ARGUMENTS',
  /** QEMU, the kernel or the initramfs is missing (run `npm run setup:vm`). */
  Missing: 'VM_MISSING_PREREQUISITE',
  /** The image cannot be deployed (no task package, bad GVMI, unsupported volume override). */
  Deploy: 'VM_DEPLOY_FAILED',
  /** `start` without a finished `deploy` in the workdir. */
  NotDeployed: 'VM_NOT_DEPLOYED',
  /** The VM did not come up (QEMU exited, or the guest agent did not answer in time). */
  Boot: 'VM_BOOT_FAILED',
  /** The guest agent answered a request with an errno. */
  Guest: 'VM_GUEST_ERROR',
  /** The guest agent's channel closed (the VM stopped). */
  ChannelClosed: 'VM_CHANNEL_CLOSED',
  /** The guest agent sent bytes that are not of its protocol. */
  Protocol: 'VM_GUEST_PROTOCOL',
} as const;
export type VmErrorCode = (typeof VmErrorCode)[keyof typeof VmErrorCode];

declare module '../../../core/errors/index.ts' {
  interface ErrorCodes {
    vm: VmErrorCode;
  }
}

export const vmError = (
  code: VmErrorCode,
  message: string,
  details?: Record<string, unknown>,
  cause?: unknown,
) => new GolemError(code, message, { details, cause });
