import { type AnySpec, group } from '../../spec';
import matrix from './matrix';
import trace from './trace';

/** `calicoctl policy trace|matrix`: what the stored policy does to packets, computed without sending any. */
export const POLICY: readonly AnySpec[] = [
  group({ path: ['policy'], summary: 'Ask what the policy does: why a packet is allowed or dropped, who can reach whom' }),
  trace,
  matrix,
];
