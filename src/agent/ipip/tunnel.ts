import { cidrContains, parseCidr, parseIp } from '../../policy/cidr';

/**
 * IP-in-IP between hosts, the part Calico's BIRD did with `krt_tunnel` and Debian's BIRD cannot:
 * a route to each other host's address block inside an IPIP pool, through `tunl0`, `onlink` via
 * that host's address (so the next hop need not be on this host's subnet), and on `tunl0` this
 * host's tunnel address (IpInIpTunnelAddr), from which the host itself speaks into the tunnel.
 * Pure: the controller (controller.ts) folds etcd into an IpipModel, and the applier
 * (applier.ts) makes the kernel match what these functions return.
 */

export interface IpipPool {
  /** The pool's network, e.g. 10.65.0.0/16 (IPv4 only: IPIP is not offered for IPv6 pools). */
  readonly cidr: string;
  readonly ipip: boolean;
}

export interface IpipModel {
  readonly hostname: string;
  readonly pools: readonly IpipPool[];
  /** Each host's IPv4 address for routing: its BGP ip_addr_v4, else its bird_ip. */
  readonly hostAddresses: ReadonlyMap<string, string>;
  /** Every IPv4 block affinity: block → the host that holds it. */
  readonly blocks: ReadonlyMap<string, string>;
  /** This host's IpInIpTunnelAddr as etcd has it. */
  readonly tunnelAddress: string | undefined;
}

export interface TunnelRoute {
  readonly net: string;
  readonly via: string;
}

export interface DesiredTunnel {
  /** Whether tunl0 should be up at all: some IPv4 pool has ipip. */
  readonly enabled: boolean;
  /** The address tunl0 should hold (as a /32), if this host has a valid one. */
  readonly address: string | undefined;
  readonly routes: readonly TunnelRoute[];
  /**
   * Every IPv4 pool: an address of one of them on tunl0 is ours to remove once IPIP is off. Any
   * other (tunl0 is the kernel's, and may serve something else) is left alone.
   */
  readonly poolNets: readonly string[];
}

const ipipPools = (model: IpipModel) => model.pools.filter((pool) => pool.ipip && !pool.cidr.includes(':')).flatMap((pool) => parseCidr(pool.cidr) ?? []);

/** Whether an address lies in one of the model's IPIP pools. */
export function inIpipPool(model: IpipModel, address: string): boolean {
  return ipipPools(model).some((pool) => cidrContains(pool, address));
}

export function renderTunnel(model: IpipModel): DesiredTunnel {
  const pools = ipipPools(model);
  const poolNets = model.pools.filter((pool) => !pool.cidr.includes(':')).map((pool) => pool.cidr).sort();
  if (pools.length === 0) return { enabled: false, address: undefined, routes: [], poolNets };
  const own = model.hostAddresses.get(model.hostname);
  const routes: TunnelRoute[] = [];
  for (const [block, host] of model.blocks) {
    if (host === model.hostname) continue;
    const cidr = parseCidr(block);
    const via = model.hostAddresses.get(host);
    // A block is routed through the tunnel only inside an IPIP pool, as v0.23's BIRD filter did;
    // a host sharing this host's address (a stale record) would be a route back to itself.
    if (!cidr || cidr.version !== 4 || via === undefined || via === own || parseIp(via)?.version !== 4) continue;
    if (!pools.some((pool) => cidrContains(pool, cidr.text.split('/')[0] as string))) continue;
    routes.push({ net: `${cidr.text.split('/')[0]}/${cidr.prefixLength}`, via });
  }
  routes.sort((a, b) => (a.net < b.net ? -1 : a.net > b.net ? 1 : 0));
  const address = model.tunnelAddress !== undefined && parseIp(model.tunnelAddress)?.version === 4 && inIpipPool(model, model.tunnelAddress) ? model.tunnelAddress : undefined;
  return { enabled: true, address, routes, poolNets };
}

/**
 * What this host's IpInIpTunnelAddr needs (v0.23's `calicoctl node` did this once at start; the
 * agent does it whenever the pools change): a new address from an IPIP pool when there is an IPIP
 * pool and the stored one is missing or outside every IPIP pool (the old one released first), and
 * release and removal when no pool has IPIP any more.
 */
export type TunnelAddressAction = { readonly kind: 'keep' } | { readonly kind: 'assign'; readonly release: string | undefined } | { readonly kind: 'remove'; readonly release: string };

export function tunnelAddressAction(model: IpipModel): TunnelAddressAction {
  const enabled = ipipPools(model).length > 0;
  const current = model.tunnelAddress;
  const valid = current !== undefined && parseIp(current)?.version === 4 && inIpipPool(model, current);
  if (enabled) return valid ? { kind: 'keep' } : { kind: 'assign', release: current };
  return current === undefined ? { kind: 'keep' } : { kind: 'remove', release: current };
}
