import { HostStore } from '../../../src/datastore/hosts';
import { PoolStore } from '../../../src/datastore/pools';
import { parseCidr } from '../../../src/policy/cidr';
import { MemoryKvStore } from '../../fakes/memory-kv';

const poolKeys = (kv: MemoryKvStore) => Object.keys(kv.dump()).filter((key) => key.includes('/pool/')).sort();

describe('HostStore.ensureDefaultPools', () => {
  it('makes the default IPv4 pool, and the IPv6 one only when the kernel has IPv6', async () => {
    const without = new MemoryKvStore();
    expect(await new HostStore(without).ensureDefaultPools({ noDefaultPools: false, ipv6: false })).toEqual(['192.168.0.0/16']);
    expect(poolKeys(without)).toEqual(['/calico/v1/ipam/v4/pool/192.168.0.0-16']);
    const withIpv6 = new MemoryKvStore();
    expect(await new HostStore(withIpv6).ensureDefaultPools({ noDefaultPools: false, ipv6: true })).toEqual(['192.168.0.0/16', 'fd80:24e2:f998:72d6::/64']);
    expect((await new PoolStore(withIpv6).list(6)).map((pool) => pool.cidr.text)).toEqual(['fd80:24e2:f998:72d6::/64']);
  });

  it('makes none for a family that has a pool, and none at all with NO_DEFAULT_POOLS', async () => {
    const kv = new MemoryKvStore();
    await new PoolStore(kv).add([{ cidr: parseCidr('fd65::/64')! }]);
    expect(await new HostStore(kv).ensureDefaultPools({ noDefaultPools: false, ipv6: true })).toEqual(['192.168.0.0/16']);
    expect(poolKeys(kv)).toEqual(['/calico/v1/ipam/v4/pool/192.168.0.0-16', '/calico/v1/ipam/v6/pool/fd65::-64']);
    const none = new MemoryKvStore();
    expect(await new HostStore(none).ensureDefaultPools({ noDefaultPools: true, ipv6: true })).toEqual([]);
    expect(poolKeys(none)).toEqual([]);
  });

  it('lets one of several hosts starting together make each default pool', async () => {
    const kv = new MemoryKvStore();
    const made = await Promise.all(Array.from({ length: 5 }, () => new HostStore(kv).ensureDefaultPools({ noDefaultPools: false, ipv6: true })));
    expect(made.flat().sort()).toEqual(['192.168.0.0/16', 'fd80:24e2:f998:72d6::/64']);
    expect(poolKeys(kv)).toHaveLength(2);
  });
});
