import type { AnySpec } from '../../spec';
import start from './start';
import stop from './stop';
import remove from './remove';
import show from './show';

/** `calicoctl node` and its subcommands: start, stop, remove and list the host agents. */
export const NODE: readonly AnySpec[] = [start, stop, remove, show];
