import { type AnySpec, group } from '../../spec';
import info from './info';
import release from './release';

/** `calicoctl ipam info|release <IP>`: look at or free one assigned address. */
export const IPAM: readonly AnySpec[] = [
  group({
    path: ['ipam'],
    summary: 'Look at or release addresses assigned by Calico IPAM',
    help: '\nWarning: releasing an address that a container still uses can give it to a second container.',
  }),
  info,
  release,
];
