import { type Pool, PoolStore } from '../../../datastore/pools';
import type { IpVersion } from '../../../policy/ast';
import { cidrNetworkText } from '../../../policy/cidr';
import { UsageError } from '../../errors';
import { isDataFormat, OUTPUT_OPTION, type OutputFormat, renderData } from '../../output';
import { command } from '../../spec';
import { renderTable, sortRows } from '../../table';

export default command<{ ipv4?: boolean; ipv6?: boolean; output: OutputFormat }>({
  path: ['pool', 'show'],
  summary: 'List the pools and their options',
  options: [{ flags: '--ipv4', description: 'IPv4 pools only' }, { flags: '--ipv6', description: 'IPv6 pools only' }, OUTPUT_OPTION],
  writes: false,
  async run(flags, ctx) {
    if (flags.ipv4 && flags.ipv6) throw new UsageError('Give --ipv4 or --ipv6, not both.');
    const versions: IpVersion[] = flags.ipv4 ? [4] : flags.ipv6 ? [6] : [4, 6];
    const store = new PoolStore(ctx.kv(), ctx.report);
    if (isDataFormat(flags.output)) {
      const pools = (await Promise.all(versions.map((v) => store.list(v)))).flat();
      const documents = pools.map((p) => ({ cidr: cidrNetworkText(p.cidr), version: p.cidr.version, ipip: p.ipip === true, nat_outgoing: p.masquerade === true, disabled: p.disabled === true, ipam: p.ipam !== false }));
      ctx.io.out.write(renderData(flags.output, documents.sort((a, b) => (a.cidr < b.cidr ? -1 : 1))));
      return;
    }
    for (const version of versions) {
      const rows = (await store.list(version)).map((p) => [cidrNetworkText(p.cidr), poolOptions(p).join(',')]);
      ctx.io.out.write(renderTable([`IPv${version} CIDR`, 'Options'], sortRows(rows)));
    }
  },
});

export function poolOptions(pool: Pool): string[] {
  return [...(pool.ipip ? ['ipip'] : []), ...(pool.masquerade ? ['nat-outgoing'] : []), ...(pool.disabled ? ['disabled'] : [])];
}
