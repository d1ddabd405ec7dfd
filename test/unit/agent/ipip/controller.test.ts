import { TunnelApplier } from '../../../../src/agent/ipip/applier';
import { IpipController } from '../../../../src/agent/ipip/controller';
import { IpamStore } from '../../../../src/datastore/ipam';
import { TunnelAddressStore } from '../../../../src/datastore/tunnel-address';
import { UpdateDecoder } from '../../../../src/datastore/syncer';
import { MemoryKvStore } from '../../../fakes/memory-kv';
import { memoryLog } from '../plugin/fakes';
import { FakeTunnelKernel } from './fake-tunnel-kernel';

const TUNNEL_KEY = '/calico/v1/host/host1/config/IpInIpTunnelAddr';
const POOL_KEY = '/calico/v1/ipam/v4/pool/10.65.0.0-16';

/** etcd in memory, the syncer's own decoder in front of the controller, and a fake kernel behind it. */
function setup(kernel = new FakeTunnelKernel()) {
  const kv = new MemoryKvStore();
  const decoder = new UpdateDecoder(() => undefined);
  const log = memoryLog();
  const controller = new IpipController('host1', new TunnelAddressStore(kv, () => undefined), new TunnelApplier(kernel, log, kernel.exists), log);
  const put = async (entries: [string, string | undefined][]) => {
    for (const [key, value] of entries) await kv.commit([], [value === undefined ? { type: 'delete', key } : { type: 'put', key, value }]);
    controller.update(decoder.changes(entries.map(([key, value]) => ({ key, value }))));
    await controller.settled();
    // The tunnel address the controller wrote comes back through the watch, as it would.
    const stored = (await kv.get(TUNNEL_KEY))?.value;
    controller.update(decoder.changes([{ key: TUNNEL_KEY, value: stored }]));
    await controller.settled();
  };
  const start = async (entries: [string, string][]) => {
    for (const [key, value] of entries) await kv.commit([], [{ type: 'put', key, value }]);
    controller.resync(decoder.snapshot(entries.map(([key, value]) => ({ key, value }))));
    await controller.settled();
  };
  return { kv, kernel, controller, put, start, log };
}

const HOSTS: [string, string][] = [
  ['/calico/bgp/v1/host/host1/ip_addr_v4', '10.200.0.1'],
  ['/calico/bgp/v1/host/host2/ip_addr_v4', '10.200.1.2'],
  ['/calico/ipam/v2/host/host1/ipv4/block/10.65.0.0-26', ''],
  ['/calico/ipam/v2/host/host2/ipv4/block/10.65.0.64-26', ''],
];

describe('the IPIP controller', () => {
  it('does nothing without an IPIP pool', async () => {
    const { kernel, start, kv } = setup();
    await start([...HOSTS, [POOL_KEY, '{"cidr": "10.65.0.0/16"}']]);
    expect(kernel.device).toBeUndefined();
    expect(await kv.get(TUNNEL_KEY)).toBeUndefined();
  });

  it('with an IPIP pool: assigns the tunnel address through IPAM, puts it on tunl0 and routes the other host\'s block', async () => {
    const { kernel, start, kv } = setup();
    await start([...HOSTS, [POOL_KEY, '{"cidr": "10.65.0.0/16", "ipip": "tunl0"}']]);
    const address = (await kv.get(TUNNEL_KEY))?.value as string;
    expect(address).toMatch(/^10\.65\./);
    expect(await new IpamStore(kv).info(address)).toMatchObject({ host: 'host1' });
    expect(kernel.device).toEqual({ up: true, mtu: '1440', addresses: [address] });
    expect([...kernel.routes]).toEqual([['10.65.0.64/26', { via: '10.200.1.2', dev: 'tunl0', proto: '158' }]]);
  });

  it('follows a host joining, a block added, a host removed, and the flag removed', async () => {
    const { kernel, start, put, kv } = setup();
    await start([...HOSTS, [POOL_KEY, '{"cidr": "10.65.0.0/16", "ipip": "tunl0"}']]);
    await put([
      ['/calico/v1/host/host3/bird_ip', '10.200.1.3'],
      ['/calico/ipam/v2/host/host3/ipv4/block/10.65.0.128-26', ''],
    ]);
    expect(kernel.routes.get('10.65.0.128/26')).toEqual({ via: '10.200.1.3', dev: 'tunl0', proto: '158' });
    await put([['/calico/ipam/v2/host/host2/ipv4/block/10.65.1.0-26', '']]);
    expect([...kernel.routes.keys()].sort()).toEqual(['10.65.0.128/26', '10.65.0.64/26', '10.65.1.0/26']);
    // `calicoctl node remove` of host2: its affinities and its address go.
    await put([
      ['/calico/ipam/v2/host/host2/ipv4/block/10.65.0.64-26', undefined],
      ['/calico/ipam/v2/host/host2/ipv4/block/10.65.1.0-26', undefined],
      ['/calico/bgp/v1/host/host2/ip_addr_v4', undefined],
    ]);
    expect([...kernel.routes.keys()]).toEqual(['10.65.0.128/26']);
    const address = (await kv.get(TUNNEL_KEY))?.value as string;
    // `pool add 10.65.0.0/16` again without --ipip.
    await put([[POOL_KEY, '{"cidr": "10.65.0.0/16"}']]);
    expect(kernel.routes.size).toBe(0);
    expect(kernel.device).toMatchObject({ up: false, addresses: [] });
    expect(await kv.get(TUNNEL_KEY)).toBeUndefined();
    await expect(new IpamStore(kv).info(address)).rejects.toThrow(/not currently assigned/);
  });

  it('takes the tunnel address off tunl0 when its pool is removed altogether', async () => {
    const { kernel, start, put } = setup();
    await start([...HOSTS, [POOL_KEY, '{"cidr": "10.65.0.0/16", "ipip": "tunl0"}']]);
    expect(kernel.device?.addresses).toHaveLength(1);
    await put([[POOL_KEY, undefined]]);
    expect(kernel.device).toMatchObject({ up: false, addresses: [] });
    expect(kernel.routes.size).toBe(0);
  });

  it('replaces a stored tunnel address that lies outside every IPIP pool', async () => {
    const { kernel, start, kv, controller } = setup();
    await start([...HOSTS, [POOL_KEY, '{"cidr": "10.65.0.0/16", "ipip": "tunl0"}'], [TUNNEL_KEY, '10.99.0.1']]);
    controller.stop();
    const address = (await kv.get(TUNNEL_KEY))?.value as string;
    expect(address).toMatch(/^10\.65\./);
    expect(kernel.device?.addresses).toEqual([address]);
  });

  it('on a kernel without IPIP: logs one clear error, keeps the tunnel address, and programs nothing', async () => {
    const { kernel, start, log, kv, controller } = setup(new FakeTunnelKernel(false));
    await start([...HOSTS, [POOL_KEY, '{"cidr": "10.65.0.0/16", "ipip": "tunl0"}']]);
    controller.stop();
    expect(log.lines.filter((line) => line.startsWith('ERROR'))).toEqual([expect.stringMatching(/IPIP: This host's kernel has no IPIP support.*modprobe ipip/)]);
    expect((await kv.get(TUNNEL_KEY))?.value).toMatch(/^10\.65\./);
    expect(kernel.routes.size).toBe(0);
  });
});
