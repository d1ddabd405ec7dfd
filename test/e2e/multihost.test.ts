import { execFileSync } from 'child_process';
import { readFileSync } from 'fs';
import { CALICO_NODE } from './harness/agent';
import { importBusybox, Lab, LAB_ETCD, LAB_ETCD_ENV, LAB_ETCD_MEMBERS, LAB_ETCD_TLS, LAB_ETCDCTL_FLAGS, type LabHost, waitUntil } from './harness/lab';
import { ROOT } from './harness/cli';

jest.setTimeout(180_000);

/**
 * Many hosts, one network: calico-node with BIRD on each of three lab hosts, address blocks with
 * host affinity, routes exchanged over BGP, and containers on different hosts reaching each other
 * by plain routing. (Networks here are per host, so each profile lets the pool in by CIDR; the
 * policy across hosts with one global network is in global-network.test.ts.)
 */
describe('containers on three hosts, routed by BGP', () => {
  let lab: Lab;
  let image: string;
  const network = new Map<LabHost, string>();

  const startNode = async (host: LabHost, extra: string[] = []) => {
    const before = host.log('calico-node').split('Calico node started successfully').length;
    host.spawn('calico-node', ['node', CALICO_NODE, '--hostname', host.name, `--ip=${host.ip}`, `--ip6=${host.ip6}`, ...extra], LAB_ETCD_ENV);
    await waitUntil(`calico-node on ${host.name}`, async () => host.log('calico-node').split('Calico node started successfully').length > before, 60_000).catch((error: Error) => {
      throw new Error(`${error.message}\n${host.log('calico-node')}`);
    });
  };

  const birdc = async (host: LabHost, ...command: string[]) => (await host.exec(['birdc', '-s', '/run/calico/bird.ctl', ...command])).stdout;
  const established = async (host: LabHost) => ((await birdc(host, 'show', 'protocols')).match(/Established/g) ?? []).length;
  const routes = async (host: LabHost) => (await host.exec(['ip', 'route'])).stdout;
  const hasRoute = async (host: LabHost, pattern: RegExp) => pattern.test(await routes(host));
  const etcdctl = (...args: string[]) => lab.inSwitch(['etcdctl', ...LAB_ETCDCTL_FLAGS, ...args]);

  const run = async (host: LabHost, name: string, ...extra: string[]) => {
    const result = await host.docker('run', '-d', '--init', '--net', 'net1', '--name', name, ...extra, image, 'sleep', '600');
    if (result.code !== 0) throw new Error(`docker run ${name} on ${host.name}: ${result.stderr}`);
    return (await host.docker('inspect', '-f', '{{.NetworkSettings.Networks.net1.IPAddress}}', name)).stdout.trim();
  };
  const pings = async (host: LabHost, container: string, ip: string) => (await host.docker('exec', container, 'ping', '-c', '1', '-W', '1', ip)).code === 0;
  /** BIRD's pid on one host (pidof would see every host's BIRD: the lab shares one pid namespace). */
  const birdPid = async (host: LabHost): Promise<string | undefined> => {
    const pids = execFileSync('ip', ['netns', 'pids', host.ns], { encoding: 'utf8' }).split(/\s+/).filter(Boolean);
    for (const pid of pids) {
      try {
        if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'bird') return pid;
      } catch {
        // Gone meanwhile.
      }
    }
    return undefined;
  };
  const blockOf = (ip: string) => {
    const [a, b, c, d] = ip.split('.').map(Number) as [number, number, number, number];
    return `${a}.${b}.${c}.${d - (d % 64)}/26`;
  };

  beforeAll(async () => {
    lab = await Lab.start({ hosts: 3 });
    await Promise.all(lab.hosts.map((host) => host.startDockerd()));
    for (const host of lab.hosts) {
      image = await importBusybox(host);
      await startNode(host);
    }
    for (const host of lab.hosts) {
      expect((await host.docker('network', 'create', '--driver', 'calico', '--ipam-driver', 'calico', 'net1')).code).toBe(0);
      const id = (await host.docker('network', 'inspect', '-f', '{{.Id}}', 'net1')).stdout.trim();
      network.set(host, id);
      expect((await host.calicoctl(['profile', id, 'rule', 'add', 'inbound', 'allow', 'from', 'cidr', '192.168.0.0/16'])).code).toBe(0);
    }
  });

  afterAll(async () => {
    await lab?.stop();
  });

  // scripts/test-all runs this file again with LAB_ETCD_MEMBERS=3 LAB_ETCD_TLS=1: then every
  // client here reached a three-member etcd over mutual TLS, and one without certificates cannot.
  it(`reaches the lab's etcd as configured (${LAB_ETCD_MEMBERS} member(s), ${LAB_ETCD_TLS ? 'mutual TLS' : 'plain HTTP'})`, async () => {
    const h1 = lab.hosts[0]!;
    expect((await etcdctl('endpoint', 'health')).code).toBe(0);
    expect((await h1.calicoctl(['pool', 'show'])).code).toBe(0);
    expect(LAB_ETCD.split(',')).toHaveLength(LAB_ETCD_MEMBERS);
    const bare = await h1.exec(['env', `ETCD_ENDPOINTS=${LAB_ETCD}`, `${ROOT}/bin/calicoctl`, 'pool', 'show']);
    if (LAB_ETCD_TLS) {
      expect(bare.code).toBe(1);
      expect(bare.stderr.trim().split('\n')).toHaveLength(1);
      expect(bare.stderr).toMatch(/ETCD_CA_CERT_FILE|certificate|TLS/i);
    } else {
      expect(bare.code).toBe(0);
    }
  });

  it('meshes every node with every other over BGP', async () => {
    for (const host of lab.hosts) await waitUntil(`${host.name}'s BGP sessions`, async () => (await established(host)) === lab.hosts.length - 1, 30_000);
    expect(await birdc(lab.hosts[0] as LabHost, 'show', 'protocols')).toMatch(/Mesh_10_200_0_2\s+BGP\s+master\s+up/);
  });

  it('gives each host its own block, announced whole, and routes containers across hosts', async () => {
    const [h1, h2, h3] = lab.hosts as [LabHost, LabHost, LabHost];
    const ips = [await run(h1, 'c1'), await run(h2, 'c2'), await run(h3, 'c3')];
    const blocks = ips.map(blockOf);
    expect(new Set(blocks).size).toBe(3);
    for (const [i, host] of [h1, h2, h3].entries()) {
      expect((await host.calicoctl(['ipam', 'info', ips[i] as string])).stdout).toContain(`held by host ${host.name}`);
      // Its own block is a blackhole here, and the others' blocks are routes via their hosts.
      await waitUntil(`${host.name} blackholes ${blocks[i]}`, () => hasRoute(host, new RegExp(`blackhole ${blocks[i]} proto bird`)), 10_000);
      for (const [j, other] of [h1, h2, h3].entries()) {
        if (i === j) continue;
        await waitUntil(`${host.name} routes ${blocks[j]} via ${other.ip}`, () => hasRoute(host, new RegExp(`${blocks[j]} via ${other.ip} dev eth0 proto bird`)), 10_000);
      }
      // A container inside a host's own block is not announced on its own.
      expect(await routes(host === h1 ? h2 : h1)).not.toContain(`${ips[i]} via`);
    }
    for (const [i, from] of [h1, h2, h3].entries()) {
      for (const [j, ip] of ips.entries()) if (i !== j) await waitUntil(`c${i + 1} -> ${ip}`, () => pings(from, `c${i + 1}`, ip as string), 10_000);
    }
  });

  it('reaches a new container from another host within a bounded time, and not once it is removed', async () => {
    const [h1, , h3] = lab.hosts as [LabHost, LabHost, LabHost];
    const started = Date.now();
    const ip = await run(h3, 'fresh');
    const took = await waitUntil('c1 -> fresh', () => pings(h1, 'c1', ip), 10_000, 50);
    expect(took).toBeLessThan(5_000);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect((await h3.docker('rm', '-f', 'fresh')).code).toBe(0);
    expect(await pings(h1, 'c1', ip)).toBe(false);
  });

  it('announces a chosen address outside the host\'s blocks as a /32, and withdraws it', async () => {
    const [h1, h2] = lab.hosts as [LabHost, LabHost, LabHost];
    // --ip needs a network with a subnet; the subnet must be a Calico pool, the default one here.
    expect((await h2.docker('network', 'create', '--driver', 'calico', '--ipam-driver', 'calico', '--subnet', '192.168.0.0/16', 'net2')).code).toBe(0);
    const id = (await h2.docker('network', 'inspect', '-f', '{{.Id}}', 'net2')).stdout.trim();
    await h2.calicoctl(['profile', id, 'rule', 'add', 'inbound', 'allow', 'from', 'cidr', '192.168.0.0/16']);
    const chosen = '192.168.250.7';
    const run2 = await h2.docker('run', '-d', '--init', '--net', 'net2', '--ip', chosen, '--name', 'chosen', image, 'sleep', '600');
    expect(run2.stderr).toBe('');
    await waitUntil(`host 1 routes ${chosen} via host 2`, () => hasRoute(h1, new RegExp(`${chosen.replace(/\./g, '\\.')} via ${h2.ip} dev eth0 proto bird`)), 10_000);
    await waitUntil('c1 -> chosen', () => pings(h1, 'c1', chosen), 10_000);
    expect((await h2.docker('rm', '-f', 'chosen')).code).toBe(0);
    await waitUntil(`host 1 withdraws ${chosen}`, async () => !(await hasRoute(h1, new RegExp(`${chosen.replace(/\./g, '\\.')} via`))), 10_000);
    expect((await h2.docker('network', 'rm', 'net2')).code).toBe(0);
  });

  it('drops the routes when the mesh is off, and global peers bring them back', async () => {
    const [h1, h2] = lab.hosts as [LabHost, LabHost, LabHost];
    const c2 = (await h2.docker('inspect', '-f', '{{.NetworkSettings.Networks.net1.IPAddress}}', 'c2')).stdout.trim();
    const viaH2 = new RegExp(`${blockOf(c2)} via ${h2.ip}`);
    expect((await etcdctl('put', '/calico/bgp/v1/global/node_mesh', '{"enabled": false}')).code).toBe(0);
    await waitUntil('host 1 drops host 2\'s block', async () => !(await hasRoute(h1, viaH2)), 20_000);
    for (const host of lab.hosts) expect((await etcdctl('put', `/calico/bgp/v1/global/peer_v4/${host.ip}`, JSON.stringify({ ip: host.ip, as_num: '64511' }))).code).toBe(0);
    await waitUntil('host 1 routes host 2\'s block again', () => hasRoute(h1, viaH2), 20_000);
    await waitUntil('host 1 peers with host 2 as a global peer', async () => /Global_10_200_0_2\s+BGP\s+master\s+up/.test(await birdc(h1, 'show', 'protocols')), 20_000);
    // Its own address in the global list is no peer of its own.
    expect(await birdc(h1, 'show', 'protocols')).not.toContain('Global_10_200_0_1');
    await etcdctl('del', '--prefix', '/calico/bgp/v1/global/peer_v4/');
    await etcdctl('put', '/calico/bgp/v1/global/node_mesh', '{"enabled": true}');
    await waitUntil('the mesh is back', async () => (await established(h1)) === 2 && /Mesh_10_200_0_2\s+BGP\s+master\s+up/.test(await birdc(h1, 'show', 'protocols')), 30_000);
  });

  it('restarts BIRD when it is killed, and the routes come back', async () => {
    const [h1, h2] = lab.hosts as [LabHost, LabHost, LabHost];
    const c1 = (await h1.docker('inspect', '-f', '{{.NetworkSettings.Networks.net1.IPAddress}}', 'c1')).stdout.trim();
    const pid = await birdPid(h1);
    expect(pid).toMatch(/^\d+$/);
    process.kill(Number(pid), 'SIGKILL');
    await waitUntil('calico-node restarts BIRD', async () => /bird exited .*restarting/.test(h1.log('calico-node')), 10_000);
    await waitUntil('host 1 is meshed again', async () => (await established(h1)) === 2, 30_000);
    await waitUntil('host 2 routes host 1\'s block', () => hasRoute(h2, new RegExp(`${blockOf(c1)} via ${h1.ip}`)), 20_000);
  });

  it('keeps routing while calico-node is down and after it restarts (fail static)', async () => {
    const [h1, h2] = lab.hosts as [LabHost, LabHost, LabHost];
    const c1 = (await h1.docker('inspect', '-f', '{{.NetworkSettings.Networks.net1.IPAddress}}', 'c1')).stdout.trim();
    await waitUntil('c2 -> c1', () => pings(h2, 'c2', c1), 10_000);
    // The test before restarts host 1's BIRD: a second restart while host 2 still treats the
    // first as a graceful restart in progress flushes host 1's routes instead of keeping them.
    // So host 2 must have seen host 1's restart through (both sessions up, then End-of-RIB).
    await waitUntil('host 1 and host 2 meshed', async () => (await established(h1)) === 2 && (await established(h2)) === 2, 30_000);
    await new Promise((resolve) => setTimeout(resolve, 3000));
    await h1.kill('calico-node');
    // The agent and its BIRD are gone; the kernel keeps their rules and routes, and host 2 keeps
    // host 1's routes for the graceful-restart time. (A single ping may be lost on a busy machine,
    // so a few tries; a withdrawn route would fail them all, and the route is checked too.)
    expect(await hasRoute(h2, new RegExp(`${blockOf(c1)} via ${h1.ip}`))).toBe(true);
    await waitUntil('c2 -> c1 while calico-node is down', () => pings(h2, 'c2', c1), 5_000);
    expect(await hasRoute(h2, new RegExp(`${blockOf(c1)} via ${h1.ip}`))).toBe(true);
    await startNode(h1);
    await waitUntil('host 1 is meshed again', async () => (await established(h1)) === 2, 30_000);
    expect(await pings(h2, 'c2', c1)).toBe(true);
  });

  it('gives 30 containers started at once on the 3 hosts 30 distinct addresses', async () => {
    const started = await Promise.all(
      Array.from({ length: 30 }, (_, i) => {
        const host = lab.hosts[i % 3] as LabHost;
        return run(host, `burst${i}`);
      }),
    );
    expect(new Set(started).size).toBe(30);
    for (let i = 0; i < 30; i++) await (lab.hosts[i % 3] as LabHost).docker('rm', '-f', `burst${i}`);
  });

  it('frees a removed host\'s blocks, and the other hosts drop its routes', async () => {
    const [h1, , h3] = lab.hosts as [LabHost, LabHost, LabHost];
    const c3 = (await h3.docker('inspect', '-f', '{{.NetworkSettings.Networks.net1.IPAddress}}', 'c3')).stdout.trim();
    const viaH3 = new RegExp(`${blockOf(c3)} via ${h3.ip}`);
    expect(await hasRoute(h1, viaH3)).toBe(true);
    // The host goes away: its containers, its engine and its node.
    await h3.docker('rm', '-f', 'c3');
    await h3.kill('calico-node');
    await waitUntil('BIRD on host 3 stops with its node', async () => (await birdPid(h3)) === undefined, 10_000);
    const removed = await h1.calicoctl(['node', 'remove', `--hostname=${h3.name}`, '--remove-endpoints']);
    expect(removed).toMatchObject({ code: 0, stdout: 'Node configuration removed\n' });
    expect((await lab.etcdGet(`/calico/ipam/v2/host/${h3.name}/`)).trim()).toBe('');
    await waitUntil('host 1 drops host 3\'s block', async () => !(await hasRoute(h1, viaH3)), 30_000);
  });
});
