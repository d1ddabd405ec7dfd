import type { Cidr } from '../../../policy/ast';
import { parseCidr } from '../../../policy/cidr';
import type { Pool } from '../../../datastore/pools';
import { CommandError } from '../../errors';
import type { OptionSpec } from '../../spec';

/** The pool options `pool add` and `pool range add` take. */
export interface PoolFlags {
  ipip?: boolean;
  natOutgoing?: boolean;
}

export const POOL_OPTIONS: readonly OptionSpec[] = [
  { flags: '--ipip', description: 'use IP-in-IP encapsulation across hosts (IPv4 only)' },
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
