import { PoolStore } from '../../../datastore/pools';
import { cidrNetworkText } from '../../../policy/cidr';
import { CommandError } from '../../errors';
import { command } from '../../spec';
import { parsePoolCidr } from './options';

export default command<{ cidrs: string[] }>({
  path: ['pool', 'remove'],
  summary: 'Remove pools (addresses already assigned from them stay assigned)',
  args: [{ syntax: '<CIDRS...>', key: 'cidrs' }],
  writes: true,
  async run({ cidrs }, ctx) {
    const store = new PoolStore(ctx.kv());
    const pools = cidrs.map(parsePoolCidr);
    // All or none: a wrong CIDR among several leaves every pool in place.
    const missing = await store.remove(pools);
    if (missing) throw new CommandError(`${cidrs[pools.indexOf(missing)]} is not a configured pool.`);
    for (const cidr of pools) ctx.io.out.write(`Deleted IP Pool ${cidrNetworkText(cidr)}\n`);
  },
});
