import { decodeEndpoint, EndpointWriter, type Endpoint } from '../../datastore/endpoints';
import * as keys from '../../datastore/keys';
import { ProfileStore } from '../../datastore/profiles';
import { libnetworkKey, NetworkRecords } from '../../datastore/libnetwork';
import { PoolStore } from '../../datastore/pools';
import { type Cidr, isValidName } from '../../policy/ast';
import { cidrNetworkText, parseCidr, parseIp } from '../../policy/cidr';
import { escapeControls } from '../../errors';
import { ScopeOracle } from './scope';
import type { PluginContext, Handlers } from './types';
import { PluginError } from './types';

import { GATEWAY_IPV4, hostVethName, tempVethName } from '../../host/links';

export { GATEWAY_IPV4, hostVethName, tempVethName };
export const ORCHESTRATOR = 'libnetwork';
export const INTERFACE_PREFIX = 'cali';

const endpointKey = (ctx: PluginContext, endpointId: string) => ({
  hostname: ctx.hostname,
  orchestrator: ORCHESTRATOR,
  workload: ORCHESTRATOR,
  endpoint: endpointId,
});

/**
 * Docker's remote NetworkDriver, as Calico answered it: a network is a profile named by the
 * network ID; an endpoint is a workload endpoint in etcd plus a veth pair. Every handler is
 * idempotent, because Docker retries and rolls back.
 */
