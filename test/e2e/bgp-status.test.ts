import * as path from 'path';
import { Lab, type LabHost, waitUntil } from './harness/lab';

jest.setTimeout(240_000);

/**
 * `calicoctl status` reading real BIRD on two lab hosts, each started by `calicoctl node
 * --runtime=process --as=…` as an operator would: first the node-to-node mesh, then, with the mesh
 * off, each host's own peer (`node bgp peer add`), both shown as v0.23 showed them.
 */
describe('calicoctl status shows BIRD\'s sessions', () => {
  let lab: Lab;
  let h1: LabHost;
  let h2: LabHost;
  const AS: Record<number, string> = { 1: '65001', 2: '65002' };

  const ctl = (host: LabHost, ...args: string[]) => host.calicoctl(args);
  const must = async (host: LabHost, ...args: string[]) => {
    const result = await ctl(host, ...args);
    if (result.code !== 0) throw new Error(`calicoctl ${args.join(' ')} on ${host.name} (${result.code}): ${result.stderr}${result.stdout}`);
    return result.stdout;
  };
  /** A row of status's table: the peer, its type, BIRD's state and `since`, and `Established`. */
  const row = (ip: string, type: string) => new RegExp(`\\|\\s+${ip.replace(/\./g, '\\.')}\\s+\\|\\s+${type}\\s+\\|\\s+up\\s+\\|\\s+\\S+\\s+\\|\\s+Established\\s+\\|`);
  const statusShows = (host: LabHost, pattern: RegExp, what: string) =>
    waitUntil(what, async () => pattern.test((await ctl(host, 'status')).stdout), 60_000, 500).catch(async (error: Error) => {
      throw new Error(`${error.message}\n${(await ctl(host, 'status')).stdout}\n${host.log('calico-node')}`);
    });

  beforeAll(async () => {
    lab = await Lab.start({ hosts: 2 });
    [h1, h2] = lab.hosts as [LabHost, LabHost];
    await must(h1, 'pool', 'add', '192.168.0.0/16');
    for (const host of lab.hosts) {
      const start = await ctl(host, 'node', '--runtime=process', `--ip=${host.ip}`, `--ip6=${host.ip6}`, `--as=${AS[host.index]}`, `--log-dir=${path.join(host.dir, 'log')}`);
      if (start.code !== 0) throw new Error(`calicoctl node on ${host.name}: ${start.stderr}${start.stdout}`);
    }
  });

  afterAll(async () => {
    // The agents were started detached by calicoctl; stopping the lab ends everything in its namespaces.
    for (const host of lab?.hosts ?? []) await host.calicoctl(['node', 'stop', '--force']).catch(() => undefined);
    await lab?.stop();
  });

  it('node --as stored each host\'s own AS, which node show and status print', async () => {
    expect(await lab.etcdGet(`/calico/bgp/v1/host/${h1.name}/as_num`)).toContain('65001');
    expect(await lab.etcdGet(`/calico/bgp/v1/host/${h2.name}/as_num`)).toContain('65002');
    const show = await must(h1, 'node', 'show');
    expect(show).toMatch(new RegExp(`\\|\\s+${h1.name}\\s+\\|\\s+10\\.200\\.0\\.1\\s+\\|\\s+fd00:200::1\\s+\\|\\s+65001\\s+\\|`));
    expect(show).toMatch(new RegExp(`\\|\\s+${h2.name}\\s+\\|\\s+10\\.200\\.0\\.2\\s+\\|\\s+fd00:200::2\\s+\\|\\s+65002\\s+\\|`));
  });

  it('meshed: host 2 is a node-to-node mesh peer, Established, over IPv4 and IPv6', async () => {
    await statusShows(h1, row(h2.ip, 'node-to-node mesh'), `${h1.name}'s status shows the mesh session to ${h2.ip}`);
    await statusShows(h1, row(h2.ip6, 'node-to-node mesh'), `${h1.name}'s status shows the mesh session to ${h2.ip6}`);
    const text = (await ctl(h1, 'status')).stdout;
    expect(text).toContain(`\nIPv4 BGP status\nIP: ${h1.ip}    AS Number: 65001\n+--------------+-------------------+-------+`);
    expect(text).toContain(`IPv6 BGP status\nIP: ${h1.ip6}    AS Number: 65001\n`);
    expect(text).toContain('| Peer address |     Peer type     | State |');
    const json = JSON.parse((await ctl(h1, 'status', '-o', 'json')).stdout);
    expect(json.bgp.ipv4).toMatchObject({ ip: h1.ip, asNum: '65001', asInherited: false });
    expect(json.bgp.ipv4.peers).toEqual([expect.objectContaining({ address: h2.ip, type: 'node-to-node mesh', state: 'up', info: 'Established' })]);
    await statusShows(h2, row(h1.ip, 'node-to-node mesh'), `${h2.name}'s status shows the mesh session to ${h1.ip}`);
  });

  it('mesh off, node bgp peer add on each host: the other host is a node specific peer, Established', async () => {
    await must(h1, 'bgp', 'node-mesh', 'off');
    await must(h1, 'node', 'bgp', 'peer', 'add', h2.ip, 'as', AS[2] as string);
    await must(h2, 'node', 'bgp', 'peer', 'add', h1.ip, 'as', AS[1] as string);
    expect(await must(h1, 'node', 'bgp', 'peer', 'show', '--ipv4')).toContain(`| ${h2.ip.padEnd(27)} | 65002  |`);
    await statusShows(h1, row(h2.ip, 'node specific'), `${h1.name}'s status shows the node specific session to ${h2.ip}`);
    const peers = JSON.parse((await ctl(h1, 'status', '-o', 'json')).stdout).bgp.ipv4.peers as { type: string }[];
    expect(peers.map((p) => p.type)).toEqual(['node specific']);
    await statusShows(h2, row(h1.ip, 'node specific'), `${h2.name}'s status shows the node specific session to ${h1.ip}`);
    // The IPv6 mesh session goes too, and no IPv6 peer was added: an empty table.
    await statusShows(h1, /IPv6 BGP status\nIP: fd00:200::1 {4}AS Number: 65001\n\+[-+]+\n\| Peer address[^\n]*\n\+[-+]+\n\+[-+]+\n/, `${h1.name}'s IPv6 table empties`);
    expect((await ctl(h1, 'node', 'show')).stdout).toContain(`${h2.ip} as 65002`);
  });
});
