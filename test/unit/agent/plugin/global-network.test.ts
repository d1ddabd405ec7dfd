import { IpamStore } from '../../../../src/datastore/ipam';
import { ipamDriverHandlers } from '../../../../src/agent/plugin/ipam-driver';
import { networkDriverHandlers } from '../../../../src/agent/plugin/network-driver';
import type { Handlers } from '../../../../src/agent/plugin/types';
import { MemoryKvStore } from '../../../fakes/memory-kv';
import { pluginContext } from './fakes';

const NET = 'a'.repeat(64);
const STORE = 'etcd://10.200.0.254:2379';
const POOL_KEY = '/calico/v1/ipam/v4/pool/192.168.0.0-16';

/** Three hosts whose engines share a cluster store, and whose plugins share one etcd. */
function cluster() {
  const kv = new MemoryKvStore();
  kv.seed(POOL_KEY, { cidr: '192.168.0.0/16' });
  return ['host1', 'host2', 'host3'].map((name) => {
    const host = pluginContext(name, undefined, kv);
    host.engine.answer = STORE;
    return { ...host, name, plugin: { ...networkDriverHandlers(host.ctx), ...ipamDriverHandlers(host.ctx) } as Handlers };
  });
}

const call = (plugin: Handlers, path: string, request: Record<string, unknown> = {}) => plugin[path]!(request) as Promise<Record<string, unknown>>;

/** What Docker asks of the host a container runs on, when the network was made elsewhere. */
async function runContainer(plugin: Handlers, endpointId: string): Promise<string> {
  const { Address } = (await call(plugin, '/IpamDriver.RequestAddress', { PoolID: 'CalicoPoolIPv4', Address: '', Options: {} })) as { Address: string };
  await call(plugin, '/NetworkDriver.CreateEndpoint', { NetworkID: NET, EndpointID: endpointId, Interface: { Address, AddressIPv6: '', MacAddress: '' }, Options: {} });
  await call(plugin, '/NetworkDriver.Join', { NetworkID: NET, EndpointID: endpointId, SandboxKey: '/var/run/docker/netns/x', Options: {} });
  return Address;
}

async function removeContainer(plugin: Handlers, endpointId: string, address: string): Promise<void> {
  await call(plugin, '/NetworkDriver.Leave', { NetworkID: NET, EndpointID: endpointId });
  await call(plugin, '/NetworkDriver.DeleteEndpoint', { NetworkID: NET, EndpointID: endpointId });
  await call(plugin, '/IpamDriver.ReleaseAddress', { PoolID: 'CalicoPoolIPv4', Address: address });
}

describe('a global network, made on one host and used on all', () => {
  it('serves containers on hosts that never saw CreateNetwork, and leaves no key behind', async () => {
    const hosts = cluster();
    const [h1, h2, h3] = hosts as [(typeof hosts)[0], (typeof hosts)[0], (typeof hosts)[0]];
    const kv = h1.kv;
    const before = [...kv.data.keys()].sort();
    for (const host of hosts) expect(await call(host.plugin, '/NetworkDriver.GetCapabilities')).toEqual({ Scope: 'global', ConnectivityScope: 'global' });

    // Only the creating host's plugin hears of the network.
    const pool = await call(h1.plugin, '/IpamDriver.RequestPool', { AddressSpace: 'CalicoGlobalAddressSpace', Pool: '', SubPool: '', Options: {}, V6: false });
    expect(pool.PoolID).toBe('CalicoPoolIPv4');
    await call(h1.plugin, '/IpamDriver.RequestAddress', { PoolID: pool.PoolID, Address: '', Options: { RequestAddressType: 'com.docker.network.gateway' } });
    await call(h1.plugin, '/NetworkDriver.CreateNetwork', { NetworkID: NET, IPv4Data: [{ AddressSpace: 'CalicoGlobalAddressSpace', Pool: '0.0.0.0/0', Gateway: '0.0.0.0/0' }], IPv6Data: [], Options: {} });
    // Every host hears of every node.
    for (const host of hosts) {
      for (const other of hosts) {
        expect(await call(host.plugin, '/NetworkDriver.DiscoverNew', { DiscoveryType: 1, DiscoveryData: { Address: other.name, self: other === host } })).toEqual({});
      }
    }

    const e2 = '2'.repeat(64);
    const e3 = '3'.repeat(64);
    const a2 = await runContainer(h2.plugin, e2);
    const a3 = await runContainer(h3.plugin, e3);
    expect(a2).not.toBe(a3);
    for (const [host, endpointId, address] of [[h2, e2, a2], [h3, e3, a3]] as const) {
      const key = `/calico/v1/host/${host.name}/workload/libnetwork/libnetwork/endpoint/${endpointId}`;
      expect(JSON.parse(kv.data.get(key)!.value)).toMatchObject({ profile_ids: [NET], ipv4_nets: [address] });
      expect(await new IpamStore(kv).info(address.split('/')[0] as string)).toMatchObject({ host: host.name, blockHost: host.name });
    }

    await removeContainer(h2.plugin, e2, a2);
    await removeContainer(h3.plugin, e3, a3);
    await call(h1.plugin, '/IpamDriver.ReleaseAddress', { PoolID: 'CalicoPoolIPv4', Address: '0.0.0.0' });
    await call(h1.plugin, '/IpamDriver.ReleasePool', { PoolID: 'CalicoPoolIPv4' });
    await call(h1.plugin, '/NetworkDriver.DeleteNetwork', { NetworkID: NET });
    for (const host of hosts) expect(await call(host.plugin, '/NetworkDriver.DiscoverDelete', { DiscoveryType: 1, DiscoveryData: {} })).toEqual({});
    // Each host keeps the block it claimed (empty now), as it keeps announcing it; nothing else stays.
    const ipam = new IpamStore(kv);
    expect(await ipam.list(4)).toEqual([]);
    expect([...kv.data.keys()].filter((key) => !key.startsWith('/calico/ipam/v2/')).sort()).toEqual(before);
  });

  it('refuses an endpoint on a network that no host created', async () => {
    const [, h2] = cluster();
    await expect(runContainer(h2!.plugin, '2'.repeat(64))).rejects.toThrow(`Network ${NET} does not exist.`);
  });
});
