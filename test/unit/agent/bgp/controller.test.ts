import { BgpController } from '../../../../src/agent/bgp/controller';
import { UpdateDecoder } from '../../../../src/datastore/syncer';
import { memoryLog } from '../plugin/fakes';

function recorder() {
  const texts: string[] = [];
  return { texts, configure: async (text: string) => void texts.push(text) };
}

/** Raw keys through the syncer's own decoder, as the agent gets them (one decoder, so deletions follow puts). */
let decoder = new UpdateDecoder(() => undefined);
beforeEach(() => {
  decoder = new UpdateDecoder(() => undefined);
});
const keys = (entries: [string, string | undefined][]) => decoder.changes(entries.map(([key, value]) => ({ key, value })));
const snapshot = (entries: [string, string][]) => decoder.snapshot(entries.map(([key, value]) => ({ key, value })));

describe('the BGP controller', () => {
  it('renders nothing before the first snapshot, then both families', async () => {
    const v4 = recorder();
    const v6 = recorder();
    const controller = new BgpController('host1', { ipv4: '10.200.0.1' }, { 4: v4, 6: v6 }, memoryLog());
    controller.update(new UpdateDecoder(() => undefined).changes([{ key: '/calico/bgp/v1/host/host3/ip_addr_v4', value: '10.200.0.3' }]));
    await controller.settled();
    expect(v4.texts).toEqual([]);
    controller.resync(
      snapshot([
        ['/calico/bgp/v1/host/host1/ip_addr_v4', '10.200.0.1'],
        ['/calico/bgp/v1/host/host2/ip_addr_v4', '10.200.0.2'],
        ['/calico/ipam/v2/host/host1/ipv4/block/192.168.0.0-26', ''],
        ['/calico/ipam/v2/host/host2/ipv4/block/192.168.0.64-26', ''],
        ['/calico/v1/ipam/v4/pool/192.168.0.0-16', '{"cidr": "192.168.0.0/16"}'],
      ]),
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
    controller.resync([]);
    await controller.settled();
    for (let i = 2; i < 10; i++) controller.update(keys([[`/calico/bgp/v1/host/host${i}/ip_addr_v4`, `10.200.0.${i}`]]));
    await controller.settled();
    expect(v4.texts).toHaveLength(2);
    expect(v4.texts[1]!.match(/protocol bgp Mesh_/g)).toHaveLength(8);
  });

  it('follows the mesh switch, the default AS, peers, a host AS and log levels', async () => {
    const v4 = recorder();
    const controller = new BgpController('host1', { ipv4: '10.200.0.1' }, { 4: v4 }, memoryLog());
    controller.resync(snapshot([['/calico/bgp/v1/host/host2/ip_addr_v4', '10.200.0.2']]));
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

  it('reports a BGP value that does not decode once, and treats it as absent', () => {
    const reports: string[] = [];
    const decoder = new UpdateDecoder((error) => void reports.push(error.message));
    const updates = decoder.changes([
      { key: '/calico/bgp/v1/host/host1/ip_addr_v4', value: 'garbage' },
      { key: '/calico/bgp/v1/global/peer_v4/1.2.3.4', value: '{"ip": "1.2.3.4"}' },
      { key: '/calico/bgp/v1/global/as_num', value: 'sixty' },
      { key: '/calico/bgp/v1/host/host2/ip_addr_v6', value: '' },
    ]);
    expect(updates).toEqual([
      { kind: 'bgpHostIp', hostname: 'host1', version: 4, ip: undefined },
      { kind: 'bgpPeer', hostname: undefined, ip: '1.2.3.4', peer: undefined },
      { kind: 'bgpDefaultAs', asNum: undefined },
      { kind: 'bgpHostIp', hostname: 'host2', version: 6, ip: undefined },
    ]);
    expect(reports).toHaveLength(3);
    expect(reports[0]).toContain('/calico/bgp/v1/host/host1/ip_addr_v4');
  });
});
