import { BgpStore } from '../../../datastore/bgp';
import { CommandError } from '../../errors';
import { command } from '../../spec';
import { peerAddress } from '../bgp/peers';
import { thisHostname } from './agent';

export default command<{ ip: string }>({
  path: ['node', 'bgp', 'peer', 'remove'],
  summary: 'Remove a BGP peer of this node',
  args: [{ syntax: '<PEER_IP>', key: 'ip', description: "the peer's address" }],
  writes: true,
  async run(options, ctx) {
    const ip = peerAddress(options.ip);
    if (!(await new BgpStore(ctx.kv()).removeNodePeer(thisHostname(ctx), ip.text))) throw new CommandError(`${ip.text} is not a configured peer for this node.`);
    ctx.io.out.write('BGP peer removed from node configuration\n');
  },
});
