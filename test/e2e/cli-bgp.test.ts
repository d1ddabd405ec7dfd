import { calicoctl, type CliResult } from './harness/cli';
import { etcdctl, type EtcdServer, startEtcd } from './harness/etcd';

jest.setTimeout(120_000);

/**
 * `calicoctl bgp …`, `node bgp peer …` and `node show` against a real etcd: the keys and values
 * they write are v0.23's, which calico-node's syncer reads (src/datastore/bgp.ts); a bad
 * address or AS leaves every key as it was.
 */

let etcd: EtcdServer;

beforeAll(async () => {
  etcd = await startEtcd();
});

afterAll(async () => {
  await etcd?.stop();
});

const run = (...args: string[]): Promise<CliResult> => calicoctl(args, { ...etcd.env, HOSTNAME: 'hostA' });
const must = async (...args: string[]): Promise<string> => {
  const result = await run(...args);
  if (result.code !== 0 || result.stderr !== '') throw new Error(`calicoctl ${args.join(' ')}: ${result.code} ${result.stderr}`);
  return result.stdout;
};
const get = async (key: string): Promise<string> => (await etcdctl(etcd, 'get', '--print-value-only', key)).replace(/\n$/, '');
const everything = (): Promise<string> => etcdctl(etcd, 'get', '--prefix', '/calico/');

