import { decodeEndpoint, EndpointWriter, type Endpoint } from '../../datastore/endpoints';
import * as keys from '../../datastore/keys';
import { ProfileStore } from '../../datastore/profiles';
import { libnetworkKey, NetworkRecords } from '../../datastore/libnetwork';
import { isValidName } from '../../policy/ast';
import { parseIp } from '../../policy/cidr';
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
      for (const [field, anyRoute] of [['IPv4Data', '0.0.0.0/0'], ['IPv6Data', '::/0']] as const) {
        const data = Array.isArray(request[field]) ? (request[field] as unknown[]) : [];
        const gateways = data.map((entry) => (typeof entry === 'object' && entry !== null ? (entry as { Gateway?: unknown }).Gateway : undefined));
        if (gateways.some((gateway) => gateway !== undefined && gateway !== '' && gateway !== anyRoute)) {
          throw new PluginError('The calico network driver needs Calico IPAM: create the network with --driver calico --ipam-driver calico.');
        }
      }
      await profiles.create(networkId);
      await records.put(networkId, request);
      ctx.log.info(`Created network ${networkId} and its profile`);
      return {};
    },

    '/NetworkDriver.DeleteNetwork': async (request) => {
      const networkId = requireId(request, 'NetworkID');
      await profiles.remove(networkId);
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
