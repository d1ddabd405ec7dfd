import { ipamDriverHandlers, REQUEST_HANDLE_PREFIX } from '../../../../src/agent/plugin/ipam-driver';
import { IpamStore } from '../../../../src/datastore/ipam';
import { pluginContext } from './fakes';

function withPools(...pools: { cidr: string; disabled?: boolean }[]) {
  const setup = pluginContext();
  for (const pool of pools) {
    const version = pool.cidr.includes(':') ? 6 : 4;
    setup.kv.seed(`/calico/v1/ipam/v${version}/pool/${pool.cidr.replace('/', '-')}`, { cidr: pool.cidr, ...(pool.disabled && { disabled: true }) });
  }
  return { ...setup, handlers: ipamDriverHandlers(setup.ctx) };
}

describe('the IPAM driver', () => {
  it('tells Docker the pool is everything, with the pseudo gateway, so Docker never picks a gateway', async () => {
    const { handlers } = withPools({ cidr: '192.168.0.0/16' });
    expect(await handlers['/IpamDriver.RequestPool']!({ AddressSpace: 'CalicoLocalAddressSpace' })).toEqual({
      PoolID: 'CalicoPoolIPv4',
      Pool: '0.0.0.0/0',
      Data: { 'com.docker.network.gateway': '0.0.0.0/0' },
    });
    expect(await handlers['/IpamDriver.RequestPool']!({ V6: true })).toMatchObject({ PoolID: 'CalicoPoolIPv6', Pool: '::/0' });
    expect(await handlers['/IpamDriver.RequestAddress']!({ PoolID: 'CalicoPoolIPv4', Options: { RequestAddressType: 'com.docker.network.gateway' } })).toEqual({ Address: '0.0.0.0/0', Data: {} });
  });

  it('accepts --subnet only when it is a Calico pool, and refuses sub-pools', async () => {
    const { handlers } = withPools({ cidr: '10.1.0.0/16' });
    expect(await handlers['/IpamDriver.RequestPool']!({ Pool: '10.1.0.0/16' })).toMatchObject({ PoolID: '10.1.0.0/16' });
    await expect(handlers['/IpamDriver.RequestPool']!({ Pool: '10.2.0.0/16' })).rejects.toThrow("is not a Calico IP pool: add it with 'calicoctl pool add 10.2.0.0/16' first.");
    await expect(handlers['/IpamDriver.RequestPool']!({ Pool: 'bogus' })).rejects.toThrow(/is not a Calico IP pool/);
    await expect(handlers['/IpamDriver.RequestPool']!({ Pool: '10.1.0.0/16', SubPool: '10.1.1.0/24' })).rejects.toThrow(/sub-pools/);
  });

  it('assigns distinct host addresses, skipping the pool\'s first address, and records the host', async () => {
    const { handlers, kv } = withPools({ cidr: '10.1.0.0/16' });
    const first = await handlers['/IpamDriver.RequestAddress']!({ PoolID: 'CalicoPoolIPv4' });
    const second = await handlers['/IpamDriver.RequestAddress']!({ PoolID: 'CalicoPoolIPv4' });
    expect(first).toEqual({ Address: '10.1.0.1/32', Data: {} });
    expect(second).toEqual({ Address: '10.1.0.2/32', Data: {} });
    // From a block this host now holds.
    expect(JSON.parse(kv.data.get('/calico/ipam/v2/assignment/ipv4/block/10.1.0.0-26')!.value)).toMatchObject({ affinity: 'host:host1' });
    expect(kv.data.has('/calico/ipam/v2/host/host1/ipv4/block/10.1.0.0-26')).toBe(true);
  });

  it('records who asked for each address (a handle per RequestAddress, when and for which pool), so a lost reply leaves a findable orphan', async () => {
    const { handlers, kv } = withPools({ cidr: '10.1.0.0/16' });
    await handlers['/IpamDriver.RequestAddress']!({ PoolID: 'CalicoPoolIPv4' });
    await handlers['/IpamDriver.RequestAddress']!({ PoolID: 'CalicoPoolIPv4', Address: '10.1.9.9' });
    const ipam = new IpamStore(kv);
    const [first, chosen] = [await ipam.info('10.1.0.1'), await ipam.info('10.1.9.9')];
    for (const assignment of [first, chosen]) {
      expect(assignment.host).toBe('host1');
      expect(assignment.handle).toMatch(new RegExp(`^${REQUEST_HANDLE_PREFIX.replace('.', '\\.')}[0-9a-f-]{36}$`));
      expect(assignment.attributes).toEqual({ requested_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), pool_id: 'CalicoPoolIPv4' });
    }
    expect(first.handle).not.toBe(chosen.handle);
    // As stored: libcalico's handle_id in the block's attributes.
    const block = JSON.parse(kv.data.get('/calico/ipam/v2/assignment/ipv4/block/10.1.0.0-26')!.value);
    expect(block.attributes[block.allocations[1]].handle_id).toBe(first.handle);
  });

  it('gives a requested address when it is free and in a pool, and refuses it otherwise', async () => {
    const { handlers } = withPools({ cidr: '10.1.0.0/16' });
    expect(await handlers['/IpamDriver.RequestAddress']!({ PoolID: 'CalicoPoolIPv4', Address: '10.1.7.7' })).toEqual({ Address: '10.1.7.7/32', Data: {} });
    await expect(handlers['/IpamDriver.RequestAddress']!({ PoolID: 'CalicoPoolIPv4', Address: '10.1.7.7' })).rejects.toThrow(/already assigned/);
    await expect(handlers['/IpamDriver.RequestAddress']!({ PoolID: 'CalicoPoolIPv4', Address: '172.31.0.1' })).rejects.toThrow(/not in any Calico IP pool/);
  });

  it('never assigns from a disabled pool, and says so when there is no pool', async () => {
    const { handlers } = withPools({ cidr: '10.1.0.0/16', disabled: true });
    await expect(handlers['/IpamDriver.RequestAddress']!({ PoolID: 'CalicoPoolIPv4' })).rejects.toThrow(/No IPv4 pool/);
  });

  it('releases an address once, ignores the pseudo gateway and unassigned addresses', async () => {
    const { handlers, kv } = withPools({ cidr: '10.1.0.0/16' });
    await handlers['/IpamDriver.RequestAddress']!({ PoolID: 'CalicoPoolIPv4' });
    await handlers['/IpamDriver.ReleaseAddress']!({ PoolID: 'CalicoPoolIPv4', Address: '10.1.0.1/32' });
    expect(JSON.parse(kv.data.get('/calico/ipam/v2/assignment/ipv4/block/10.1.0.0-26')!.value).allocations[1]).toBeNull();
    const commits = kv.commits;
    for (const address of ['10.1.0.1', '0.0.0.0/0', '::/0', 'garbage', undefined]) {
      await expect(handlers['/IpamDriver.ReleaseAddress']!({ PoolID: 'CalicoPoolIPv4', Address: address })).resolves.toEqual({});
    }
    expect(kv.commits).toBe(commits);
  });
});
