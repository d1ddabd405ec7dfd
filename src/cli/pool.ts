import { Command } from 'commander';
import type { IpVersion } from '../policy/ast';
import { addressToBigInt, cidrNetworkText, cidrsOverlap, parseCidr, parseIp, rangeToCidrs } from '../policy/cidr';
import { MIN_POOL_PREFIX, type Pool, PoolStore } from '../datastore/pools';
import { CommandError, UsageError } from './errors';
import { isDataFormat, type OutputFormat, outputOption, renderData } from './output';
import type { Session } from './session';
import { renderTable, sortRows } from './table';

/** `calicoctl pool add|remove|range add|show`: the IP pools Calico IPAM assigns addresses from. */
export function makePoolCommand(session: Session): Command {
  const pool = new Command('pool').description('Manage the IP pools that Calico IPAM assigns container addresses from');
  const options = (command: Command) =>
    command.option('--ipip', 'use IP-in-IP encapsulation across hosts (IPv4 only)').option('--nat-outgoing', 'masquerade traffic from the pool to destinations outside all pools');

  options(
    pool
      .command('add')
      .description('Add pools (re-adding a pool updates its options)')
      .argument('<CIDRS...>', 'pools, e.g. 10.65.0.0/16 fd65::/64'),
  ).action(async (cidrs: string[], flags: { ipip?: boolean; natOutgoing?: boolean }) => {
    const pools = cidrs.map((text) => {
      const cidr = parseCidr(text);
      if (!cidr) throw new CommandError(`Invalid CIDR specified ${text}`);
      return toPool(cidr, flags);
    });
    await new PoolStore(session.context().kv()).add(pools);
  });

  pool
    .command('remove')
    .description('Remove pools (addresses already assigned from them stay assigned)')
    .argument('<CIDRS...>')
    .action(async (cidrs: string[]) => {
      const ctx = session.context();
      const store = new PoolStore(ctx.kv());
      const pools = cidrs.map((text) => {
        const cidr = parseCidr(text);
        if (!cidr) throw new CommandError(`Invalid CIDR specified ${text}`);
        return cidr;
      });
      // All or none: a wrong CIDR among several leaves every pool in place.
      const missing = await store.remove(pools);
      if (missing) throw new CommandError(`${cidrs[pools.indexOf(missing)]} is not a configured pool.`);
      for (const cidr of pools) ctx.io.out.write(`Deleted IP Pool ${cidrNetworkText(cidr)}\n`);
    });

  const range = pool.command('range').description('Add a range of addresses as pools');
  options(
    range
      .command('add')
      .description('Split START_IP..END_IP into pools and add them')
      .argument('<START_IP>')
      .argument('<END_IP>'),
  ).action(async (startText: string, endText: string, flags: { ipip?: boolean; natOutgoing?: boolean }) => {
    const start = parseIp(startText);
    if (!start) throw new CommandError('Invalid START_IP specified.');
    const end = parseIp(endText);
    if (!end) throw new CommandError('Invalid END_IP specified.');
    if (start.version !== end.version) throw new CommandError('START_IP and END_IP must be the same ip version');
    const first = addressToBigInt(start.text);
    const last = addressToBigInt(end.text);
    if (first >= last) throw new CommandError('START_IP must be a smaller ip address than END_IP');
    const cidrs = rangeToCidrs(first, last, start.version);
    const store = new PoolStore(session.context().kv());
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
    await store.add(cidrs.map((cidr) => toPool(cidr, flags)));
  });

  pool
    .command('show')
    .description('List the pools and their options')
    .option('--ipv4', 'IPv4 pools only')
    .option('--ipv6', 'IPv6 pools only')
    .addOption(outputOption())
    .action(async (flags: { ipv4?: boolean; ipv6?: boolean; output: OutputFormat }) => {
      if (flags.ipv4 && flags.ipv6) throw new UsageError('Give --ipv4 or --ipv6, not both.');
      const versions: IpVersion[] = flags.ipv4 ? [4] : flags.ipv6 ? [6] : [4, 6];
      const ctx = session.context();
      const store = new PoolStore(ctx.kv());
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
    });

  return pool;
}

function toPool(cidr: NonNullable<ReturnType<typeof parseCidr>>, flags: { ipip?: boolean; natOutgoing?: boolean }): Pool {
  return { cidr, ...(flags.ipip && { ipip: true }), ...(flags.natOutgoing && { masquerade: true }) };
}

export function poolOptions(pool: Pool): string[] {
  return [...(pool.ipip ? ['ipip'] : []), ...(pool.masquerade ? ['nat-outgoing'] : []), ...(pool.disabled ? ['disabled'] : [])];
}
