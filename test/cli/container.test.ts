import { DatastoreUnavailableError } from '../../src/datastore/errors';
import type { FakeWorld } from '../fakes/cli';
import { fakeWorld } from '../fakes/cli';
import { FakeNetns } from '../fakes/fake-netns';
import { fails, mustRun, ok, runUnchanged, usage } from './helpers';

// `calicoctl container …` in-process: Docker and iproute2 faked (test/fakes/cli.ts,
// test/fakes/fake-netns.ts), etcd in memory. The e2e proof with real containers and packets is
// test/e2e/container.test.ts.

const WEB_ID = 'a1'.repeat(32);
const DB_ID = 'b2'.repeat(32);
const workloadPrefix = (id: string) => `/calico/v1/host/host1/workload/docker/${id}/`;

interface World {
  world: FakeWorld;
  netns: FakeNetns;
}

async function containerWorld(): Promise<World> {
  const world = fakeWorld();
  const netns = new FakeNetns();
  world.runner = netns;
  world.docker.inspectable = [
    { name: 'web', id: WEB_ID, running: true, pid: 101, networkMode: 'none' },
    { name: 'db', id: DB_ID, running: true, pid: 102, networkMode: 'default' },
    { name: 'stopped', id: 'c3'.repeat(32), running: false, pid: 0, networkMode: 'none' },
    { name: 'hostnet', id: 'd4'.repeat(32), running: true, pid: 104, networkMode: 'host' },
    { name: 'sidecar', id: 'e5'.repeat(32), running: true, pid: 105, networkMode: `container:${WEB_ID}` },
  ];
  netns.addNamespace(101);
  netns.addNamespace(102, 'eth0');
  await mustRun(world, ['pool', 'add', '10.65.0.0/16']);
  await mustRun(world, ['pool', 'add', 'fd65::/64']);
  await mustRun(world, ['profile', 'add', 'web']);
  await mustRun(world, ['profile', 'add', 'db']);
  return { world, netns };
}

/** The endpoints stored for a container, as [key, value]. */
function stored(world: FakeWorld, id: string): [string, Record<string, unknown>][] {
  return Object.entries(world.kv.dump()).filter(([key]) => key.startsWith(workloadPrefix(id))) as [string, Record<string, unknown>][];
}

function onlyEndpoint(world: FakeWorld, id: string): Record<string, unknown> {
  const endpoints = stored(world, id);
  expect(endpoints).toHaveLength(1);
  return (endpoints[0] as [string, Record<string, unknown>])[1];
}

/** The root namespace's links, the container's links and routes, and etcd: what a failure must leave as it was. */
function snapshot({ world, netns }: World, pid: number): unknown {
  return { root: netns.state('root'), ns: netns.state(String(pid)), kv: world.kv.dump() };
}

