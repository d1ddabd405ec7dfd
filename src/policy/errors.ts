/**
 * The base of every error calicoctl and calico-node raise on purpose: its message is written for
 * the user, and `code` names its kind, stable for scripts and tests. Anything else that is thrown
 * is a bug, and the CLI says so ("Internal error"); src/cli/errors.ts maps the types to exit codes.
 *
 * It lives here, in the innermost layer, because src/policy/ imports nothing of ours; every other
 * layer takes it from src/errors.ts.
 */
export abstract class CalicoError extends Error {
  abstract readonly code: string;
}
