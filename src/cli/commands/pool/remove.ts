import { IpamStore } from '../../../datastore/ipam';
import { PoolStore } from '../../../datastore/pools';
import { cidrNetworkText } from '../../../policy/cidr';
import { NotFoundError } from '../../../datastore/errors';
import type { Cidr } from '../../../policy/ast';
import { command } from '../../spec';
import { parsePoolCidr } from './options';

export default command<{ cidrs: string[] }>({
  path: ['pool', 'remove'],
  summary: 'Remove pools, and the address blocks hosts hold in them',
  args: [{ syntax: '<CIDRS...>', key: 'cidrs' }],
  writes: true,
  async run({ cidrs }, ctx) {
    const store = new PoolStore(ctx.kv());
    const pools = cidrs.map(parsePoolCidr);
    // All or none: a wrong CIDR among several leaves every pool in place.
    await store.remove(pools).catch((error: unknown) => {
      // Named as typed, not as stored.
      const index = error instanceof NotFoundError ? pools.findIndex((cidr) => cidr.text === error.id) : -1;
      if (index < 0) throw error;
      throw new NotFoundError('pool', (pools[index] as Cidr).text, `${cidrs[index]} is not a configured pool.`);
    });
    // Its blocks and the hosts' claims on them go too, so that no host keeps announcing them.
    const ipam = new IpamStore(ctx.kv());
    for (const cidr of pools) await ipam.releasePool(cidr);
    for (const cidr of pools) ctx.io.out.write(`Deleted IP Pool ${cidrNetworkText(cidr)}\n`);
  },
});