describe('container add', () => {
  it('makes the veth into the container, assigns the address and writes the endpoint', async () => {
    const { world, netns } = await containerWorld();
    expect(await world.run(['container', 'add', 'web', '10.65.0.5'])).toEqual(ok('IP 10.65.0.5 added to web\n'));
    const [key, value] = stored(world, WEB_ID)[0] as [string, Record<string, unknown>];
    const endpointId = key.split('/').at(-1) as string;
    expect(endpointId).toMatch(/^[0-9a-f]{32}$/);
    expect(value).toEqual({
      state: 'active',
      name: `cali${endpointId.slice(0, 11)}`,
      mac: 'EE:EE:EE:EE:EE:EE',
      profile_ids: [],
      labels: {},
      ipv4_nets: ['10.65.0.5/32'],
      ipv6_nets: [],
    });
    expect(netns.state('root').links).toEqual([`cali${endpointId.slice(0, 11)}`]);
    expect(netns.state('101')).toEqual({ links: ['lo', 'eth1 10.65.0.5/32'], routes: ['-4 169.254.1.1 dev eth1 scope link', '-4 default via 169.254.1.1 dev eth1'] });
    expect(netns.links.find((l) => l.name === 'eth1')?.mac).toBe('ee:ee:ee:ee:ee:ee');
    // The address is assigned in IPAM, for this host and this container.
    expect(await mustRun(world, ['ipam', 'info', '10.65.0.5'])).toContain(WEB_ID);
  });

  it('takes any free address of a family or of a pool, on the interface asked for', async () => {
    const { world, netns } = await containerWorld();
    expect(await world.run(['container', 'add', 'db', 'ipv6', '--interface=cali1'])).toEqual(ok('IP fd65::1 added to db\n'));
    expect(onlyEndpoint(world, DB_ID)).toMatchObject({ ipv4_nets: [], ipv6_nets: ['fd65::1/128'] });
    // On Docker's bridge the Calico interface is an extra one.
    expect(netns.state('102')).toEqual({ links: ['lo', 'eth0', 'cali1 fd65::1/128'], routes: ['-6 default via fe80::ecee:eeff:feee:eeee dev cali1'] });
    expect(await world.run(['container', 'add', 'web', '10.65.0.0/16'])).toEqual(ok('IP 10.65.0.1 added to web\n'));
    expect(await world.run(['container', 'remove', 'web'])).toEqual(ok('Removed Calico from web\n'));
    expect(await world.run(['container', 'add', WEB_ID.slice(0, 12), 'IPv4'])).toEqual(ok(expect.stringMatching(new RegExp(`^IP 10\\.65\\.0\\.\\d+ added to ${WEB_ID.slice(0, 12)}\n$`))));
  });

  it.each([
    [['container', 'add', 'nobody', '10.65.0.5'], 'Container nobody was not found.'],
    [['container', 'add', 'stopped', '10.65.0.5'], 'stopped is not currently running.'],
    [['container', 'add', 'hostnet', '10.65.0.5'], "Can't add hostnet to Calico because it is running NetworkMode = host."],
    [['container', 'add', 'sidecar', '10.65.0.5'], `Can't add sidecar to Calico because it shares the network of ${WEB_ID}.`],
    [['container', 'add', 'web', '10.66.0.5'], '10.66.0.5 is not in any Calico IP pool.'],
    [['container', 'add', 'web', 'fd66::5'], 'fd66::5 is not in any Calico IP pool.'],
    [['container', 'add', 'web', '10.66.0.0/16'], 'Invalid CIDR specified for desired pool. No pool found for 10.66.0.0/16.'],
    [['container', 'add', 'web', '10.65.0.0/24'], 'Invalid CIDR specified for desired pool. No pool found for 10.65.0.0/24.'],
    [['container', 'add', 'web', 'bogus'], 'Invalid IP address specified.  Argument must be a valid IP or CIDR.'],
    [['container', 'add', 'web', '10.65.0.5/33'], 'Invalid IP address specified.  Argument must be a valid IP or CIDR.'],
    [['container', 'add', 'db', '10.65.0.5', '--interface', 'eth0'], 'db already has an interface eth0: name another with --interface.'],
  ])('refuses %j in one line, leaving etcd and the kernel as they were', async (argv, message) => {
    const w = await containerWorld();
    const before = snapshot(w, 101);
    expect(await runUnchanged(w.world, argv)).toEqual(fails(message));
    expect(snapshot(w, 101)).toEqual(before);
  });

  it('refuses a taken address, and a container that has Calico networking already', async () => {
    const w = await containerWorld();
    await mustRun(w.world, ['container', 'add', 'web', '10.65.0.5']);
    const before = snapshot(w, 102);
    expect(await runUnchanged(w.world, ['container', 'add', 'db', '10.65.0.5'])).toEqual(fails('IP address 10.65.0.5 is already assigned.'));
    expect(await runUnchanged(w.world, ['container', 'add', 'web', '10.65.0.6'])).toEqual(fails('web has already been configured with Calico Networking.'));
    expect(snapshot(w, 102)).toEqual(before);
  });

  it('refuses an address of a family that has no pool', async () => {
    const w = await containerWorld();
    await mustRun(w.world, ['pool', 'remove', 'fd65::/64']);
    const before = snapshot(w, 101);
    expect(await runUnchanged(w.world, ['container', 'add', 'web', 'ipv6'])).toEqual(fails("No IPv6 pool to assign an address from: add one with 'calicoctl pool add'."));
    expect(await runUnchanged(w.world, ['container', 'add', 'web', 'fd65::1'])).toEqual(fails('fd65::1 is not in any Calico IP pool.'));
    expect(snapshot(w, 101)).toEqual(before);
  });

  it('refuses without root', async () => {
    const { world } = await containerWorld();
    world.host = { ...world.host, isRoot: () => false };
    expect(await runUnchanged(world, ['container', 'add', 'web', '10.65.0.5'])).toEqual(fails('This command must be run as root.'));
  });

  it.each([
    ['the veth cannot be made', /link add/],
    ['the container end cannot be moved', /netns 101/],
    ['it cannot be renamed', /name eth1/],
    ['the address is refused', /addr add/],
    ['the route is refused', /default via/],
  ])('undoes everything when %s', async (_, step) => {
    const w = await containerWorld();
    const before = snapshot(w, 101);
    w.netns.failOn(step);
    const result = await w.world.run(['container', 'add', 'web', '10.65.0.5']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^Could not set up the network of web: .*RTNETLINK answers: Operation not permitted\n$/);
    expect(snapshot(w, 101)).toEqual(before);
    // The address is free again: IPAM's block may stay, but nothing in it is assigned.
    expect((await w.world.run(['ipam', 'info', '10.65.0.5'])).stderr).toBe('IP 10.65.0.5 is not currently assigned\n');
  });

  it('undoes the kernel work and the address when etcd refuses the endpoint', async () => {
    const w = await containerWorld();
    const root = w.netns.state('root');
    const ns = w.netns.state('101');
    const commit = w.world.kv.commit.bind(w.world.kv);
    w.world.kv.commit = async (guards, ops) => {
      if (ops.some((op) => op.type === 'put' && op.key.includes('/workload/docker/'))) throw new DatastoreUnavailableError('etcd went away');
      return commit(guards, ops);
    };
    expect(await w.world.run(['container', 'add', 'web', '10.65.0.5'])).toEqual(fails('etcd went away'));
    expect(w.netns.state('root')).toEqual(root);
    expect(w.netns.state('101')).toEqual(ns);
    expect((await w.world.run(['ipam', 'info', '10.65.0.5'])).stderr).toBe('IP 10.65.0.5 is not currently assigned\n');
  });

  it('with --dry-run says what it would do, and does none of it', async () => {
    const w = await containerWorld();
    const before = snapshot(w, 101);
    const result = await w.world.run(['container', 'add', 'web', '10.65.0.5', '--dry-run']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Would set \/calico\/ipam\/v2\/assignment\/ipv4\/block\/10\.65\.0\.0-26 to /m);
    expect(result.stdout).toMatch(/^Would run ip link add cali[0-9a-f]{11} type veth peer name tmp[0-9a-f]{11}$/m);
    expect(result.stdout).toMatch(/^Would run nsenter -t 101 -n ip -4 addr add 10\.65\.0\.5\/32 dev eth1$/m);
    expect(result.stdout).toMatch(/^Would set \/calico\/v1\/host\/host1\/workload\/docker\/a1a1/m);
    expect(snapshot(w, 101)).toEqual(before);
  });
});

