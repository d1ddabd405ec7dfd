import { BgpStore } from '../../../datastore/bgp';
import { CommandError } from '../../errors';
import { command } from '../../spec';
import { peerAddress } from './peers';

export default command<{ ip: string }>({
  path: ['bgp', 'peer', 'remove'],
  summary: 'Remove a global BGP peer',
  args: [{ syntax: '<PEER_IP>', key: 'ip', description: "the peer's address" }],
  writes: true,
  async run(options, ctx) {
    const ip = peerAddress(options.ip);
    if (!(await new BgpStore(ctx.kv()).removeGlobalPeer(ip.text))) throw new CommandError(`${ip.text} is not a globally configured peer.`);
    ctx.io.out.write('BGP peer removed from global configuration\n');
  },
});
