import { BgpStore } from '../../../datastore/bgp';
import { command } from '../../spec';
import { asNumber, PEER_ADD_ARGS, peerAddress } from '../bgp/peers';
import { thisHostname } from './agent';

export default command<{ ip: string; asNum: string }>({
  path: ['node', 'bgp', 'peer', 'add'],
  summary: 'Add (or replace) a BGP peer of this node only',
  usage: 'node bgp peer add <PEER_IP> as <AS_NUM>',
  args: PEER_ADD_ARGS,
  writes: true,
  help: `
This node is $HOSTNAME (environment or config file), else the system hostname.

Examples:
  calicoctl node bgp peer add 192.0.2.1 as 64513   # e.g. the top-of-rack router`,
  async run(options, ctx) {
    const ip = peerAddress(options.ip);
    const asNum = asNumber(options.asNum);
    await new BgpStore(ctx.kv()).addNodePeer(thisHostname(ctx), ip.text, asNum);
  },
});