describe('container <CONTAINER> ip add|remove', () => {
  it('adds and removes a second address, on the interface and in etcd', async () => {
    const { world, netns } = await containerWorld();
    await mustRun(world, ['container', 'add', 'web', '10.65.0.5']);
    expect(await world.run(['container', 'web', 'ip', 'add', '10.65.0.6'])).toEqual(ok('IP 10.65.0.6 added to web\n'));
    expect(onlyEndpoint(world, WEB_ID)).toMatchObject({ ipv4_nets: ['10.65.0.5/32', '10.65.0.6/32'] });
    expect(netns.state('101').links).toEqual(['lo', 'eth1 10.65.0.5/32 10.65.0.6/32']);
    // A first IPv6 address also gets the IPv6 route.
    expect(await world.run(['container', 'web', 'ip', 'add', 'ipv6'])).toEqual(ok('IP fd65::1 added to web\n'));
    expect(netns.state('101').routes).toContain('-6 default via fe80::ecee:eeff:feee:eeee dev eth1');
    expect(await world.run(['container', 'web', 'ip', 'remove', '10.65.0.6'])).toEqual(ok('IP 10.65.0.6 removed from web\n'));
    expect(await world.run(['container', 'web', 'ip', 'remove', 'fd65::1'])).toEqual(ok('IP fd65::1 removed from web\n'));
    expect(onlyEndpoint(world, WEB_ID)).toMatchObject({ ipv4_nets: ['10.65.0.5/32'], ipv6_nets: [] });
    expect(netns.state('101').links).toEqual(['lo', 'eth1 10.65.0.5/32']);
    expect((await world.run(['ipam', 'info', '10.65.0.6'])).stderr).toBe('IP 10.65.0.6 is not currently assigned\n');
  });

  it.each([
    [['container', 'db', 'ip', 'add', '10.65.0.6'], "Container db is unknown to Calico: add it with 'calicoctl container add' first."],
    [['container', 'nobody', 'ip', 'add', '10.65.0.6'], 'Container nobody was not found.'],
    [['container', 'web', 'ip', 'add', '10.65.0.5'], 'IP address 10.65.0.5 is already assigned.'],
    [['container', 'web', 'ip', 'add', '10.99.0.1'], '10.99.0.1 is not in any Calico IP pool.'],
    [['container', 'web', 'ip', 'add', '10.65.0.6', '--interface', 'eth9'], 'Interface eth9 does not exist in web.'],
    [['container', 'web', 'ip', 'remove', '10.65.0.9'], 'IP address 10.65.0.9 is not assigned to web.'],
    [['container', 'web', 'ip', 'remove', 'ipv4'], 'Invalid IP address specified.  Argument must be a valid IP or CIDR.'],
    [['container', 'web', 'ip', 'remove', '10.65.0.5', '--interface', 'eth9'], 'Interface eth9 does not exist in web.'],
  ])('refuses %j in one line, leaving etcd and the kernel as they were', async (argv, message) => {
    const w = await containerWorld();
    await mustRun(w.world, ['container', 'add', 'web', '10.65.0.5']);
    const before = snapshot(w, 101);
    expect(await runUnchanged(w.world, argv)).toEqual(fails(message));
    expect(snapshot(w, 101)).toEqual(before);
  });

  it('undoes ip add when the kernel refuses the address, and ip remove when it cannot take it off', async () => {
    const w = await containerWorld();
    await mustRun(w.world, ['container', 'add', 'web', '10.65.0.5']);
    const before = snapshot(w, 101);
    const endpoints = stored(w.world, WEB_ID);
    w.netns.failOn(/addr add 10\.65\.0\.6/);
    expect((await w.world.run(['container', 'web', 'ip', 'add', '10.65.0.6'])).code).toBe(1);
    // The block's free list is in another order now; what it assigns is as it was.
    expect({ ...(snapshot(w, 101) as object), kv: stored(w.world, WEB_ID) }).toEqual({ ...(before as object), kv: endpoints });
    expect((await w.world.run(['ipam', 'info', '10.65.0.6'])).stderr).toBe('IP 10.65.0.6 is not currently assigned\n');
    w.netns.failOn(/addr del 10\.65\.0\.5/);
    expect((await w.world.run(['container', 'web', 'ip', 'remove', '10.65.0.5'])).code).toBe(1);
    expect(onlyEndpoint(w.world, WEB_ID)).toMatchObject({ ipv4_nets: ['10.65.0.5/32'] });
    expect(w.netns.state('101')).toEqual((before as { ns: unknown }).ns);
    expect(await mustRun(w.world, ['ipam', 'info', '10.65.0.5'])).toContain(WEB_ID);
  });
});

