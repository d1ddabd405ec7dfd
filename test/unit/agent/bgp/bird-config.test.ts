import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type BgpModel, protocolName, renderBirdConfig } from '../../../../src/agent/bgp/bird-config';
import { parseProtocolName } from '../../../../src/agent/contract';

const GOLDEN = join(__dirname, 'golden');

/** Three hosts; host1 holds two IPv4 blocks and one IPv6 block, with global and node peers. */
export const THREE_HOSTS: BgpModel = {
  self: { hostname: 'host1', ipv4: '10.200.0.1', ipv6: 'fd00:200::1' },
  hosts: [
    { hostname: 'host3', ipv4: '10.200.0.3', ipv6: '' },
    { hostname: 'host1', ipv4: '10.200.0.1', ipv6: 'fd00:200::1' },
    { hostname: 'host2', ipv4: '10.200.0.2', ipv6: 'fd00:200::2', asNum: '65002' },
  ],
  defaultAs: '64511',
  nodeMesh: true,
  globalPeers: [{ ip: '10.200.0.9', asNum: '65000' }, { ip: 'fd00:200::9', asNum: '65541' }],
  nodePeers: [{ ip: '10.200.0.8', asNum: '64999' }],
  pools: [{ cidr: '192.168.0.0/16' }, { cidr: '10.99.0.0/16', disabled: true }, { cidr: 'fd80:24e2:f998:72d6::/64' }],
  blocks: ['192.168.0.64/26', '192.168.0.0/26', 'fd80:24e2:f998:72d6::/122'],
};

/** Compares with a golden file; UPDATE_GOLDEN=1 rewrites it (review the diff before committing). */
function expectGolden(name: string, text: string): void {
  const path = join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(path, text);
  expect(text).toBe(readFileSync(path, 'utf8'));
}

describe('the BIRD configuration', () => {
  it('renders the mesh, peers, blocks and pools for IPv4', () => {
    expectGolden('three-hosts-bird.cfg', renderBirdConfig(THREE_HOSTS, 4));
  });

  it('renders the same for IPv6, with the IPv4 router id and no peer without an IPv6 address', () => {
    expectGolden('three-hosts-bird6.cfg', renderBirdConfig(THREE_HOSTS, 6));
  });

  it('is the same text whatever order the model lists things in', () => {
    const shuffled: BgpModel = {
      ...THREE_HOSTS,
      hosts: [...THREE_HOSTS.hosts].reverse(),
      globalPeers: [...THREE_HOSTS.globalPeers].reverse(),
      pools: [...THREE_HOSTS.pools].reverse(),
      blocks: [...THREE_HOSTS.blocks].reverse(),
    };
    expect(renderBirdConfig(shuffled, 4)).toBe(renderBirdConfig(THREE_HOSTS, 4));
    expect(renderBirdConfig(shuffled, 6)).toBe(renderBirdConfig(THREE_HOSTS, 6));
  });

  it('without the mesh, keeps only the configured peers', () => {
    const text = renderBirdConfig({ ...THREE_HOSTS, nodeMesh: false }, 4);
    expect(text).not.toMatch(/protocol bgp Mesh_/);
    expect(text).toMatch(/protocol bgp Global_10_200_0_9 from bgp_template \{\n  neighbor 10.200.0.9 as 65000;\n\}/);
    expect(text).toMatch(/protocol bgp Node_10_200_0_8 from bgp_template/);
  });

  it('uses the node\'s own AS when it has one, and each peer host\'s own AS', () => {
    const text = renderBirdConfig({ ...THREE_HOSTS, self: { ...THREE_HOSTS.self, asNum: '65001' } }, 4);
    expect(text).toMatch(/local as 65001;/);
    expect(text).toMatch(/neighbor 10.200.0.2 as 65002;/);
    expect(text).toMatch(/neighbor 10.200.0.3 as 64511;/);
  });

  it('maps log levels as v0.23 did, the node\'s level winning over the global one', () => {
    expect(renderBirdConfig({ ...THREE_HOSTS, globalLogLevel: 'debug' }, 4)).toMatch(/debug all;/);
    expect(renderBirdConfig({ ...THREE_HOSTS, globalLogLevel: 'debug', nodeLogLevel: 'none' }, 4)).not.toMatch(/debug/);
    expect(renderBirdConfig({ ...THREE_HOSTS, globalLogLevel: 'info' }, 4)).toMatch(/debug \{ states \};/);
  });

  it('has no BGP sessions on a node without an address of that family', () => {
    const text = renderBirdConfig({ ...THREE_HOSTS, self: { hostname: 'host3', ipv4: '10.200.0.3' } }, 6);
    expect(text).not.toMatch(/protocol bgp/);
    expect(text).toMatch(/No IPv6 address configured for this node/);
  });

  it('names protocols as calicoctl status expects', () => {
    expect(protocolName('Mesh', '10.0.0.2')).toBe('Mesh_10_0_0_2');
    expect(protocolName('Global', 'fd00::1')).toBe('Global_fd00__1');
  });

  it('calicoctl status reads every name back into its kind and address; other protocols are not peers', () => {
    for (const [kind, ip, version] of [['Mesh', '10.0.0.2', 4], ['Node', '192.0.2.255', 4], ['Global', 'fd00::1', 6], ['Mesh', '2001:db8:0:1::a', 6]] as const) {
      expect(parseProtocolName(protocolName(kind, ip), version)).toEqual({ kind, ip });
    }
    for (const name of ['kernel1', 'device1', 'direct1', 'static1', 'Mesh_', 'Peer_10_0_0_1']) expect(parseProtocolName(name, 4)).toBeUndefined();
  });

  it('with an IPIP pool, leaves the routes to other hosts\' blocks in it to calico-node, and does not learn its tunnel routes', () => {
    const model: BgpModel = { ...THREE_HOSTS, pools: [{ cidr: '192.168.0.0/16', ipip: true }, { cidr: '10.99.0.0/16', disabled: true }, { cidr: 'fd80:24e2:f998:72d6::/64' }] };
    const text = renderBirdConfig(model, 4);
    expectGolden('ipip-bird.cfg', text);
    expect(text).toMatch(/import filter calico_kernel_import;/);
    expect(text).toMatch(/if \( krt_source = 158 \) then reject;/);
    expect(text).toMatch(/if \( source = RTS_BGP && net ~ \[ 192\.168\.0\.0\/16\+ \] \) then reject;/);
    // The blocks are still announced to the peers as before: only the kernel side changes.
    expect(text).toContain('route 192.168.0.0/26 blackhole;');
    expect(text.replace(/\n# IPIP pools[\s\S]*?\n}\n\nfilter calico_kernel_export[\s\S]*?\n}\n/, '').replace('import filter calico_kernel_import;', 'import all;').replace('export filter calico_kernel_export;', 'export all;')).toBe(renderBirdConfig(THREE_HOSTS, 4));
    // IPv6 pools never have IPIP: bird6 is unchanged.
    expect(renderBirdConfig(model, 6)).toBe(renderBirdConfig(THREE_HOSTS, 6));
  });
});
