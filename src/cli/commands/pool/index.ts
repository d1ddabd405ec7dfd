import { type AnySpec, group } from '../../spec';
import add from './add';
import remove from './remove';
import rangeAdd from './range-add';
import show from './show';

/** `calicoctl pool add|remove|range add|show`: the IP pools Calico IPAM assigns addresses from. */
export const POOL: readonly AnySpec[] = [
  group({ path: ['pool'], summary: 'Manage the IP pools that Calico IPAM assigns container addresses from' }),
  add,
  remove,
  group({ path: ['pool', 'range'], summary: 'Add a range of addresses as pools' }),
  rangeAdd,
  show,
];
