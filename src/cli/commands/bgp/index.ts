import { type AnySpec, group } from '../../spec';
import defaultNodeAs from './default-node-as';
import nodeMesh from './node-mesh';
import peerAdd from './peer-add';
import peerRemove from './peer-remove';
import peerShow from './peer-show';

/** `calicoctl bgp …`: the cluster-wide BGP settings, which every node uses unless it has its own. */
export const BGP: readonly AnySpec[] = [
  group({ path: ['bgp'], summary: "Manage the cluster's BGP settings: global peers, the node-to-node mesh, the default AS" }),
  group({ path: ['bgp', 'peer'], summary: 'Manage the global BGP peers' }),
  peerAdd,
  peerRemove,
  peerShow,
  nodeMesh,
  defaultNodeAs,
];
