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

/**
 * Text for a message with control characters written as `\xNN`: what a user typed or etcd held
 * (a key, an address) may contain a newline or an escape sequence, and an error must stay one
 * harmless line.
 */
export function escapeControls(text: string): string {
  return text.replace(UNSAFE, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
  });
}
/** C0, DEL, C1, and the bidirectional marks and overrides that reorder what a terminal shows (as `\u{NNNN}`). */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** `'text'`, escaped as escapeControls does. */
export function quoted(text: string): string {
  return `'${escapeControls(text)}'`;
}