describe('container remove', () => {
  it('removes the veth, releases the addresses and deletes the endpoint', async () => {
    const { world, netns } = await containerWorld();
    const before = world.kv.dump();
    await mustRun(world, ['container', 'add', 'web', '10.65.0.5']);
    await mustRun(world, ['container', 'web', 'ip', 'add', 'fd65::7']);
    expect(await world.run(['container', 'remove', 'web'])).toEqual(ok('Removed Calico from web\n'));
    expect(netns.state('root').links).toEqual([]);
    expect(netns.state('101')).toEqual({ links: ['lo'], routes: [] });
    expect(stored(world, WEB_ID)).toEqual([]);
    // IPAM keeps this host's blocks (as for the plugin's containers), with nothing assigned in them.
    expect(await mustRun(world, ['ipam', 'info', '10.65.0.5']).catch((e: Error) => e.message)).toMatch(/not currently assigned/);
    expect(Object.keys(world.kv.dump()).filter((k) => !k.startsWith('/calico/ipam/'))).toEqual(Object.keys(before).filter((k) => !k.startsWith('/calico/ipam/')));
  });

  it('removes the endpoint of a container Docker no longer knows, by its full ID', async () => {
    const { world, netns } = await containerWorld();
    await mustRun(world, ['container', 'add', 'web', '10.65.0.5']);
    world.docker.inspectable = world.docker.inspectable.filter((c) => c.name !== 'web');
    netns.links.splice(0, netns.links.length); // the namespace died with the container, and its veth
    expect(await world.run(['container', WEB_ID, 'endpoint', 'show'])).toMatchObject({ code: 0 });
    expect(await world.run(['container', 'remove', WEB_ID])).toEqual(ok(`Removed Calico from ${WEB_ID}\n`));
    expect(stored(world, WEB_ID)).toEqual([]);
  });

  it.each([
    [['container', 'remove', 'nobody'], 'Container nobody was not found.'],
    [['container', 'remove', 'db'], "Container db is unknown to Calico: add it with 'calicoctl container add' first."],
  ])('refuses %j in one line', async (argv, message) => {
    const w = await containerWorld();
    expect(await runUnchanged(w.world, argv)).toEqual(fails(message));
  });

  it('never deletes an interface that a stored endpoint names but this tool did not make', async () => {
    const { world, netns } = await containerWorld();
    netns.addNamespace(1, 'eth0');
    world.kv.seed(`${workloadPrefix(DB_ID)}endpoint/0123456789abcdef0123456789abcdef`, { state: 'active', name: 'eth0', mac: '', profile_ids: [], ipv4_nets: [], ipv6_nets: [] });
    expect(await world.run(['container', 'remove', 'db'])).toEqual(ok('Removed Calico from db\n'));
    expect(netns.calls.filter((c) => c.includes('del'))).toEqual([]);
  });
});