export function networkDriverHandlers(ctx: PluginContext): Handlers {
  const profiles = new ProfileStore(ctx.kv);
  const endpoints = new EndpointWriter(ctx.kv);
  const records = new NetworkRecords(ctx.kv);
  const pools = new PoolStore(ctx.kv);
  const scope = new ScopeOracle(ctx.engine, ctx.log, undefined, ctx.scopeMemory);
  scope.prime();

  return {
    // With a global scope, only the creating host's plugin gets CreateNetwork and DeleteNetwork;
    // the other hosts find the network's record and profile in etcd when a container joins.
    '/NetworkDriver.GetCapabilities': async () => {
      const answer = await scope.scope();
      return { Scope: answer, ConnectivityScope: answer };
    },

    '/NetworkDriver.CreateNetwork': async (request) => {
      const networkId = requireId(request, 'NetworkID');
      // Docker's own IPAM numbered this network (v0.23's Python plugin took that too): Calico gets
      // a pool for each of its subnets that it does not assign from (ipam false), so that the
      // dataplane knows them as pools (outgoing NAT, IPIP), with the flags given as --opt.
      const subnets = dockerIpamSubnets(request);
      const flags = genericOptions(request);
      const made: Cidr[] = [];
      try {
        for (const cidr of subnets) {
          const pool = { cidr, ipam: false, ...(flags.ipip && cidr.version === 4 && { ipip: true }), ...(flags.natOutgoing && { masquerade: true }) };
          if (await pools.addUnlessPresent(pool)) made.push(cidr);
          else ctx.log.info(`Network ${networkId}: pool ${cidrNetworkText(cidr)} exists already and is left as it is`);
        }
        await profiles.create(networkId);
        await records.put(networkId, request);
      } catch (error) {
        // Docker rolls back with DeleteNetwork only when we answered; nothing half made stays.
        for (const cidr of made) await pools.removeUnassigned(cidr).catch(() => false);
        throw error instanceof PluginError ? error : new PluginError((error as Error).message);
      }
      const note = made.length > 0 ? `, with the pools ${made.map(cidrNetworkText).join(', ')} (Docker's IPAM)` : '';
      ctx.log.info(`Created network ${networkId} and its profile${note}`);
      return {};
    },

    '/NetworkDriver.DeleteNetwork': async (request) => {
      const networkId = requireId(request, 'NetworkID');
      const record = await records.get(networkId);
      await profiles.remove(networkId);
      // Only the pools CreateNetwork makes: for Docker's IPAM, and still not assigned from.
      for (const cidr of typeof record === 'object' && record !== null ? dockerIpamSubnets(record as Record<string, unknown>) : []) {
        if (await pools.removeUnassigned(cidr)) ctx.log.info(`Network ${networkId}: removed its pool ${cidrNetworkText(cidr)}`);
      }
      await records.remove(networkId);
      ctx.log.info(`Deleted network ${networkId} and its profile`);
      return {};
    },

    '/NetworkDriver.CreateEndpoint': async (request) => {
      const networkId = requireId(request, 'NetworkID');
      const endpointId = requireId(request, 'EndpointID');
      const iface = (typeof request.Interface === 'object' && request.Interface !== null ? request.Interface : {}) as { Address?: unknown; AddressIPv6?: unknown; MacAddress?: unknown };
      const ipv4 = hostAddress(iface.Address, 4);
      const ipv6 = hostAddress(iface.AddressIPv6, 6);
      if (!ipv4 && !ipv6) throw new PluginError('The endpoint has no address: use the calico IPAM driver (--ipam-driver calico).');
      const endpoint: Endpoint = {
        ...endpointKey(ctx, endpointId),
        state: 'active',
        name: hostVethName(endpointId),
        mac: 'EE:EE:EE:EE:EE:EE',
        profileIds: [networkId],
        ipv4Nets: ipv4 ? [`${ipv4}/32`] : [],
        ipv6Nets: ipv6 ? [`${ipv6}/128`] : [],
        labels: {},
      };
      if (!(await endpoints.put(endpoint, libnetworkKey(networkId)))) throw new PluginError(`Network ${networkId} does not exist.`);
      ctx.log.info(`Created endpoint ${endpointId} on network ${networkId} with ${[...endpoint.ipv4Nets, ...endpoint.ipv6Nets].join(', ')}`);
      // libnetwork refuses a MAC from the driver when it already chose one itself.
      return iface.MacAddress ? { Interface: {} } : { Interface: { MacAddress: 'EE:EE:EE:EE:EE:EE' } };
    },

    '/NetworkDriver.DeleteEndpoint': async (request) => {
      const endpointId = requireId(request, 'EndpointID');
      await endpoints.remove(endpointKey(ctx, endpointId));
      ctx.log.info(`Deleted endpoint ${endpointId}`);
      return {};
    },

    '/NetworkDriver.EndpointOperInfo': async () => ({ Value: {} }),

    '/NetworkDriver.Join': async (request) => {
      const endpointId = requireId(request, 'EndpointID');
      const hostName = hostVethName(endpointId);
      const tempName = tempVethName(endpointId);
      await ctx.links.createVeth(hostName, tempName);
      const response: Record<string, unknown> = {
        InterfaceName: { SrcName: tempName, DstPrefix: INTERFACE_PREFIX },
        Gateway: GATEWAY_IPV4,
        StaticRoutes: [{ Destination: `${GATEWAY_IPV4}/32`, RouteType: 1, NextHop: '' }],
      };
      if (typeof request.NetworkID === 'string' && isValidName(request.NetworkID)) {
        const record = await records.get(request.NetworkID);
        if (typeof record === 'object' && record !== null && dockerIpamSubnets(record as Record<string, unknown>).length > 0) {
          // Docker's IPAM gave the address and its subnet: as v0.23, no gateway of ours; Docker
          // adds its own gateway interface (docker_gwbridge) for the rest.
          ctx.log.info(`Joined endpoint ${endpointId} (Docker's IPAM): ${hostName} <-> ${tempName}`);
          return { InterfaceName: { SrcName: tempName, DstPrefix: INTERFACE_PREFIX }, Gateway: '', GatewayIPv6: '' };
        }
      }
      const key = endpointKey(ctx, endpointId);
      const stored = await ctx.kv.get(keys.endpointKey(key));
      if (stored && decodeEndpoint(key, keys.endpointKey(key), stored.value).ipv6Nets.length > 0) {
        // The host end only gets its link-local address once the pair has carrier: bring the temp end up.
        await ctx.links.setUp(tempName);
        const gateway = await ctx.links.linkLocalAddress(hostName);
        if (gateway) {
          response.GatewayIPv6 = gateway;
          (response.StaticRoutes as object[]).push({ Destination: `${gateway}/128`, RouteType: 1, NextHop: '' });
        }
      }
      ctx.log.info(`Joined endpoint ${endpointId}: ${hostName} <-> ${tempName}`);
      return response;
    },

    '/NetworkDriver.Leave': async (request) => {
      const endpointId = requireId(request, 'EndpointID');
      await ctx.links.deleteLink(hostVethName(endpointId));
      return {};
    },

    '/NetworkDriver.ProgramExternalConnectivity': async () => ({}),
    '/NetworkDriver.RevokeExternalConnectivity': async () => ({}),
    '/NetworkDriver.DiscoverNew': async () => ({}),
    '/NetworkDriver.DiscoverDelete': async () => ({}),
    '/NetworkDriver.AllocateNetwork': async () => ({}),
    '/NetworkDriver.FreeNetwork': async () => ({}),
  };
}

