/** Error codes of the control socket's binds (the calls' codes are declared beside the server). */
export const ControlBindErrorCode = {
  /** A bind outside the prefixes a local process may serve. */
  BindForbidden: 'CONTROL_BIND_FORBIDDEN',
  /** The process that bound an address went away while a call waited for it. */
  BinderGone: 'CONTROL_BINDER_GONE',
  /** A bound process answered with something that is not a reply. */
  BadReply: 'CONTROL_BAD_REPLY',
} as const;