describe('container <CONTAINER> endpoint show and profile …', () => {
  it('shows the endpoint and edits its profiles as the endpoint verbs do', async () => {
    const { world } = await containerWorld();
    await mustRun(world, ['container', 'add', 'web', '10.65.0.5']);
    const table = await mustRun(world, ['container', 'web', 'endpoint', 'show']);
    expect(table).toMatch(/\|\s+host1\s+\|\s+docker\s+\|/);
    expect(table).toContain(WEB_ID);
    expect(table).toContain('10.65.0.5/32');
    expect(await world.run(['container', 'web', 'profile', 'show'])).toEqual(ok('Endpoint has no profiles associated with it.\n'));
    expect(await world.run(['container', 'web', 'profile', 'set', 'web'])).toEqual(ok('Profile(s) set to web.\n'));
    expect(await world.run(['container', 'web', 'profile', 'append', 'db'])).toEqual(ok('Profile(s) db appended.\n'));
    expect(onlyEndpoint(world, WEB_ID)).toMatchObject({ profile_ids: ['web', 'db'] });
    expect(await world.run(['container', 'web', 'profile', 'remove', 'web'])).toEqual(ok('Profile(s) web removed.\n'));
    expect(await world.run(['container', 'web', 'profile', 'set'])).toEqual(ok('Removed all profiles from endpoint.\n'));
    expect(onlyEndpoint(world, WEB_ID)).toMatchObject({ profile_ids: [] });
  });

  it.each([
    [['container', 'web', 'profile', 'set', 'nosuch'], 'Profile with name nosuch was not found.'],
    [['container', 'web', 'profile', 'append'], 'No profile specified.', 2],
    [['container', 'db', 'profile', 'set', 'web'], "Container db is unknown to Calico: add it with 'calicoctl container add' first."],
    [['container', 'db', 'endpoint', 'show'], "Container db is unknown to Calico: add it with 'calicoctl container add' first."],
    [['container', 'nobody', 'endpoint', 'show'], 'Container nobody was not found.'],
  ])('refuses %j in one line', async (argv, message, code = 1) => {
    const w = await containerWorld();
    await mustRun(w.world, ['container', 'add', 'web', '10.65.0.5']);
    expect(await runUnchanged(w.world, argv as string[])).toEqual(fails(message as string, code as number));
  });

  it('says which words it expected after the container', async () => {
    const { world } = await containerWorld();
    expect(await world.run(['container', 'web', 'rule', 'show'])).toEqual(
      usage("Expected 'ip' or 'endpoint' or 'profile' after 'container web', found 'rule'. See 'calicoctl container --help'."),
    );
  });

  it('says so when Docker cannot be reached', async () => {
    const { world } = await containerWorld();
    world.docker.networks = undefined;
    const result = await runUnchanged(world, ['container', 'add', 'web', '10.65.0.5']);
    expect(result).toMatchObject({ code: 1, stderr: expect.stringMatching(/^Cannot connect to the Docker daemon .*\n$/) });
  });
});

