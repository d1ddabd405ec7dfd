import { escapeControls } from '../errors';

/**
 * Text from etcd (profile names, tags, endpoint and host names) goes through here before it reaches
 * a terminal: a stored name could otherwise hold escape sequences that rewrite the screen, move the
 * cursor or hide lines. Control characters (C0, DEL, C1) and the bidirectional overrides that
 * reorder what is shown are written as `\xNN` or `\u{NNNN}`; everything else is shown as it is.
 * It is the same escaping that keeps every error message on one line (src/policy/errors.ts).
 */
export const printable = escapeControls;

/** Each item on a line of its own, each made printable: the plain listings (`-q`, `tag show`). */
export function printableLines(items: readonly string[]): string {
  return items.map((item) => `${printable(item)}\n`).join('');
}

/** A multi-line text (a rule listing, a report) with its own line breaks kept and everything else made printable. */
export function printableText(text: string): string {
  return text.split('\n').map(printable).join('\n');
}
