import { type AnySpec, group } from '../../spec';
import bgp from './bgp';
import felix from './felix';
import nodeBgp from './node-bgp';

/** `calicoctl config …`: low-level settings of the policy agent (Felix) and of BGP, cluster-wide or for this node. */
export const CONFIG: readonly AnySpec[] = [
  group({ path: ['config'], summary: 'Show or change low-level settings of the policy agent (Felix) and of BGP' }),
  felix,
  bgp,
  group({ path: ['config', 'node'], summary: "Show or change this node's own low-level settings" }),
  nodeBgp,
];
