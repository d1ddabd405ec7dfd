import type { Cidr } from '../../../policy/ast';
import { parseCidr } from '../../../policy/cidr';
import { ConfigStore } from '../../../datastore/component-config';
import type { Pool } from '../../../datastore/pools';
import type { CommandContext } from '../../context';
import { CommandError } from '../../errors';
import type { OptionSpec } from '../../spec';

/** The pool options `pool add` and `pool range add` take. */
export interface PoolFlags {
  ipip?: boolean;
  natOutgoing?: boolean;
}

export const POOL_OPTIONS: readonly OptionSpec[] = [
  { flags: '--ipip', description: 'route to other hosts through tunl0 with IP-in-IP, for hosts on different subnets (IPv4 only; add the pool again without it to turn it off)' },
  { flags: '--nat-outgoing', description: 'masquerade traffic from the pool to destinations outside all pools with the host address (re-adding the pool without it turns it off)' },
];

export function toPool(cidr: Cidr, flags: PoolFlags): Pool {
  return { cidr, ...(flags.ipip && { ipip: true }), ...(flags.natOutgoing && { masquerade: true }) };
}

export function parsePoolCidr(text: string): Cidr {
  const cidr = parseCidr(text);
  if (!cidr) throw new CommandError(`Invalid CIDR specified ${text}`);
  return cidr;
}

/**
 * After pools with --ipip were added: Felix's IpInIpEnabled, as v0.23 set it (calico-node itself
 * follows each pool's own flag, src/agent/ipip/).
 */
export async function noteIpip(pools: readonly Pool[], ctx: CommandContext): Promise<void> {
  if (pools.some((pool) => pool.ipip)) await new ConfigStore(ctx.kv()).set({ component: 'felix' }, 'IpInIpEnabled', 'true');
}
