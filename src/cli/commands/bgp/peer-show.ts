import { BgpStore } from '../../../datastore/bgp';
import { command } from '../../spec';
import { PEER_SHOW_OPTIONS, type PeerShowFlags, showPeers } from './peers';

export default command<PeerShowFlags>({
  path: ['bgp', 'peer', 'show'],
  summary: 'List the global BGP peers',
  options: PEER_SHOW_OPTIONS,
  writes: false,
  async run(flags, ctx) {
    const store = new BgpStore(ctx.kv());
    await showPeers(
      ctx,
      flags,
      (version) => store.globalPeers(version),
      (version) => `Global IPv${version} BGP Peer`,
      (version) => `No global IPv${version} BGP Peers defined.`,
    );
  },
});