describe('calicoctl bgp against etcd', () => {
  it('bgp peer add stores each global peer under its version, dotted AS as asplain; show and remove read it back', async () => {
    await must('bgp', 'peer', 'add', '192.0.2.1', 'as', '64512');
    await must('bgp', 'peer', 'add', '2001:db8::1', 'as', '1.5');
    expect(JSON.parse(await get('/calico/bgp/v1/global/peer_v4/192.0.2.1'))).toEqual({ ip: '192.0.2.1', as_num: '64512' });
    expect(JSON.parse(await get('/calico/bgp/v1/global/peer_v6/2001:db8::1'))).toEqual({ ip: '2001:db8::1', as_num: '65541' });
    expect(await must('bgp', 'peer', 'show', '--ipv6')).toBe(
      ['+----------------------+--------+', '| Global IPv6 BGP Peer | AS Num |', '+----------------------+--------+', '| 2001:db8::1          | 65541  |', '+----------------------+--------+', ''].join('\n'),
    );
    expect(await run('bgp', 'peer', 'remove', '2001:db8::1')).toEqual({ code: 0, stdout: 'BGP peer removed from global configuration\n', stderr: '' });
    expect(await get('/calico/bgp/v1/global/peer_v6/2001:db8::1')).toBe('');
    expect(await run('bgp', 'peer', 'remove', '2001:db8::1')).toEqual({ code: 1, stdout: '', stderr: '2001:db8::1 is not a globally configured peer.\n' });
    expect(await must('bgp', 'peer', 'show', '--ipv6')).toBe('No global IPv6 BGP Peers defined.\n\n');
  });

  it('bgp node-mesh and default-node-as write node_mesh and as_num', async () => {
    expect(await must('bgp', 'node-mesh')).toBe('on\n');
    await must('bgp', 'node-mesh', 'off');
    expect(JSON.parse(await get('/calico/bgp/v1/global/node_mesh'))).toEqual({ enabled: false });
    expect(await must('bgp', 'node-mesh')).toBe('off\n');
    await must('bgp', 'node-mesh', 'on');
    expect(JSON.parse(await get('/calico/bgp/v1/global/node_mesh'))).toEqual({ enabled: true });

    expect(await must('bgp', 'default-node-as')).toBe('64511\n');
    await must('bgp', 'default-node-as', '0.64512');
    expect(await get('/calico/bgp/v1/global/as_num')).toBe('64512');
    expect(await must('bgp', 'default-node-as')).toBe('64512\n');
    await must('bgp', 'default-node-as', '64511');
  });

  it('node bgp peer add|remove|show edit this host\'s peers ($HOSTNAME)', async () => {
    await must('node', 'bgp', 'peer', 'add', '192.0.2.7', 'as', '65007');
    expect(JSON.parse(await get('/calico/bgp/v1/host/hostA/peer_v4/192.0.2.7'))).toEqual({ ip: '192.0.2.7', as_num: '65007' });
    expect(await must('node', 'bgp', 'peer', 'show', '--ipv4')).toContain('| 192.0.2.7                   | 65007  |');
    expect(await calicoctl(['node', 'bgp', 'peer', 'remove', '192.0.2.7'], { ...etcd.env, HOSTNAME: 'hostB' })).toEqual({
      code: 1,
      stdout: '',
      stderr: '192.0.2.7 is not a configured peer for this node.\n',
    });
    expect(await run('node', 'bgp', 'peer', 'remove', '192.0.2.7')).toEqual({ code: 0, stdout: 'BGP peer removed from node configuration\n', stderr: '' });
    expect(await get('/calico/bgp/v1/host/hostA/peer_v4/192.0.2.7')).toBe('');
  });

  it('bad addresses and AS numbers, and --dry-run, leave etcd exactly as it was', async () => {
    await must('bgp', 'peer', 'add', '192.0.2.50', 'as', '64512');
    const before = await everything();
    for (const [args, stderr] of [
      [['bgp', 'peer', 'add', '192.0.2.256', 'as', '64512'], 'Invalid IP address specified.\n'],
      [['bgp', 'peer', 'add', '192.0.2.5', 'as', '4294967296'], 'Invalid AS Number specified.\n'],
      [['bgp', 'peer', 'remove', 'not-an-ip'], 'Invalid IP address specified.\n'],
      [['bgp', 'default-node-as', '1.2.3'], 'Invalid AS Number specified.\n'],
      [['node', 'bgp', 'peer', 'add', '::g', 'as', '1'], 'Invalid IP address specified.\n'],
      [['node', 'bgp', 'peer', 'remove', '300.0.0.1'], 'Invalid IP address specified.\n'],
    ] as const) {
      expect(await run(...args)).toEqual({ code: 1, stdout: '', stderr });
    }
    expect((await run('bgp', 'peer', 'remove', '192.0.2.50', '--dry-run')).code).toBe(0);
    expect((await run('bgp', 'node-mesh', 'off', '--dry-run')).code).toBe(0);
    expect((await run('node', 'bgp', 'peer', 'add', '192.0.2.8', 'as', '1', '--dry-run')).code).toBe(0);
    expect(await everything()).toBe(before);
  });

  it('node show: each host\'s BGP addresses, own AS or the default (inherited), and own peers, by hostname', async () => {
    await etcdctl(etcd, 'put', '/calico/v1/host/hostB/bird_ip', '192.0.2.20');
    await etcdctl(etcd, 'put', '/calico/bgp/v1/host/hostB/ip_addr_v4', '192.0.2.20');
    await etcdctl(etcd, 'put', '/calico/bgp/v1/host/hostB/ip_addr_v6', 'fd00::20');
    await etcdctl(etcd, 'put', '/calico/bgp/v1/host/hostB/as_num', '65020');
    await etcdctl(etcd, 'put', '/calico/v1/host/hostA/bird_ip', '192.0.2.10');
    await etcdctl(etcd, 'put', '/calico/bgp/v1/host/hostA/ip_addr_v4', '192.0.2.10');
    await must('node', 'bgp', 'peer', 'add', '192.0.2.1', 'as', '65001');
    await must('node', 'bgp', 'peer', 'add', 'fd00::1', 'as', '65001');
    expect(await must('node', 'show')).toBe(
      [
        '+----------+------------+-----------+-------------------+--------------------+------------------+',
        '| Hostname | Bird IPv4  | Bird IPv6 |       AS Num      |    BGP Peers v4    |   BGP Peers v6   |',
        '+----------+------------+-----------+-------------------+--------------------+------------------+',
        '|  hostA   | 192.0.2.10 |           | 64511 (inherited) | 192.0.2.1 as 65001 | fd00::1 as 65001 |',
        '|  hostB   | 192.0.2.20 |  fd00::20 |       65020       |                    |                  |',
        '+----------+------------+-----------+-------------------+--------------------+------------------+',
        '',
        '',
      ].join('\n'),
    );
  });
});
