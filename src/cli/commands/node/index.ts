import { type AnySpec, group } from '../../spec';
import bgpPeerAdd from './bgp-peer-add';
import bgpPeerRemove from './bgp-peer-remove';
import bgpPeerShow from './bgp-peer-show';
import start from './start';
import stop from './stop';
import remove from './remove';
import show from './show';

/** `calicoctl node` and its subcommands: start, stop, remove and list the host agents, and this node's BGP peers. */
export const NODE: readonly AnySpec[] = [
  start,
  stop,
  remove,
  show,
  group({ path: ['node', 'bgp'], summary: "Manage this node's own BGP settings" }),
  group({ path: ['node', 'bgp', 'peer'], summary: "Manage this node's own BGP peers" }),
  bgpPeerAdd,
  bgpPeerRemove,
  bgpPeerShow,
];
