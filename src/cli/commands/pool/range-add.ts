import { MIN_POOL_PREFIX, PoolStore } from '../../../datastore/pools';
import { addressToBigInt, cidrNetworkText, cidrsOverlap, parseIp, rangeToCidrs } from '../../../policy/cidr';
import { CommandError } from '../../errors';
import { command } from '../../spec';
import { noteIpip, POOL_OPTIONS, type PoolFlags, toPool } from './options';

export default command<PoolFlags & { start: string; end: string }>({
  path: ['pool', 'range', 'add'],
  summary: 'Split START_IP..END_IP into pools and add them',
  args: [{ syntax: '<START_IP>', key: 'start' }, { syntax: '<END_IP>', key: 'end' }],
  options: POOL_OPTIONS,
  writes: true,
  async run({ start: startText, end: endText, ...flags }, ctx) {
    const start = parseIp(startText);
    if (!start) throw new CommandError('Invalid START_IP specified.');
    const end = parseIp(endText);
    if (!end) throw new CommandError('Invalid END_IP specified.');
    if (start.version !== end.version) throw new CommandError('START_IP and END_IP must be the same ip version');
    const first = addressToBigInt(start.text);
    const last = addressToBigInt(end.text);
    if (first >= last) throw new CommandError('START_IP must be a smaller ip address than END_IP');
    const cidrs = rangeToCidrs(first, last, start.version);
    const store = new PoolStore(ctx.kv());
    const clash = (await store.list(start.version)).find((existing) => cidrs.some((cidr) => cidrsOverlap(cidr, existing.cidr)));
    if (clash) throw new CommandError(`Cannot add range - range conflicts with pool ${cidrNetworkText(clash.cidr)}`);
    const tooSmall = cidrs.filter((cidr) => cidr.prefixLength > MIN_POOL_PREFIX[start.version]);
    if (tooSmall.length > 0) {
      throw new CommandError(
        `IPv${start.version} ranges are split into pools, with the smallest pool size allowed having a prefix length of /${MIN_POOL_PREFIX[start.version]}. ` +
          `One or more of the generated pools is too small (prefix length is too high). Range given: ${start.text} - ${end.text}. ` +
          `Pools: ${cidrs.map((c) => c.text).join(', ')}. No pools added.`,
      );
    }
    const pools = cidrs.map((cidr) => toPool(cidr, flags));
    await store.add(pools);
    await noteIpip(pools, ctx);
  },
});
