import { networkDriverHandlers } from '../../../../src/agent/plugin/network-driver';
import { PluginError } from '../../../../src/agent/plugin/types';
import { pluginContext } from './fakes';

const NET = 'a'.repeat(64);
const EP = 'e1'.padEnd(64, '0');
const ENDPOINT_KEY = `/calico/v1/host/host1/workload/libnetwork/libnetwork/endpoint/${EP}`;

const CREATE = { NetworkID: NET, IPv4Data: [{ AddressSpace: 'x', Pool: '0.0.0.0/0', Gateway: '0.0.0.0/0' }] };

async function withNetwork() {
  const setup = pluginContext();
  const handlers = networkDriverHandlers(setup.ctx);
  await handlers['/NetworkDriver.CreateNetwork']!(CREATE);
  return { ...setup, handlers };
}

describe('the network driver', () => {
  it('answers a local scope', async () => {
    const { handlers } = await withNetwork();
    expect(await handlers['/NetworkDriver.GetCapabilities']!({})).toEqual({ Scope: 'local', ConnectivityScope: 'local' });
  });

  it('makes a network a profile with its own tag and the default rules, and deletes both', async () => {
    const { handlers, kv } = await withNetwork();
    expect(JSON.parse(kv.data.get(`/calico/v1/policy/profile/${NET}/tags`)!.value)).toEqual([NET]);
    const rules = JSON.parse(kv.data.get(`/calico/v1/policy/profile/${NET}/rules`)!.value);
    expect(rules).toEqual({ inbound_rules: [{ action: 'allow', src_tag: NET }], outbound_rules: [{ action: 'allow' }] });
    await handlers['/NetworkDriver.DeleteNetwork']!({ NetworkID: NET });
    expect([...kv.data.keys()].filter((key) => key.includes(NET))).toEqual([]);
  });

  it('creating a network twice is harmless (Docker retries)', async () => {
    const { handlers, kv } = await withNetwork();
    const before = kv.dump();
    await handlers['/NetworkDriver.CreateNetwork']!(CREATE);
    expect(kv.dump()).toEqual(before);
  });

  describe("Docker's default IPAM (a real gateway)", () => {
    const POOL_KEY = '/calico/v1/ipam/v4/pool/172.30.0.0-16';
    const DEFAULT = { NetworkID: NET, IPv4Data: [{ AddressSpace: 'LocalDefault', Pool: '172.30.0.0/16', Gateway: '172.30.0.1/16' }] };

    it('makes a pool Calico does not assign from, with --opt ipip and nat-outgoing, and removes it with the network', async () => {
      const { ctx, kv } = pluginContext();
      const handlers = networkDriverHandlers(ctx);
      await handlers['/NetworkDriver.CreateNetwork']!({ ...DEFAULT, Options: { 'com.docker.network.generic': { ipip: 'true', 'nat-outgoing': 'true' } } });
      expect(JSON.parse(kv.data.get(POOL_KEY)!.value)).toEqual({ cidr: '172.30.0.0/16', ipip: 'tunl0', masquerade: true, ipam: false });
      expect(kv.data.has(`/calico/v1/policy/profile/${NET}/rules`)).toBe(true);
      await handlers['/NetworkDriver.DeleteNetwork']!({ NetworkID: NET });
      expect(kv.data.has(POOL_KEY)).toBe(false);
      expect([...kv.data.keys()].filter((key) => key.includes(NET))).toEqual([]);
    });

    it('without options the pool has no flags; an endpoint gets the address Docker gave, and Join names no gateway', async () => {
      const { ctx, kv } = pluginContext();
      const handlers = networkDriverHandlers(ctx);
      await handlers['/NetworkDriver.CreateNetwork']!(DEFAULT);
      expect(JSON.parse(kv.data.get(POOL_KEY)!.value)).toEqual({ cidr: '172.30.0.0/16', ipam: false });
      await handlers['/NetworkDriver.CreateEndpoint']!({ NetworkID: NET, EndpointID: EP, Interface: { Address: '172.30.0.2/16' } });
      expect(JSON.parse(kv.data.get(ENDPOINT_KEY)!.value).ipv4_nets).toEqual(['172.30.0.2/32']);
      const reply = await handlers['/NetworkDriver.Join']!({ NetworkID: NET, EndpointID: EP });
      expect(reply).toEqual({ InterfaceName: { SrcName: `tmp${EP.slice(0, 11)}`, DstPrefix: 'cali' }, Gateway: '', GatewayIPv6: '' });
    });

    it('leaves a Calico pool of that exact CIDR as it is, and does not remove it with the network', async () => {
      const { ctx, kv } = pluginContext();
      await kv.commit([], [{ type: 'put', key: POOL_KEY, value: JSON.stringify({ cidr: '172.30.0.0/16' }) }]);
      const handlers = networkDriverHandlers(ctx);
      await handlers['/NetworkDriver.CreateNetwork']!({ ...DEFAULT, Options: { 'com.docker.network.generic': { 'nat-outgoing': 'true' } } });
      expect(JSON.parse(kv.data.get(POOL_KEY)!.value)).toEqual({ cidr: '172.30.0.0/16' });
      await handlers['/NetworkDriver.DeleteNetwork']!({ NetworkID: NET });
      expect(JSON.parse(kv.data.get(POOL_KEY)!.value)).toEqual({ cidr: '172.30.0.0/16' });
    });

    it('refuses a subnet that overlaps another pool, and writes nothing', async () => {
      const { ctx, kv } = pluginContext();
      await kv.commit([], [{ type: 'put', key: '/calico/v1/ipam/v4/pool/172.30.0.0-24', value: JSON.stringify({ cidr: '172.30.0.0/24' }) }]);
      const before = kv.dump();
      const create = networkDriverHandlers(ctx)['/NetworkDriver.CreateNetwork']!;
      await expect(create(DEFAULT)).rejects.toThrow(new PluginError('Cannot add IP pool 172.30.0.0/16 - pool overlaps with an existing pool 172.30.0.0/24'));
      expect(kv.dump()).toEqual(before);
    });

    it('refuses a subnet that is not a CIDR of its family, and writes nothing', async () => {
      const { ctx, kv } = pluginContext();
      const create = networkDriverHandlers(ctx)['/NetworkDriver.CreateNetwork']!;
      await expect(create({ NetworkID: NET, IPv4Data: [{ Gateway: '10.0.0.1/24', Pool: 'fd00::/64' }] })).rejects.toThrow(/Invalid IPv4Data pool "fd00::\/64"/);
      await expect(create({ NetworkID: NET, IPv4Data: [{ Gateway: '10.0.0.1/24' }] })).rejects.toThrow(/Invalid IPv4Data pool/);
      expect(kv.commits).toBe(0);
    });
  });

  it('refuses IDs that could not be etcd key segments, before writing anything', async () => {
    const { handlers, kv } = await withNetwork();
    const commits = kv.commits;
    for (const id of ['', '../x', 'a/b', 'a b', 42]) {
      await expect(handlers['/NetworkDriver.CreateNetwork']!({ NetworkID: id })).rejects.toBeInstanceOf(PluginError);
      await expect(handlers['/NetworkDriver.CreateEndpoint']!({ NetworkID: NET, EndpointID: id, Interface: { Address: '10.0.0.1/32' } })).rejects.toBeInstanceOf(PluginError);
    }
    expect(kv.commits).toBe(commits);
  });

  it('writes an endpoint with the host veth name, the fixed MAC and /32 and /128 nets', async () => {
    const { handlers, kv } = await withNetwork();
    const reply = await handlers['/NetworkDriver.CreateEndpoint']!({ NetworkID: NET, EndpointID: EP, Interface: { Address: '192.168.0.5/16', AddressIPv6: 'fd80::5/64' } });
    expect(reply).toEqual({ Interface: { MacAddress: 'EE:EE:EE:EE:EE:EE' } });
    expect(JSON.parse(kv.data.get(ENDPOINT_KEY)!.value)).toMatchObject({
      state: 'active',
      name: `cali${EP.slice(0, 11)}`,
      mac: 'EE:EE:EE:EE:EE:EE',
      profile_ids: [NET],
      ipv4_nets: ['192.168.0.5/32'],
      ipv6_nets: ['fd80::5/128'],
    });
  });

  it('keeps a MAC that Docker chose itself', async () => {
    const { handlers } = await withNetwork();
    const reply = await handlers['/NetworkDriver.CreateEndpoint']!({ NetworkID: NET, EndpointID: EP, Interface: { Address: '192.168.0.5', MacAddress: '02:42:ac:11:00:02' } });
    expect(reply).toEqual({ Interface: {} });
  });

  it('refuses an endpoint without an address, with a wrong-family address, or on an unknown network', async () => {
    const { handlers, kv } = await withNetwork();
    const commits = kv.commits;
    const create = handlers['/NetworkDriver.CreateEndpoint']!;
    await expect(create({ NetworkID: NET, EndpointID: EP, Interface: {} })).rejects.toThrow(/has no address/);
    await expect(create({ NetworkID: NET, EndpointID: EP, Interface: { Address: 'fd80::1' } })).rejects.toThrow(/Invalid IPv4 address/);
    await expect(create({ NetworkID: 'b'.repeat(64), EndpointID: EP, Interface: { Address: '192.168.0.5' } })).rejects.toThrow(/does not exist/);
    expect(kv.commits).toBe(commits);
  });

  it('joins with a veth pair, the link-local gateway and its static route; leave deletes the host end', async () => {
    const { handlers, runner } = await withNetwork();
    await handlers['/NetworkDriver.CreateEndpoint']!({ NetworkID: NET, EndpointID: EP, Interface: { Address: '192.168.0.5' } });
    const host = `cali${EP.slice(0, 11)}`;
    const temp = `tmp${EP.slice(0, 11)}`;
    const reply = await handlers['/NetworkDriver.Join']!({ NetworkID: NET, EndpointID: EP, SandboxKey: '/var/run/docker/netns/x' });
    expect(reply).toEqual({
      InterfaceName: { SrcName: temp, DstPrefix: 'cali' },
      Gateway: '169.254.1.1',
      StaticRoutes: [{ Destination: '169.254.1.1/32', RouteType: 1, NextHop: '' }],
    });
    expect(runner.calls).toContain(`ip link add ${host} type veth peer name ${temp}`);
    expect(runner.calls).toContain(`ip link set ${temp} address ee:ee:ee:ee:ee:ee`);
    expect(runner.calls).toContain(`ip link set ${host} up`);
    await handlers['/NetworkDriver.Leave']!({ NetworkID: NET, EndpointID: EP });
    expect(runner.links.has(host)).toBe(false);
    // Docker retries Leave: a link that is already gone is fine.
    await expect(handlers['/NetworkDriver.Leave']!({ NetworkID: NET, EndpointID: EP })).resolves.toEqual({});
  });

  it('gives an IPv6 endpoint the host end\'s link-local address as its gateway', async () => {
    const { handlers } = await withNetwork();
    await handlers['/NetworkDriver.CreateEndpoint']!({ NetworkID: NET, EndpointID: EP, Interface: { AddressIPv6: 'fd80::5' } });
    const reply = (await handlers['/NetworkDriver.Join']!({ NetworkID: NET, EndpointID: EP })) as Record<string, unknown>;
    expect(reply.GatewayIPv6).toBe('fe80::ecee:eeff:feee:eeee');
    expect(reply.StaticRoutes).toContainEqual({ Destination: 'fe80::ecee:eeff:feee:eeee/128', RouteType: 1, NextHop: '' });
  });

  it('deletes the endpoint key, and a second delete is harmless', async () => {
    const { handlers, kv } = await withNetwork();
    await handlers['/NetworkDriver.CreateEndpoint']!({ NetworkID: NET, EndpointID: EP, Interface: { Address: '192.168.0.5' } });
    await handlers['/NetworkDriver.DeleteEndpoint']!({ NetworkID: NET, EndpointID: EP });
    expect(kv.data.has(ENDPOINT_KEY)).toBe(false);
    await expect(handlers['/NetworkDriver.DeleteEndpoint']!({ NetworkID: NET, EndpointID: EP })).resolves.toEqual({});
  });
});
