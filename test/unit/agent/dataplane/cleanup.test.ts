import { cleanupDataplane } from '../../../../src/agent/dataplane/cleanup';
import { Dataplane } from '../../../../src/agent/dataplane/driver';
import { silentLogger } from '../../../../src/agent/log';
import { dockerTable, FakeKernel, type FakeRoute } from '../../../fakes/fake-kernel';
import { APP1, DB1, DB2, feed, HOST, scenarioSnapshot } from './scenario';

/** A host after the agent ran the reference scenario, with other people's chains, sets and routes next to ours. */
async function programmedHost(kernel = new FakeKernel()): Promise<FakeKernel> {
  for (const e of [DB1, DB2, APP1]) kernel.links.add(e.iface);
  await kernel.run('ipset', ['restore'], 'create calico-hosts hash:ip family inet\nadd calico-hosts 10.0.0.1\ncreate admin6 hash:ip family inet6\n');
  await kernel.run(
    'iptables-restore',
    ['--noflush'],
    '*filter\n:caliente - [0:0]\n:MY-CHAIN - [0:0]\n-A caliente -j RETURN\n-A MY-CHAIN -m set --match-set calico-hosts src -j ACCEPT\n-I INPUT 1 -j MY-CHAIN\nCOMMIT\n',
  );
  await kernel.run('ip', ['-4', '-force', '-batch', '-'], 'route replace 10.50.0.0/24 dev eth0 proto static\n');
  const dataplane = new Dataplane(HOST, kernel, silentLogger, () => undefined, 30_000, { interfaceExists: (iface) => kernel.links.has(iface), sysctlRoot: '/nonexistent' });
  feed(dataplane).resync(scenarioSnapshot({ with3306: true }));
  await dataplane.settle();
  dataplane.stop();
  return kernel;
}

const foreignRoutes = (kernel: FakeKernel): FakeRoute[] => [...kernel.routes[4].values()].filter((r) => r.proto !== '157');

describe('cleanupDataplane', () => {
  it('removes our chains, jumps, sets, proto-157 routes and the routes BIRD installed, and nothing else', async () => {
    const kernel = await programmedHost();
    // Sanity: the agent did program the host.
    expect(kernel.chainsWithPrefix(4).size).toBeGreaterThan(10);
    expect(kernel.tables[4].get('INPUT')![0]).toBe('-j cali-INPUT');
    expect([...kernel.routes[4].values()].some((r) => r.proto === '157')).toBe(true);
    const before = {
      foreignChains: Object.fromEntries([...kernel.tables[4]].filter(([name]) => !name.startsWith('cali-'))),
      foreignChains6: Object.fromEntries([...kernel.tables[6]].filter(([name]) => !name.startsWith('cali-'))),
      routes: foreignRoutes(kernel),
    };
    const mark = kernel.calls.length;

    await cleanupDataplane(kernel, silentLogger);

    for (const family of [4, 6] as const) {
      expect(kernel.chainsWithPrefix(family).size).toBe(0);
      for (const chain of ['INPUT', 'FORWARD', 'OUTPUT']) expect(kernel.tables[family].get(chain)!.some((r) => r.includes('cali-'))).toBe(false);
    }
    // Everything that is not ours is exactly as it was (our jumps aside).
    const strip = (chains: Record<string, string[]>) => Object.fromEntries(Object.entries(chains).map(([k, v]) => [k, v.filter((r) => !/^-j cali-/.test(r))]));
    expect(Object.fromEntries(kernel.tables[4])).toEqual(strip(before.foreignChains));
    expect(Object.fromEntries(kernel.tables[6])).toEqual(strip(before.foreignChains6));
    expect(kernel.tables[4].get('INPUT')).toEqual(['-j MY-CHAIN', '-i lo -j ACCEPT']);
    expect(kernel.tables[4].get('FORWARD')).toEqual(dockerTable(4).get('FORWARD'));
    expect(kernel.tables[4].get('caliente')).toEqual(['-j RETURN']);
    expect(kernel.policies[4].get('FORWARD')).toBe('DROP');
    expect([...kernel.sets.keys()].sort()).toEqual(['admin6', 'calico-hosts']);
    expect([...kernel.sets.get('calico-hosts')!.members]).toEqual(['10.0.0.1']);
    expect(foreignRoutes(kernel)).toEqual(before.routes);
    expect([...kernel.routes[4].values()].some((r) => r.proto === '157')).toBe(false);
    expect(kernel.routes[4].get('10.50.0.0/24')).toMatchObject({ dev: 'eth0', proto: 'static' });

    // One transaction per family for the chains, one for the sets, a flush per family and owner for routes.
    expect(
      kernel.calls
        .slice(mark)
        .map((c) => `${c.file} ${c.args.join(' ')}`),
    ).toEqual([
      'iptables-save -t filter',
      'iptables-restore --noflush',
      'ip6tables-save -t filter',
      'ip6tables-restore --noflush',
      'iptables-save -t nat',
      'iptables-restore --noflush',
      'ipset list -n',
      'ipset restore',
      'ip -4 route flush proto 157',
      'ip -4 route flush proto 158',
      'ip -4 route flush proto bird',
      'ip -6 route flush proto 157',
      'ip -6 route flush proto bird',
    ]);
  });

  it('is idempotent: a second run on a clean host writes nothing', async () => {
    const kernel = await programmedHost();
    await cleanupDataplane(kernel, silentLogger);
    const mark = kernel.calls.length;
    await cleanupDataplane(kernel, silentLogger);
    const writes = kernel.calls.slice(mark).filter((c) => c.file.endsWith('-restore') || (c.file === 'ipset' && c.args[0] === 'restore'));
    expect(writes).toEqual([]);
  });

  it('removes duplicated jumps too', async () => {
    const kernel = await programmedHost();
    await kernel.run('iptables-restore', ['--noflush'], '*filter\n-A FORWARD -j cali-FORWARD\nCOMMIT\n');
    expect(kernel.tables[4].get('FORWARD')!.filter((r) => r === '-j cali-FORWARD')).toHaveLength(2);
    await cleanupDataplane(kernel, silentLogger);
    expect(kernel.tables[4].get('FORWARD')).toEqual(dockerTable(4).get('FORWARD'));
    expect(kernel.chainsWithPrefix(4).size).toBe(0);
  });

  it('skips IPv6 on a host without ip6tables', async () => {
    const kernel = new FakeKernel();
    kernel.ipv6 = false;
    await programmedHost(kernel);
    await cleanupDataplane(kernel, silentLogger);
    expect(kernel.chainsWithPrefix(4).size).toBe(0);
    expect([...kernel.sets.keys()].sort()).toEqual(['admin6', 'calico-hosts']);
    expect(kernel.callsOf('ip6tables-restore')).toEqual([]);
  });

  it('reports a route flush that fails but still finishes', async () => {
    const kernel = await programmedHost();
    const warnings: string[] = [];
    kernel.failOnce((c) => c.file === 'ip' && c.args[0] === '-6');
    await cleanupDataplane(kernel, { ...silentLogger, warning: (m) => warnings.push(m) });
    expect(warnings).toEqual([expect.stringMatching(/Could not remove IPv6 routes/)]);
    expect([...kernel.routes[4].values()].some((r) => r.proto === '157')).toBe(false);
  });
});
