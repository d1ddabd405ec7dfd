import { IpamStore } from '../../../src/datastore/ipam';
import { TunnelAddressStore } from '../../../src/datastore/tunnel-address';
import { MemoryKvStore } from '../../fakes/memory-kv';

const KEY = '/calico/v1/host/host1/config/IpInIpTunnelAddr';

async function withPools(): Promise<MemoryKvStore> {
  const kv = new MemoryKvStore();
  await kv.commit([], [
    { type: 'put', key: '/calico/v1/ipam/v4/pool/10.65.0.0-16', value: '{"cidr": "10.65.0.0/16", "ipip": "tunl0"}' },
    { type: 'put', key: '/calico/v1/ipam/v4/pool/10.66.0.0-16', value: '{"cidr": "10.66.0.0/16"}' },
  ]);
  return kv;
}

describe('the tunnel address store', () => {
  it('assigns an address from an IPIP pool for the host, once', async () => {
    const kv = await withPools();
    const store = new TunnelAddressStore(kv, () => undefined);
    const address = await store.ensure('host1', ['10.65.0.0/16']);
    expect(address).toMatch(/^10\.65\.0\./);
    expect((await kv.get(KEY))?.value).toBe(address);
    expect(await store.ensure('host1', ['10.65.0.0/16'])).toBe(address);
    expect(await new IpamStore(kv).info(address)).toMatchObject({ host: 'host1' });
  });

  it('two agents racing for one host end with one address, and the loser gives its own back', async () => {
    const kv = await withPools();
    const [a, b] = await Promise.all([new TunnelAddressStore(kv, () => undefined).ensure('host1', ['10.65.0.0/16']), new TunnelAddressStore(kv, () => undefined).ensure('host1', ['10.65.0.0/16'])]);
    expect(a).toBe(b);
    expect((await new IpamStore(kv).list(4)).map((x) => x.address)).toEqual([a]);
  });

  it('replaces an address outside the IPIP pools, releasing it, and remove() releases and deletes', async () => {
    const kv = await withPools();
    const ipam = new IpamStore(kv);
    const old = (await ipam.assign(4, 'host1', '10.66.0.0/16')).address;
    await kv.commit([], [{ type: 'put', key: KEY, value: old }]);
    const store = new TunnelAddressStore(kv, () => undefined);
    const address = await store.ensure('host1', ['10.65.0.0/16']);
    expect(address).toMatch(/^10\.65\./);
    await expect(ipam.info(old)).rejects.toThrow(/not currently assigned/);
    expect(await store.remove('host1')).toBe(true);
    expect(await kv.get(KEY)).toBeUndefined();
    await expect(ipam.info(address)).rejects.toThrow(/not currently assigned/);
    expect(await store.remove('host1')).toBe(false);
  });
});
