import { EndpointStore } from '../../../src/datastore/endpoints';
import { CorruptDataError, reportOnce } from '../../../src/datastore/errors';
import { HostStore } from '../../../src/datastore/hosts';
import { IpamStore } from '../../../src/datastore/ipam';
import * as keys from '../../../src/datastore/keys';
import { PoolStore } from '../../../src/datastore/pools';
import { ProfileStore } from '../../../src/datastore/profiles';
import { MemoryKvStore } from '../../fakes/memory-kv';

/** One bad value never hides the others: each listing reports it (once, naming the key) and skips it. */
const endpointKey = (host: string, id: string) => keys.endpointKey({ hostname: host, orchestrator: 'libnetwork', workload: 'libnetwork', endpoint: id });
const BAD_POOL = '/calico/v1/ipam/v4/pool/10.9.0.0-16';

function world() {
  const kv = new MemoryKvStore();
  const reported: CorruptDataError[] = [];
  const report = (error: CorruptDataError) => void reported.push(error);
  return { kv, reported, report };
}

describe('values that do not decode are skipped, with one report naming the key', () => {
  it('endpoints (endpoint show, node show)', async () => {
    const { kv, reported, report } = world();
    kv.seed(endpointKey('host1', 'good'), { state: 'active', name: 'caligood', mac: '', profile_ids: ['p'], ipv4_nets: [], ipv6_nets: [] });
    kv.seed(endpointKey('host1', 'bad'), '{not json');
    kv.seed(endpointKey('host2', 'list'), '[1, 2]');
    const endpoints = await new EndpointStore(kv, report).list();
    expect(endpoints.map((e) => e.endpoint)).toEqual(['good']);
    expect(reported.map((e) => e.key)).toEqual([endpointKey('host1', 'bad'), endpointKey('host2', 'list')]);
    expect((await new EndpointStore(kv, report).list('host1')).map((e) => e.endpoint)).toEqual(['good']);
  });

  it('pools: listing, the overlap check of pool add, address assignment and the default pool', async () => {
    const { kv, reported, report } = world();
    kv.seed(BAD_POOL, '{"cidr": "bogus"}');
    const pools = new PoolStore(kv, report);
    expect(await pools.list()).toEqual([]);
    // The agent's start: no usable pool, so the default one is created despite the bad value.
    expect(await new HostStore(kv, report).ensureDefaultPools({ noDefaultPools: false, ipv6: false })).toEqual(['192.168.0.0/16']);
    const ipam = new IpamStore(kv, report);
    const assigned = await ipam.assign(4, 'host1');
    expect(assigned.pool).toBe('192.168.0.0/16');
    kv.seed(keys.blockKey(4, '192.168.0.64/26'), 'garbage');
    expect((await ipam.list(4)).map((a) => a.address)).toEqual([assigned.address]);
    expect(new Set(reported.map((e) => e.key))).toEqual(new Set([BAD_POOL, keys.blockKey(4, '192.168.0.64/26')]));
    expect(reported.every((e) => e.code === 'corrupt')).toBe(true);
  });

  it('hosts (node show): an address that is not one is reported and shown as none', async () => {
    const { kv, reported, report } = world();
    kv.seed(keys.hostBirdIp('host1'), '192.0.2.1');
    kv.seed(keys.hostBirdIp('host2'), 'not-an-address');
    kv.seed(keys.bgpHostIp('host2', 6), 'fd00::2');
    expect(await new HostStore(kv, report).list()).toEqual([
      { hostname: 'host1', ipv4: '192.0.2.1', ipv6: '' },
      { hostname: 'host2', ipv4: '', ipv6: 'fd00::2' },
    ]);
    expect(reported.map((e) => e.key)).toEqual([keys.hostBirdIp('host2')]);
  });

  it('profiles (profile show --detailed): a profile that does not decode is skipped, the others listed', async () => {
    const { kv, reported, report } = world();
    const profiles = new ProfileStore(kv, report);
    await profiles.create('good');
    kv.seed(keys.profileTags('bad'), '"not a list"');
    expect((await profiles.listAll()).map((p) => p.id)).toEqual(['good']);
    expect(await profiles.list()).toEqual(['bad', 'good']);
    expect(reported.map((e) => e.key)).toEqual([keys.profileTags('bad')]);
  });

  it('reportOnce writes each problem once', () => {
    const lines: string[] = [];
    const report = reportOnce((line) => lines.push(line));
    const error = new CorruptDataError(BAD_POOL, 'not valid JSON');
    report(error);
    report(error, 'the pool is ignored');
    report(new CorruptDataError(BAD_POOL, 'the pool has no valid "cidr"'), 'the pool is ignored');
    expect(lines).toEqual([`The data stored at ${BAD_POOL} is invalid: not valid JSON; skipped`, `The data stored at ${BAD_POOL} is invalid: the pool has no valid "cidr"; skipped: the pool is ignored`]);
  });
});
