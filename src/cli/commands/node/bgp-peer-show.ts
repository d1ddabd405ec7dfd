import { BgpStore } from '../../../datastore/bgp';
import { command } from '../../spec';
import { PEER_SHOW_OPTIONS, type PeerShowFlags, showPeers } from '../bgp/peers';
import { thisHostname } from './agent';

export default command<PeerShowFlags>({
  path: ['node', 'bgp', 'peer', 'show'],
  summary: "List this node's own BGP peers (not the global ones: see calicoctl bgp peer show)",
  options: PEER_SHOW_OPTIONS,
  writes: false,
  async run(flags, ctx) {
    const store = new BgpStore(ctx.kv());
    const host = thisHostname(ctx);
    await showPeers(
      ctx,
      flags,
      (version) => store.nodePeers(host, version),
      (version) => `Node specific IPv${version} BGP Peer`,
      (version) => `No IPv${version} BGP Peers defined for this node.`,
    );
  },
});
