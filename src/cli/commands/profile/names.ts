import { isValidName } from '../../../policy/ast';
import { CommandError } from '../../errors';

/** Profile names use the tag alphabet; no length limit, since network IDs are 64 characters. */
export function checkProfileName(name: string): void {
  if (!isValidName(name)) {
    throw new CommandError(`Profile names can only contain numbers, letters, dots, dashes and underscores. Got '${name}'.`);
  }
}

export function checkTagName(tag: string): void {
  if (!isValidName(tag)) {
    throw new CommandError(`Tags names can only contain numbers, letters, dots, dashes and underscores. Got '${tag}'.`);
  }
}
