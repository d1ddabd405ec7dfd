import { BgpController } from '../../../../src/agent/bgp/controller';
import { decodeBgpKey } from '../../../../src/datastore/bgp';
import { memoryLog } from '../plugin/fakes';

function recorder() {
  const texts: string[] = [];
  return { texts, configure: async (text: string) => void texts.push(text) };
}

const keys = (entries: [string, string | undefined][]) => entries.map(([key, value]) => decodeBgpKey(key, value)!);

describe('the BGP controller', () => {
  it('renders nothing before the first snapshot, then both families', async () => {
    const v4 = recorder();
    const v6 = recorder();
    const controller = new BgpController('host1', { ipv4: '10.200.0.1' }, { 4: v4, 6: v6 }, memoryLog());
    controller.update(keys([['/calico/bgp/v1/host/host2/ip_addr_v4', '10.200.0.2']]));
    await controller.settled();
    expect(v4.texts).toEqual([]);
    controller.resync(
      keys([
        ['/calico/bgp/v1/host/host1/ip_addr_v4', '10.200.0.1'],
        ['/calico/bgp/v1/host/host2/ip_addr_v4', '10.200.0.2'],
        ['/calico/ipam/v2/host/host1/ipv4/block/192.168.0.0-26', ''],
        ['/calico/ipam/v2/host/host2/ipv4/block/192.168.0.64-26', ''],
      ]),
      [{ cidr: '192.168.0.0/16', disabled: false }],
    );
    await controller.settled();
    expect(v4.texts).toHaveLength(1);
    expect(v6.texts).toHaveLength(1);
    expect(v4.texts[0]).toContain('protocol bgp Mesh_10_200_0_2 from bgp_template');
    expect(v4.texts[0]).toContain('route 192.168.0.0/26 blackhole;');
    expect(v4.texts[0]).not.toContain('192.168.0.64/26');
    expect(v6.texts[0]).toContain('No IPv6 address configured for this node');
  });

  it('folds a burst of changes into one render', async () => {
    const v4 = recorder();
    const controller = new BgpController('host1', { ipv4: '10.200.0.1' }, { 4: v4 }, memoryLog());
    controller.resync([], []);
    await controller.settled();
    for (let i = 2; i < 10; i++) controller.update(keys([[`/calico/bgp/v1/host/host${i}/ip_addr_v4`, `10.200.0.${i}`]]));
    await controller.settled();
    expect(v4.texts).toHaveLength(2);
    expect(v4.texts[1]!.match(/protocol bgp Mesh_/g)).toHaveLength(8);
  });

  it('follows the mesh switch, the default AS, peers, a host AS and log levels', async () => {
    const v4 = recorder();
    const controller = new BgpController('host1', { ipv4: '10.200.0.1' }, { 4: v4 }, memoryLog());
    controller.resync(keys([['/calico/bgp/v1/host/host2/ip_addr_v4', '10.200.0.2']]), []);
    controller.update(
      keys([
        ['/calico/bgp/v1/global/node_mesh', '{"enabled": false}'],
        ['/calico/bgp/v1/global/as_num', '65000'],
        ['/calico/bgp/v1/global/peer_v4/10.200.0.9', '{"ip": "10.200.0.9", "as_num": "65009"}'],
        ['/calico/bgp/v1/host/host1/peer_v4/10.200.0.8', '{"ip": "10.200.0.8", "as_num": "65008"}'],
        ['/calico/bgp/v1/host/host2/peer_v4/10.200.0.7', '{"ip": "10.200.0.7", "as_num": "65007"}'],
        ['/calico/bgp/v1/host/host1/as_num', '65001'],
        ['/calico/bgp/v1/global/loglevel', 'debug'],
      ]),
    );
    await controller.settled();
    const text = v4.texts.at(-1)!;
    expect(text).not.toContain('Mesh_');
    expect(text).toContain('local as 65001;');
    expect(text).toContain('neighbor 10.200.0.9 as 65009;');
    expect(text).toContain('neighbor 10.200.0.8 as 65008;');
    expect(text).not.toContain('10.200.0.7');
    expect(text).toContain('debug all;');
    controller.update(keys([['/calico/bgp/v1/global/node_mesh', undefined], ['/calico/bgp/v1/host/host1/as_num', undefined]]));
    await controller.settled();
    expect(v4.texts.at(-1)).toContain('neighbor 10.200.0.2 as 65000;');
    expect(v4.texts.at(-1)).toContain('local as 65000;');
  });

  it('decodes keys it does not own as nothing', () => {
    expect(decodeBgpKey('/calico/v1/host/host1/bird_ip', '1.2.3.4')).toBeUndefined();
    expect(decodeBgpKey('/calico/bgp/v1/host/host1/ip_addr_v4', 'garbage')).toEqual({ kind: 'bgpHostIp', hostname: 'host1', version: 4, ip: undefined });
    expect(decodeBgpKey('/calico/bgp/v1/global/peer_v4/1.2.3.4', 'garbage')).toEqual({ kind: 'bgpPeer', hostname: undefined, ip: '1.2.3.4', peer: undefined });
  });
});
