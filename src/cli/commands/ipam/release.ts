import { IpamStore } from '../../../datastore/ipam';
import { command } from '../../spec';
import { IP_ARG, notAssigned, parseAddress } from './address';

export default command<{ ip: string }>({
  path: ['ipam', 'release'],
  summary: 'Free an assigned address',
  args: [IP_ARG],
  writes: true,
  async run(options, ctx) {
    const ip = parseAddress(options.ip);
    if (!(await new IpamStore(ctx.kv()).release(ip))) throw notAssigned(ip);
    ctx.io.out.write('Address successfully released\n');
  },
});
