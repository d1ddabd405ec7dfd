import { addressOf, becomesReachable, pings, routes, runContainer, SERVERS, startCalicoLab, tcpConnects } from './harness/calico-lab';
import { type Lab, type LabHost, waitUntil } from './harness/lab';

/**
 * The advanced-policy tutorial across three hosts. With the lab's etcd as every dockerd's cluster
 * store, a network made once is one global network (one ID, one profile) on every host, so its
 * containers may sit on any host and the policy follows them: tags hold the addresses of members
 * on every host, and packets between hosts go by the routes BGP learned. Every verdict is a real
 * connection attempt (busybox nc -w 1 to httpd, ping -W 1) between this file's containers.
 */
jest.setTimeout(180_000);

type Probe = 'tcp 3306' | 'tcp 8080' | 'ping';
type Verdict = 'allowed' | 'dropped';

describe('the advanced-policy tutorial on three hosts, with global networks', () => {
  let lab: Lab;
  let h1: LabHost;
  let h2: LabHost;
  let h3: LabHost;
  /** Where each container runs, and its address. */
  const placed = new Map<string, { host: LabHost; ip: string }>();

  const create = async (host: LabHost, network: string) => {
    const result = await host.docker('network', 'create', '--driver', 'calico', '--ipam-driver', 'calico', network);
    if (result.code !== 0) throw new Error(`docker network create ${network} on ${host.name}: ${result.stderr}`);
  };
  /** calicoctl run word for word by an operator on a host; its output. */
  const calicoctl = async (host: LabHost, ...words: string[]) => {
    const result = await host.calicoctl(words);
    if (result.code !== 0) throw new Error(`calicoctl ${words.join(' ')} on ${host.name} (${result.code}): ${result.stderr}`);
    return result.stdout;
  };
  const place = async (host: LabHost, name: string, network: string) => {
    await runContainer(host, name, network, ['sh', '-c', SERVERS]);
    placed.set(name, { host, ip: await addressOf(host, name) });
  };
  const attempt = (from: string, to: string, probe: Probe): Promise<boolean> => {
    const source = placed.get(from)!;
    const target = placed.get(to)!.ip;
    return probe === 'ping' ? pings(source.host, from, target) : tcpConnects(source.host, from, target, Number(probe.slice(4)));
  };
  /**
   * Each connection's verdict. The allowed ones are tried until they get through (a rule takes a
   * moment to reach every host); the dropped ones are tried once all the allowed ones did, so the
   * change that should not let them through has arrived everywhere by then.
   */
  const verdicts = async (expected: ReadonlyArray<readonly [string, string, Probe, Verdict]>) => {
    const line = ([from, to, probe]: readonly [string, string, Probe, Verdict], allowed: boolean) => `${from} -> ${to} ${probe}: ${allowed ? 'allowed' : 'dropped'}`;
    const allowed = expected.filter((e) => e[3] === 'allowed');
    const dropped = expected.filter((e) => e[3] === 'dropped');
    const seen = await Promise.all(allowed.map(async (e) => line(e, await becomesReachable(() => attempt(e[0], e[1], e[2])))));
    seen.push(...(await Promise.all(dropped.map(async (e) => line(e, await attempt(e[0], e[1], e[2]))))));
    expect(seen).toEqual([...allowed, ...dropped].map((e) => line(e, e[3] === 'allowed')));
    // calicoctl policy trace on the sender's host computes the same verdicts from etcd alone: the
    // sender by its container name, the receiver (often on another host) by its address.
    const traced = await Promise.all([...allowed, ...dropped].map(async (e) => line(e, await traces(e[0], e[1], e[2]))));
    expect(traced).toEqual([...allowed, ...dropped].map((e) => line(e, e[3] === 'allowed')));
  };
  const traces = async (from: string, to: string, probe: Probe): Promise<boolean> => {
    const result = await placed.get(from)!.host.calicoctl(['policy', 'trace', from, placed.get(to)!.ip, ...(probe === 'ping' ? ['icmp'] : probe.split(' '))]);
    // Exit 1 is a dropped packet only when the verdict says so (the lab's exec puts its own words on stderr then).
    const verdict = result.stdout.trim().split('\n').at(-1);
    if (verdict !== (result.code === 0 ? 'Verdict: allowed' : 'Verdict: dropped')) throw new Error(`policy trace ${from} ${to} ${probe} (${result.code}): ${result.stdout}${result.stderr}`);
    return result.code === 0;
  };
  /** A dropped verdict means policy only if the packet could have got there: each host routes the others' blocks. */
  const routed = async () => {
    const blockOf = (ip: string) => {
      const [a, b, c, d] = ip.split('.').map(Number) as [number, number, number, number];
      return `${a}.${b}.${c}.${d - (d % 64)}/26`;
    };
    for (const [, { host: there, ip }] of placed) {
      for (const host of lab.hosts.filter((h) => h !== there)) {
        const route = `${blockOf(ip)} via ${there.ip} dev eth0 proto bird`;
        await waitUntil(`${host.name} routes ${route}`, async () => (await routes(host)).includes(route), 20_000);
      }
    }
  };

  beforeAll(async () => {
    lab = await startCalicoLab({ hosts: 3, clusterStore: true });
    [h1, h2, h3] = lab.hosts as [LabHost, LabHost, LabHost];
  }, 240_000);

  afterAll(async () => {
    await lab?.stop();
  }, 120_000);

  it('makes databases on host 1 a profile that calicoctl on host 3 shows with the default rules', async () => {
    await create(h1, 'databases');
    expect(await calicoctl(h3, 'profile', 'databases', 'rule', 'show')).toBe('Inbound rules:\n   1 allow from tag databases\nOutbound rules:\n   1 allow\n');
  });

  it('before the rule, only db2 (databases, host 2) reaches db1 (databases, host 1)', async () => {
    await create(h2, 'applications');
    await create(h3, 'other');
    await place(h1, 'db1', 'databases');
    await place(h2, 'db2', 'databases');
    await place(h3, 'app1', 'applications');
    await place(h2, 'other1', 'other');
    await routed();
    await verdicts([
      ['db2', 'db1', 'tcp 3306', 'allowed'],
      ['db2', 'db1', 'tcp 8080', 'allowed'],
      ['db2', 'db1', 'ping', 'allowed'],
      ['app1', 'db1', 'tcp 3306', 'dropped'],
      ['app1', 'db1', 'tcp 8080', 'dropped'],
      ['app1', 'db1', 'ping', 'dropped'],
      ['other1', 'db1', 'tcp 3306', 'dropped'],
      ['other1', 'db1', 'tcp 8080', 'dropped'],
      ['other1', 'db1', 'ping', 'dropped'],
    ]);
  });

  it('after `rule add inbound allow tcp from tag applications to ports 3306`, app1 (host 3) reaches db1 on 3306 only', async () => {
    // Word for word as the tutorial has them, on host 2: neither network's creator nor db1's host.
    expect(await calicoctl(h2, 'profile', 'databases', 'rule', 'add', 'inbound', 'allow', 'tcp', 'from', 'tag', 'applications', 'to', 'ports', '3306')).toBe('');
    expect(await calicoctl(h2, 'profile', 'databases', 'rule', 'show')).toBe(
      'Inbound rules:\n   1 allow from tag databases\n   2 allow tcp from tag applications to ports 3306\nOutbound rules:\n   1 allow\n',
    );
    await verdicts([
      ['app1', 'db1', 'tcp 3306', 'allowed'],
      ['db2', 'db1', 'tcp 3306', 'allowed'],
      ['db2', 'db1', 'tcp 8080', 'allowed'],
      ['db2', 'db1', 'ping', 'allowed'],
      ['app1', 'db1', 'tcp 8080', 'dropped'],
      ['app1', 'db1', 'ping', 'dropped'],
      ['other1', 'db1', 'tcp 3306', 'dropped'],
      ['other1', 'db1', 'tcp 8080', 'dropped'],
      ['other1', 'db1', 'ping', 'dropped'],
      // The rule lets applications into the databases, not the other way round.
      ['db1', 'app1', 'tcp 3306', 'dropped'],
    ]);
    // The matrix, from a host with none of the three networks' creators' containers, agrees.
    const matrix = JSON.parse(await calicoctl(h1, 'policy', 'matrix', '--network', 'databases', '--network', 'applications', 'tcp', '3306', '-o', 'json')) as {
      cells: { from: string; to: string; verdict: string }[];
    };
    expect(matrix.cells.map((c) => `${c.from} -> ${c.to}: ${c.verdict}`).sort()).toEqual([
      'applications -> applications: null',
      'applications -> databases: allow',
      'databases -> applications: drop',
      'databases -> databases: allow',
    ]);
  });

  it('with networks A, B and AB ("A and B") on three hosts, AB takes traffic from A and B while A and B stay apart', async () => {
    await create(h1, 'A');
    await create(h2, 'B');
    await create(h3, 'AB');
    await place(h1, 'a1', 'A');
    await place(h2, 'b1', 'B');
    await place(h3, 'ab1', 'AB');
    await place(h1, 'ab2', 'AB');
    await routed();
    // Only its own members reach a new network's containers.
    await verdicts([
      ['ab2', 'ab1', 'tcp 8080', 'allowed'],
      ['a1', 'ab1', 'tcp 8080', 'dropped'],
      ['b1', 'ab1', 'tcp 8080', 'dropped'],
      ['a1', 'b1', 'tcp 8080', 'dropped'],
    ]);
    // "the policy would be modified to allow ingress traffic from both A and B"
    await calicoctl(h3, 'profile', 'AB', 'rule', 'add', 'inbound', 'allow', 'from', 'tag', 'A');
    await calicoctl(h3, 'profile', 'AB', 'rule', 'add', 'inbound', 'allow', 'from', 'tag', 'B');
    expect(await calicoctl(h1, 'profile', 'AB', 'rule', 'show')).toBe('Inbound rules:\n   1 allow from tag AB\n   2 allow from tag A\n   3 allow from tag B\nOutbound rules:\n   1 allow\n');
    await verdicts([
      ['a1', 'ab1', 'tcp 8080', 'allowed'],
      ['a1', 'ab1', 'ping', 'allowed'],
      ['b1', 'ab1', 'tcp 3306', 'allowed'],
      ['b1', 'ab1', 'ping', 'allowed'],
      ['a1', 'ab2', 'tcp 8080', 'allowed'],
      ['ab2', 'ab1', 'tcp 8080', 'allowed'],
      // A and B still do not reach each other.
      ['a1', 'b1', 'tcp 8080', 'dropped'],
      ['a1', 'b1', 'ping', 'dropped'],
      ['b1', 'a1', 'tcp 8080', 'dropped'],
      ['b1', 'a1', 'ping', 'dropped'],
      // Ingress into AB only: A and B have not been told to take AB's traffic.
      ['ab1', 'a1', 'tcp 8080', 'dropped'],
      ['ab1', 'b1', 'tcp 8080', 'dropped'],
    ]);
    // A container on both A and B would reach both too: A and B take traffic from AB.
    await calicoctl(h2, 'profile', 'A', 'rule', 'add', 'inbound', 'allow', 'from', 'tag', 'AB');
    await calicoctl(h2, 'profile', 'B', 'rule', 'add', 'inbound', 'allow', 'from', 'tag', 'AB');
    await verdicts([
      ['ab1', 'a1', 'tcp 8080', 'allowed'],
      ['ab1', 'b1', 'tcp 8080', 'allowed'],
      ['ab2', 'b1', 'ping', 'allowed'],
      ['a1', 'ab1', 'tcp 8080', 'allowed'],
      ['b1', 'ab1', 'tcp 8080', 'allowed'],
      ['a1', 'b1', 'tcp 8080', 'dropped'],
      ['b1', 'a1', 'tcp 8080', 'dropped'],
    ]);
  });
});