const ANY_ROUTE = { IPv4Data: '0.0.0.0/0', IPv6Data: '::/0' } as const;

/**
 * The subnets of a CreateNetwork request that Docker's own IPAM chose: Calico IPAM answers every
 * pool with the 0.0.0.0/0 (::/0) pseudo gateway, so any other gateway means another IPAM.
 */
function dockerIpamSubnets(request: Record<string, unknown>): Cidr[] {
  const subnets: Cidr[] = [];
  for (const [field, anyRoute] of Object.entries(ANY_ROUTE)) {
    const data = Array.isArray(request[field]) ? (request[field] as unknown[]) : [];
    for (const entry of data) {
      const { Pool: pool, Gateway: gateway } = (typeof entry === 'object' && entry !== null ? entry : {}) as { Pool?: unknown; Gateway?: unknown };
      if (gateway === undefined || gateway === '' || gateway === anyRoute) continue;
      const cidr = typeof pool === 'string' ? parseCidr(pool) : undefined;
      if (!cidr || cidr.version !== (field === 'IPv4Data' ? 4 : 6)) throw new PluginError(`Invalid ${field} pool ${escapeControls(JSON.stringify(pool) ?? '')} in the request.`);
      subnets.push(cidr);
    }
  }
  return subnets;
}

/** `--opt ipip=true` and `--opt nat-outgoing=true` of `docker network create` (any other value is false). */
function genericOptions(request: Record<string, unknown>): { ipip: boolean; natOutgoing: boolean } {
  const options = typeof request.Options === 'object' && request.Options !== null ? (request.Options as Record<string, unknown>) : {};
  const generic = options['com.docker.network.generic'];
  const opts = typeof generic === 'object' && generic !== null ? (generic as Record<string, unknown>) : {};
  const on = (value: unknown) => value === true || (typeof value === 'string' && value.toLowerCase() === 'true');
  return { ipip: on(opts.ipip), natOutgoing: on(opts['nat-outgoing']) };
}

/**
 * Docker IDs are 64 hex characters; anything that is not a valid name never reaches etcd keys, and
 * nothing much longer than an ID either (a megabyte of name would be a megabyte of key).
 */
const MAX_ID_LENGTH = 256;

function requireId(request: Record<string, unknown>, field: string): string {
  const value = request[field];
  if (typeof value !== 'string' || value === '' || value.length > MAX_ID_LENGTH || !isValidName(value)) {
    throw new PluginError(`Missing or invalid ${field} in the request.`);
  }
  return value;
}

/** The host address out of `a.b.c.d/len` (Docker may add the pool's mask), or undefined. */
function hostAddress(value: unknown, version: 4 | 6): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const parsed = typeof value === 'string' ? parseIp(value.split('/')[0] ?? '') : undefined;
  if (!parsed || parsed.version !== version) throw new PluginError(`Invalid IPv${version} address ${JSON.stringify(value)} in the request.`);
  return parsed.text;
}
