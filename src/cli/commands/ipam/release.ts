import { IpamStore } from '../../../datastore/ipam';
import { command } from '../../spec';
import { NotFoundError } from '../../../datastore/errors';
import { IP_ARG, parseAddress } from './address';

export default command<{ ip: string }>({
  path: ['ipam', 'release'],
  summary: 'Free an assigned address',
  args: [IP_ARG],
  writes: true,
  async run(options, ctx) {
    const ip = parseAddress(options.ip);
    // release() is idempotent for the plugin, which Docker retries; here a free address is an error.
    if (!(await new IpamStore(ctx.kv()).release(ip))) throw new NotFoundError('address', ip, `IP ${ip} is not currently assigned`);
    ctx.io.out.write('Address successfully released\n');
  },
});
