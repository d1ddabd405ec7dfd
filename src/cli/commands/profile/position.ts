import { UsageError } from '../../errors';

/** `--at` takes a whole number; whether it is in range depends on the list, checked later. */
export function parsePosition(text: string): number {
  if (!/^-?\d+$/.test(text)) throw new UsageError(`Invalid --at '${text}': give a rule position such as 1.`);
  return Number(text);
}
