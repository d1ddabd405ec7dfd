import { BgpStore } from '../../../datastore/bgp';
import { command } from '../../spec';
import { asNumber, PEER_ADD_ARGS, peerAddress } from './peers';

export default command<{ ip: string; asNum: string }>({
  path: ['bgp', 'peer', 'add'],
  summary: 'Add (or replace) a global BGP peer, which every node peers with',
  usage: 'bgp peer add <PEER_IP> as <AS_NUM>',
  args: PEER_ADD_ARGS,
  writes: true,
  help: `
Examples:
  calicoctl bgp peer add 192.0.2.10 as 64512
  calicoctl bgp peer add 2001:db8::10 as 1.10   # dotted: stored as 65546`,
  async run(options, ctx) {
    const ip = peerAddress(options.ip);
    const asNum = asNumber(options.asNum);
    await new BgpStore(ctx.kv()).addGlobalPeer(ip.text, asNum);
  },
});
