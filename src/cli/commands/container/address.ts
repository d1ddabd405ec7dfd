import { AlreadyExistsError } from '../../../datastore/errors';
import { IpamError, IpamStore } from '../../../datastore/ipam';
import { PoolStore } from '../../../datastore/pools';
import type { Cidr } from '../../../policy/ast';
import { cidrNetworkText, parseCidr, parseIp, sameCidr } from '../../../policy/cidr';
import type { CommandContext } from '../../context';
import { CommandError } from '../../errors';

/** What `<IP>` asks for: that address, any free one of a family, or any free one of one pool. */
export type AddressRequest =
  | { readonly kind: 'address'; readonly version: 4 | 6; readonly address: string }
  | { readonly kind: 'family'; readonly version: 4 | 6 }
  | { readonly kind: 'pool'; readonly version: 4 | 6; readonly cidr: Cidr };

const INVALID = 'Invalid IP address specified.  Argument must be a valid IP or CIDR.';

/** `<IP>` of `container add` and `container <CONTAINER> ip add`; a CIDR must be an existing pool's, exactly. */
export async function addressRequest(text: string, ctx: CommandContext): Promise<AddressRequest> {
  const lower = text.toLowerCase();
  if (lower === 'ipv4' || lower === 'ipv6') return { kind: 'family', version: lower === 'ipv4' ? 4 : 6 };
  if (text.includes('/')) {
    const cidr = parseCidr(text);
    if (!cidr) throw new CommandError(INVALID);
    const pools = await new PoolStore(ctx.kv(), ctx.report).list(cidr.version);
    const pool = pools.find((p) => sameCidr(p.cidr, cidr));
    if (!pool) throw new CommandError(`Invalid CIDR specified for desired pool. No pool found for ${cidrNetworkText(cidr)}.`);
    return { kind: 'pool', version: cidr.version, cidr: pool.cidr };
  }
  return { kind: 'address', ...plainAddress(text) };
}

/** `<IP>` of `container <CONTAINER> ip remove`: one address. */
export function plainAddress(text: string): { version: 4 | 6; address: string } {
  const ip = parseIp(text);
  if (!ip) throw new CommandError(INVALID);
  return { version: ip.version, address: ip.text };
}

/** Assigns the address asked for, for `host`, recording which container it is for. */
export async function assignAddress(request: AddressRequest, host: string, workload: string, ctx: CommandContext): Promise<{ version: 4 | 6; address: string }> {
  const ipam = new IpamStore(ctx.kv(), ctx.report);
  const attributes = { orchestrator: 'docker', workload };
  try {
    const assigned =
      request.kind === 'address'
        ? await ipam.assignAddress(request.address, host, attributes)
        : await ipam.assign(request.version, host, request.kind === 'pool' ? request.cidr.text : undefined, attributes);
    return { version: request.version, address: assigned.address };
  } catch (error) {
    // IPAM's own words, which name the address or the pools; the original's for a taken address.
    if (error instanceof AlreadyExistsError && request.kind === 'address') throw new CommandError(`IP address ${request.address} is already assigned.`);
    if (error instanceof IpamError) throw new CommandError(error.message);
    throw error;
  }
}

/** Frees addresses this command assigned, when a later step failed; a failure here must not hide the first one. */
export async function releaseQuietly(ctx: CommandContext, addresses: readonly string[]): Promise<void> {
  const ipam = new IpamStore(ctx.kv(), ctx.report);
  for (const address of addresses) {
    try {
      await ipam.release(address);
    } catch (error) {
      ctx.io.err.write(`Warning: could not release ${address} (${(error as Error).message}); 'calicoctl diags --check --fix' will.\n`);
    }
  }
}