describe('container add, IPv6 turned off in the container', () => {
  it('says how to turn it on, and leaves nothing behind', async () => {
    const w = await containerWorld();
    const before = snapshot(w, 101);
    w.netns.failOn(/ip -6 addr add/, 'Error: ipv6: IPv6 is disabled on this device.');
    const result = await w.world.run(['container', 'add', 'web', 'fd65::5']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'Could not set up the network of web: nsenter -t 101 -n ip -6…: Error: ipv6: IPv6 is disabled on this device. (Docker turns IPv6 off in a container whose networks have none: start it with --sysctl net.ipv6.conf.all.disable_ipv6=0)\n',
    );
    expect(snapshot(w, 101)).toEqual(before);
  });
});

describe('container <NAMESPACE PATH>', () => {
  const BLUE = '/var/run/netns/blue';
  const BLUE_ID = '-var-run-netns-blue';

  it('networks a namespace named by its path: orchestrator namespace, workload the path with / as -', async () => {
    const { world, netns } = await containerWorld();
    netns.addNamespacePath(BLUE);
    expect(await world.run(['container', 'add', BLUE, '10.65.0.9'])).toEqual(ok(`IP 10.65.0.9 added to ${BLUE}\n`));
    expect(netns.state(BLUE)).toEqual({ links: ['lo', 'eth1 10.65.0.9/32'], routes: ['-4 169.254.1.1 dev eth1 scope link', '-4 default via 169.254.1.1 dev eth1'] });
    expect(netns.calls).toContainEqual(expect.stringMatching(new RegExp(`^ip link set tmp\\w+ netns ${BLUE}$`)));
    const keys = Object.keys(world.kv.dump()).filter((k) => k.startsWith(`/calico/v1/host/host1/workload/namespace/${BLUE_ID}/endpoint/`));
    expect(keys).toHaveLength(1);

    await mustRun(world, ['container', BLUE, 'ip', 'add', '10.65.0.10']);
    await mustRun(world, ['container', BLUE, 'profile', 'set', 'web']);
    expect((await mustRun(world, ['container', BLUE, 'profile', 'show']))).toMatch(/web/);
    expect(await world.run(['container', BLUE, 'endpoint', 'show'])).toMatchObject({ code: 0, stdout: expect.stringContaining('10.65.0.10/32') });
    await mustRun(world, ['container', BLUE, 'ip', 'remove', '10.65.0.10']);

    expect(await world.run(['container', 'remove', BLUE])).toEqual(ok(`Removed Calico from ${BLUE}\n`));
    expect(netns.state(BLUE)).toEqual({ links: ['lo'], routes: [] });
    expect(netns.state('root').links).toEqual([]);
    expect(Object.keys(world.kv.dump()).filter((k) => k.includes('/workload/namespace/'))).toEqual([]);
  });

  it.each([
    [['container', 'add', '/var/run/netns/none', '10.65.0.9'], '/var/run/netns/none is not a network namespace: nsenter: cannot open /var/run/netns/none: No such file or directory'],
    [['container', 'remove', BLUE], `Container ${BLUE} is unknown to Calico: add it with 'calicoctl container add' first.`],
    [['container', 'add', '/var/run/netns/a b', '10.65.0.9'], `"/var/run/netns/a b" is not a usable namespace path (absolute, letters, digits, '.', '_', '-' and '/').`],
    [['container', 'add', '/var/run/netns/../x', '10.65.0.9'], `"/var/run/netns/../x" is not a usable namespace path (absolute, letters, digits, '.', '_', '-' and '/').`],
  ])('refuses %j in one line, changing nothing', async (argv, message) => {
    const w = await containerWorld();
    w.netns.addNamespacePath(BLUE);
    const result = await runUnchanged(w.world, argv);
    expect(result.stderr).toBe(`${message}\n`);
    expect(result.code).not.toBe(0);
  });
});
