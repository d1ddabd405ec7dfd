import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { type BgpModel, renderBirdConfig } from '../../src/agent/bgp/bird-config';
import { BirdSupervisor, type BirdHost } from '../../src/agent/bgp/supervisor';
import { Lab, type LabHost, waitUntil } from './harness/lab';

/**
 * The BIRD configuration calico-node renders, run by real BIRD 1.6 on three lab hosts: blocks are
 * announced whole, a single address outside a block as a /32, the mesh can be switched off and
 * replaced by peers, and BIRD is restarted when it dies. (The agent drives the same renderer and
 * supervisor from etcd; this test pins down what BIRD does with them.)
 */

const POOL = '192.168.0.0/16';
const blockOf = (host: LabHost) => `192.168.${host.index}.0/26`;

/** A BirdHost whose processes run inside a lab host. */
function labBirdHost(host: LabHost): BirdHost {
  return {
    spawn: (command, args) => spawn('nsenter', [...host.inside(command, ...args).slice(1)], { stdio: ['ignore', 'pipe', 'pipe'] }),
    readFile: (file) => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : undefined),
    writeFile: (file, text) => {
      fs.writeFileSync(`${file}.tmp`, text);
      fs.renameSync(`${file}.tmp`, file);
    },
    reconfigure: async (birdc, socket) => {
      const r = await host.exec([birdc, '-s', socket, 'configure']);
      return r.stdout + r.stderr;
    },
  };
}

jest.setTimeout(120_000);

