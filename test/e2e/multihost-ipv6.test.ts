import { blockOf } from '../../src/datastore/blocks';
import { addressOf, becomesReachable, birdc, birdDaemons, established, pings, routes, runContainer, SERVERS, startCalicoLab, startNode, tcpConnects, waitForMesh } from './harness/calico-lab';
import { type Lab, type LabHost, waitUntil } from './harness/lab';

/**
 * IPv6 between hosts, and connections that outlive calico-node. Two lab hosts run calico-node with
 * --ip and --ip6, so BIRD and bird6 each mesh over the hosts' own addresses; one global network
 * (the lab's etcd is every dockerd's cluster store) made with --ipv6 gives each container an
 * address of each family from the default pools calico-node made, in /26 and /122 blocks held by its host and
 * announced over BGP. Every check is a real packet between this file's two containers.
 */
jest.setTimeout(180_000);

const NETWORK = 'dual';
const POOL_V6 = 'fd80:24e2:f998:72d6::/64';

describe('IPv6 across hosts with bird6, and established connections across a calico-node restart', () => {
  let lab: Lab;
  let h1: LabHost;
  let h2: LabHost;
  const v4 = new Map<LabHost, string>();
  const v6 = new Map<LabHost, string>();

  beforeAll(async () => {
    lab = await startCalicoLab({ hosts: 2, clusterStore: true });
    [h1, h2] = lab.hosts as [LabHost, LabHost];
    const created = await h1.docker('network', 'create', '--driver', 'calico', '--ipam-driver', 'calico', '--ipv6', NETWORK);
    if (created.code !== 0) throw new Error(`docker network create --ipv6: ${created.stderr}`);
    for (const host of lab.hosts) {
      await runContainer(host, `c${host.index}`, NETWORK, ['sh', '-c', SERVERS]);
      v4.set(host, await addressOf(host, `c${host.index}`, 4));
      v6.set(host, await addressOf(host, `c${host.index}`, 6));
    }
  }, 240_000);

  afterAll(async () => {
    await lab?.stop();
  }, 120_000);

  it('has the default IPv6 pool, made by calico-node as the hosts have IPv6', async () => {
    const shown = await h2.calicoctl(['pool', 'show', '--ipv6']);
    expect(shown).toMatchObject({ code: 0, stdout: expect.stringContaining(POOL_V6) });
    expect(lab.hosts.filter((host) => host.log('calico-node').includes(`Created the default IPv6 pool ${POOL_V6}`))).toHaveLength(1);
  });

  it('runs bird6 on every host, its sessions Established between the hosts\' --ip6 addresses', async () => {
    for (const host of lab.hosts) await waitForMesh(host, 6);
    const session = await birdc(h1, 6, 'show', 'protocols', 'all', 'Mesh_fd00_200__2');
    expect(session).toMatch(/Mesh_fd00_200__2\s+BGP\s+master\s+up\s+\S+\s+Established/);
    expect(session).toMatch(/Neighbor address:\s+fd00:200::2\s/);
    expect(session).toMatch(/Source address:\s+fd00:200::1\s/);
    // Graceful restart is on, so that host 2 keeps host 1's routes while host 1's BIRD restarts.
    expect(session).toMatch(/Neighbor caps:.* restart-able/);
    // IPv4's BIRD has its own sessions, between the --ip addresses.
    expect(await established(h1, 4)).toBe(1);
  });

  it('gives each container an IPv6 address in a /122 block its host holds, announced to the other host', async () => {
    for (const host of lab.hosts) expect(blockOf(v6.get(host)!, 6)).toMatch(/^fd80:24e2:f998:72d6:/);
    const blocks = lab.hosts.map((host) => blockOf(v6.get(host)!, 6));
    expect(new Set(blocks).size).toBe(2);
    for (const [i, host] of lab.hosts.entries()) {
      const other = lab.hosts[1 - i]!;
      expect((await host.calicoctl(['ipam', 'info', v6.get(host)!])).stdout).toContain(`held by host ${host.name}`);
      // Its own block is a blackhole that bird6 announces; the other host's is a route via that host's --ip6.
      await waitUntil(`${host.name} blackholes ${blocks[i]}`, async () => new RegExp(`blackhole ${blocks[i]} .*proto bird`).test(await routes(host, 6)), 20_000);
      await waitUntil(`${host.name} routes ${blocks[1 - i]} via ${other.ip6}`, async () => (await routes(host, 6)).includes(`${blocks[1 - i]} via ${other.ip6} dev eth0 proto bird`), 20_000);
      // The containers' own /128s stay inside their hosts.
      expect(await routes(host, 6)).not.toContain(`${v6.get(other)} via`);
    }
  });

  it('carries ICMPv6 and TCP over IPv6 between containers on the two hosts, both ways', async () => {
    expect(await becomesReachable(() => pings(h1, 'c1', v6.get(h2)!))).toBe(true);
    expect(await becomesReachable(() => pings(h2, 'c2', v6.get(h1)!))).toBe(true);
    expect(await becomesReachable(() => tcpConnects(h1, 'c1', v6.get(h2)!, 8080))).toBe(true);
    expect(await becomesReachable(() => tcpConnects(h2, 'c2', v6.get(h1)!, 3306))).toBe(true);
  });

  /** Lines the listener in c1 has written to one of its files: the numbers the stream carried. */
  const received = async (file: string): Promise<number[]> => {
    const out = (await h1.docker('exec', 'c1', 'cat', file)).stdout;
    // Whole lines only: the last one may still be on its way.
    return out.split('\n').slice(0, -1).map(Number);
  };
  /** c1's established TCP connections on a local port, as "local remote" hex pairs from /proc/net/tcp and tcp6. */
  const connections = async (port: number): Promise<string[]> => {
    const out = (await h1.docker('exec', 'c1', 'cat', '/proc/net/tcp', '/proc/net/tcp6')).stdout;
    const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
    return out
      .split('\n')
      .map((line) => line.trim().split(/\s+/))
      // sl local remote st ...: st 01 is ESTABLISHED.
      .filter((fields) => fields[1]?.endsWith(`:${hexPort}`) && fields[3] === '01')
      .map((fields) => `${fields[1]} ${fields[2]}`);
  };

  it('keeps an established TCP stream over IPv4 and IPv6 open while calico-node on the listener\'s host stops and restarts', async () => {
    // One listener per family in c1 on host 1. nc -l takes one connection, and its stdin must stay
    // open: at EOF it would shut its side down and the client's nc would exit.
    const streams = [
      { family: 4, port: 7004, file: '/tmp/stream4', target: v4.get(h1)! },
      { family: 6, port: 7006, file: '/tmp/stream6', target: v6.get(h1)! },
    ] as const;
    for (const s of streams) {
      expect((await h1.docker('exec', '-d', 'c1', 'sh', '-c', `sleep 86400 | nc -l -p ${s.port} > ${s.file}`)).code).toBe(0);
    }
    await waitUntil('c1 listens', async () => {
      const out = (await h1.docker('exec', 'c1', 'busybox', 'netstat', '-ltn')).stdout;
      return streams.every((s) => out.includes(`:${s.port} `));
    }, 10_000);
    // c2 on host 2 sends a counter five times a second, each stream on one connection for good:
    // when its nc exits, the loop dies on the broken pipe and nothing reconnects.
    for (const s of streams) {
      const writer = `i=0; while true; do i=$((i+1)); echo $i; sleep 0.2; done | nc ${s.target} ${s.port}`;
      expect((await h2.docker('exec', '-d', 'c2', 'sh', '-c', writer)).code).toBe(0);
    }
    for (const s of streams) await waitUntil(`the IPv${s.family} stream flows`, async () => (await received(s.file)).length >= 5, 10_000);
    const before = await Promise.all(streams.map((s) => connections(s.port)));
    for (const list of before) expect(list).toHaveLength(1);

    await h1.kill('calico-node');
    // BIRD and bird6 went with it, without a goodbye: host 2 keeps host 1's routes meanwhile.
    await waitUntil('BIRD and bird6 on host 1 stop with calico-node', async () => birdDaemons(h1).length === 0, 10_000);
    for (const [family, ip] of [[4, v4.get(h1)!], [6, v6.get(h1)!]] as const) {
      expect(await routes(h2, family)).toContain(`${blockOf(ip, family)} via ${family === 4 ? h1.ip : h1.ip6} dev eth0 proto bird`);
    }
    const during = await Promise.all(streams.map(async (s) => (await received(s.file)).length));
    for (const [i, s] of streams.entries()) await waitUntil(`the IPv${s.family} stream flows while calico-node is down`, async () => (await received(s.file)).length >= during[i]! + 5, 10_000);

    await startNode(h1);
    await waitForMesh(h1, 4);
    await waitForMesh(h1, 6);
    const restarted = await Promise.all(streams.map(async (s) => (await received(s.file)).length));
    for (const [i, s] of streams.entries()) {
      await waitUntil(`the IPv${s.family} stream flows after the restart`, async () => (await received(s.file)).length >= restarted[i]! + 5, 10_000);
      // The same connection, and every number in order: nothing lost, nothing started again.
      expect(await connections(s.port)).toEqual(before[i]);
      const numbers = await received(s.file);
      expect(numbers).toEqual(numbers.map((_, k) => k + 1));
    }
  });
});
