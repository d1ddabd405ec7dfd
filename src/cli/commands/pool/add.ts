import { PoolStore } from '../../../datastore/pools';
import { command } from '../../spec';
import { noteIpip, parsePoolCidr, POOL_OPTIONS, type PoolFlags, toPool } from './options';

export default command<PoolFlags & { cidrs: string[] }>({
  path: ['pool', 'add'],
  summary: 'Add pools (re-adding a pool updates its options)',
  args: [{ syntax: '<CIDRS...>', key: 'cidrs', description: 'pools, e.g. 10.65.0.0/16 fd65::/64' }],
  options: POOL_OPTIONS,
  writes: true,
  async run({ cidrs, ...flags }, ctx) {
    const pools = cidrs.map((text) => toPool(parsePoolCidr(text), flags));
    await new PoolStore(ctx.kv()).add(pools);
    await noteIpip(pools, ctx);
  },
});