describe('BIRD with the rendered configuration, on three hosts', () => {
  let lab: Lab;
  const supervisors = new Map<LabHost, BirdSupervisor>();
  const log = { debug: () => undefined, info: () => undefined, warning: () => undefined, error: (m: string) => console.error(m) };

  const model = (host: LabHost, change: Partial<BgpModel> = {}): BgpModel => ({
    self: { hostname: host.name, ipv4: host.ip },
    hosts: lab.hosts.map((h) => ({ hostname: h.name, ipv4: h.ip })),
    defaultAs: '64511',
    nodeMesh: true,
    globalPeers: [],
    nodePeers: [],
    pools: [{ cidr: POOL }],
    blocks: [blockOf(host)],
    ...change,
  });

  const configureAll = async (change: (host: LabHost) => Partial<BgpModel> = () => ({})) => {
    for (const host of lab.hosts) await supervisors.get(host)!.configure(renderBirdConfig(model(host, change(host)), 4));
  };

  const routes = async (host: LabHost) => (await host.exec(['ip', 'route'])).stdout;
  const routeVia = (from: LabHost, prefix: string, via: LabHost) =>
    waitUntil(`${from.name} routes ${prefix} via ${via.ip}`, async () => (await routes(from)).includes(`${prefix} via ${via.ip} dev eth0 proto bird`), 20_000);
  const noRoute = (from: LabHost, prefix: string) => waitUntil(`${from.name} drops its route to ${prefix}`, async () => !(await routes(from)).includes(`${prefix} via`), 20_000);

  beforeAll(async () => {
    lab = await Lab.start({ hosts: 3, etcd: false });
    for (const host of lab.hosts) {
      supervisors.set(
        host,
        new BirdSupervisor({ binary: 'bird', client: 'birdc', configFile: path.join(host.dir, 'bird.cfg'), controlSocket: '/run/calico/bird.ctl' }, labBirdHost(host), log),
      );
    }
    await configureAll();
  }, 60_000);

  afterAll(async () => {
    for (const supervisor of supervisors.values()) supervisor.stop();
    await lab?.stop();
  }, 60_000);

  it('announces each host\'s block to the others, and blackholes its own', async () => {
    const [h1, h2, h3] = lab.hosts as [LabHost, LabHost, LabHost];
    await routeVia(h1, blockOf(h2), h2);
    await routeVia(h1, blockOf(h3), h3);
    await routeVia(h3, blockOf(h1), h1);
    expect(await routes(h1)).toContain(`blackhole ${blockOf(h1)} proto bird`);
    const protocols = (await h1.exec(['birdc', '-s', '/run/calico/bird.ctl', 'show', 'protocols'])).stdout;
    expect(protocols).toMatch(/Mesh_10_200_0_2\s+BGP\s+master\s+up\s+\S+\s+Established/);
    expect(protocols).toMatch(/Mesh_10_200_0_3\s+BGP\s+master\s+up\s+\S+\s+Established/);
  });

  it('announces an address outside the host\'s block as a /32, and withdraws it', async () => {
    const [h1, , h3] = lab.hosts as [LabHost, LabHost, LabHost];
    // What the agent does for a workload: a /32 route to its veth.
    await h3.exec(['ip', 'link', 'add', 'calitest0', 'type', 'veth', 'peer', 'name', 'calitest1']);
    await h3.exec(['ip', 'link', 'set', 'calitest0', 'up']);
    await h3.exec(['ip', 'link', 'set', 'calitest1', 'up']);
    expect(await h3.exec(['ip', 'route', 'add', '192.168.250.3/32', 'dev', 'calitest0', 'proto', '157'])).toMatchObject({ stderr: '', code: 0 });
    expect(await h3.exec(['ip', 'route', 'add', '192.168.3.7/32', 'dev', 'calitest0', 'proto', '157'])).toMatchObject({ stderr: '', code: 0 });
    await routeVia(h1, '192.168.250.3', h3);
    // An address inside the host's block is covered by the block: no /32 leaves the host.
    expect(await routes(h1)).not.toContain('192.168.3.7 via');
    await h3.exec(['ip', 'route', 'del', '192.168.250.3/32']);
    await noRoute(h1, '192.168.250.3 ');
    await h3.exec(['ip', 'link', 'del', 'calitest0']);
  });

  it('removes the mesh routes when the mesh is off, and global peers bring them back', async () => {
    const [h1, h2, h3] = lab.hosts as [LabHost, LabHost, LabHost];
    await configureAll(() => ({ nodeMesh: false }));
    await noRoute(h1, blockOf(h2));
    await noRoute(h1, blockOf(h3));
    const peers = lab.hosts.map((h) => ({ ip: h.ip, asNum: '64511' }));
    await configureAll((host) => ({ nodeMesh: false, globalPeers: peers.filter((p) => p.ip !== host.ip) }));
    await routeVia(h1, blockOf(h2), h2);
    await routeVia(h2, blockOf(h3), h3);
  });

  it('peers over eBGP between two hosts with their own AS', async () => {
    const [h1, h2] = lab.hosts as [LabHost, LabHost, LabHost];
    await configureAll((host) => ({
      nodeMesh: false,
      self: { hostname: host.name, ipv4: host.ip, asNum: `6500${host.index}` },
      nodePeers: host === h1 ? [{ ip: h2.ip, asNum: '65002' }] : host === h2 ? [{ ip: h1.ip, asNum: '65001' }] : [],
    }));
    await routeVia(h1, blockOf(h2), h2);
    await routeVia(h2, blockOf(h1), h1);
    const protocols = (await h1.exec(['birdc', '-s', '/run/calico/bird.ctl', 'show', 'protocols'])).stdout;
    expect(protocols).toMatch(/Node_10_200_0_2\s+BGP\s+master\s+up\s+\S+\s+Established/);
    await configureAll();
  });

  it('keeps the routes while BIRD is down, and the supervisor restarts it', async () => {
    const [h1, h2] = lab.hosts as [LabHost, LabHost, LabHost];
    await routeVia(h1, blockOf(h2), h2);
    const supervisor = supervisors.get(h2)!;
    const before = supervisor.pid;
    process.kill(before!, 'SIGKILL');
    await waitUntil('BIRD is restarted on host 2', async () => supervisor.pid !== undefined && supervisor.pid !== before, 10_000);
    // Graceful restart: host 1 keeps host 2's block while host 2's BIRD comes back.
    expect(await routes(h1)).toContain(`${blockOf(h2)} via ${h2.ip}`);
    await waitUntil('host 2 is Established again', async () => /Mesh_10_200_0_1\s+BGP\s+master\s+up\s+\S+\s+Established/.test((await h2.exec(['birdc', '-s', '/run/calico/bird.ctl', 'show', 'protocols'])).stdout), 20_000);
    await routeVia(h1, blockOf(h2), h2);
  });
});
