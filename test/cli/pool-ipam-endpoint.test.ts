import { IpamStore } from '../../src/datastore/ipam';
import { fakeWorld } from '../fakes/cli';
import { fails, mustRun, ok, plainWorld, runUnchanged } from './helpers';

const endpointKey = (host: string, id: string) => `/calico/v1/host/${host}/workload/libnetwork/libnetwork/endpoint/${id}`;
const endpoint = (profiles: string[], nets = ['10.65.0.2/32']) => ({
  state: 'active',
  name: 'calie1',
  mac: 'EE:EE:EE:EE:EE:EE',
  profile_ids: profiles,
  ipv4_nets: nets,
  ipv6_nets: [],
  labels: {},
});

describe('pool', () => {
  it('adds, shows and removes pools, with their options', async () => {
    const world = fakeWorld();
    expect(await world.run(['pool', 'add', '10.65.0.0/16', '--nat-outgoing'])).toEqual(ok());
    expect(await world.run(['pool', 'add', 'fd65::/64'])).toEqual(ok());
    expect(world.kv.dump()['/calico/v1/ipam/v4/pool/10.65.0.0-16']).toEqual({ cidr: '10.65.0.0/16', masquerade: true });
    expect(world.kv.dump()['/calico/v1/ipam/v6/pool/fd65::-64']).toEqual({ cidr: 'fd65::/64' });
    expect(await mustRun(world, ['pool', 'show', '--ipv4'])).toBe(
      '+--------------+--------------+\n|  IPv4 CIDR   |   Options    |\n+--------------+--------------+\n| 10.65.0.0/16 | nat-outgoing |\n+--------------+--------------+\n',
    );
    expect(await mustRun(world, ['pool', 'show', '--ipv6'])).toBe('+-----------+---------+\n| IPv6 CIDR | Options |\n+-----------+---------+\n| fd65::/64 |         |\n+-----------+---------+\n');
    expect(await world.run(['pool', 'remove', '10.65.0.0/16'])).toEqual(ok('Deleted IP Pool 10.65.0.0/16\n'));
    expect(world.kv.dump()['/calico/v1/ipam/v4/pool/10.65.0.0-16']).toBeUndefined();
  });

  it.each([
    [['pool', 'add', '10.65.0.0/27'], 'An IPv4 pool must have a prefix length of 26 or lower. Given: 10.65.0.0/27. No pools added.'],
    [['pool', 'add', 'fd00::/64', '--ipip'], 'IP in IP not supported for IPv6 pools'],
    [['pool', 'add', 'bogus'], 'Invalid CIDR specified bogus'],
    [['pool', 'add', '10.65.1.0/24'], 'Cannot add IP pool 10.65.1.0/24 - pool overlaps with an existing pool 10.65.0.0/16'],
    [['pool', 'remove', '10.99.0.0/16'], '10.99.0.0/16 is not a configured pool.'],
    [['pool', 'range', 'add', '10.70.0.0', 'fd00::1'], 'START_IP and END_IP must be the same ip version'],
    [['pool', 'range', 'add', '10.70.1.0', '10.70.0.0'], 'START_IP must be a smaller ip address than END_IP'],
    [['pool', 'range', 'add', '10.64.255.0', '10.65.0.255'], 'Cannot add range - range conflicts with pool 10.65.0.0/16'],
  ])('refuses %j, and writes nothing', async (argv, message) => {
    const world = fakeWorld();
    await mustRun(world, ['pool', 'add', '10.65.0.0/16']);
    expect(await runUnchanged(world, argv)).toEqual(fails(message));
  });

  it('splits a range into pools', async () => {
    const world = fakeWorld();
    expect(await world.run(['pool', 'range', 'add', '10.70.0.0', '10.70.1.255'])).toEqual(ok());
    expect(Object.keys(world.kv.dump()).filter((k) => k.includes('/pool/'))).toEqual(['/calico/v1/ipam/v4/pool/10.70.0.0-23']);
  });

  it('re-adding the same pool updates its options', async () => {
    const world = fakeWorld();
    await mustRun(world, ['pool', 'add', '10.65.0.0/16']);
    await mustRun(world, ['pool', 'add', '10.65.0.0/16', '--ipip']);
    expect(world.kv.dump()['/calico/v1/ipam/v4/pool/10.65.0.0-16']).toEqual({ cidr: '10.65.0.0/16', ipip: 'tunl0' });
    await mustRun(world, ['pool', 'add', '10.65.0.0/16', '--nat-outgoing']);
    expect(world.kv.dump()['/calico/v1/ipam/v4/pool/10.65.0.0-16']).toEqual({ cidr: '10.65.0.0/16', masquerade: true });
    expect(await world.run(['pool', 'show', '--ipv4'])).toEqual(ok(expect.stringMatching(/10\.65\.0\.0\/16 \| nat-outgoing/)));
    await mustRun(world, ['pool', 'add', '10.65.0.0/16']);
    expect(world.kv.dump()['/calico/v1/ipam/v4/pool/10.65.0.0-16']).toEqual({ cidr: '10.65.0.0/16' });
  });

  it('re-adding a pool that Docker’s IPAM numbers changes its flags and keeps it unassigned by Calico', async () => {
    const world = fakeWorld();
    await world.kv.commit([], [{ type: 'put', key: '/calico/v1/ipam/v4/pool/10.77.0.0-16', value: JSON.stringify({ cidr: '10.77.0.0/16', ipam: false, disabled: true }) }]);
    await mustRun(world, ['pool', 'add', '10.77.0.0/16', '--nat-outgoing']);
    expect(world.kv.dump()['/calico/v1/ipam/v4/pool/10.77.0.0-16']).toEqual({ cidr: '10.77.0.0/16', masquerade: true, ipam: false, disabled: true });
  });
});

describe('ipam', () => {
  it('shows and releases an assigned address', async () => {
    const world = fakeWorld();
    await world.run(['pool', 'add', '10.65.0.0/16']);
    await new IpamStore(world.kv).assignAddress('10.65.0.7', 'host1', { container: 'c1' });
    const claimed = await new IpamStore(world.kv).assign(4, 'host2');
    expect(await world.run(['ipam', 'info', '10.65.0.7'])).toEqual(ok('IP 10.65.0.7 is assigned to host host1 from pool 10.65.0.0/16\nBlock 10.65.0.0/26, held by host host2\n  container: c1\n'));
    expect(claimed.block).toBe('10.65.0.0/26');
    expect(await world.run(['ipam', 'release', '10.65.0.7'])).toEqual(ok('Address successfully released\n'));
    expect(await world.run(['ipam', 'info', '10.65.0.7'])).toEqual(fails('IP 10.65.0.7 is not currently assigned'));
    expect(await world.run(['ipam', 'release', '10.65.0.7'])).toEqual(fails('IP 10.65.0.7 is not currently assigned'));
    expect(await world.run(['ipam', 'info', 'nope'])).toEqual(fails('Invalid IP address specified.'));
  });
});

describe('endpoint', () => {
  async function world() {
    const w = await plainWorld('web', 'db');
    w.kv.seed(endpointKey('host1', 'e1'), endpoint(['web']));
    w.kv.seed(endpointKey('host2', 'e2'), { ...endpoint(['db'], ['10.65.0.3/32']), name: 'calie2' });
    return w;
  }

  it('summarises per host, and lists with --detailed', async () => {
    const w = await world();
    expect(await mustRun(w, ['endpoint', 'show'])).toBe(
      '+----------+-----------------+---------------------+---------------------+\n' +
        '| Hostname | Orchestrator ID | Number of Workloads | Number of Endpoints |\n' +
        '+----------+-----------------+---------------------+---------------------+\n' +
        '|  host1   |    libnetwork   |          1          |          1          |\n' +
        '|  host2   |    libnetwork   |          1          |          1          |\n' +
        '+----------+-----------------+---------------------+---------------------+\n\n',
    );
    const detailed = await mustRun(w, ['endpoint', 'show', '--detailed', '--host', 'host2']);
    expect(detailed).toContain('|  host2   |    libnetwork   |  libnetwork |      e2     | 10.65.0.3/32 | EE:EE:EE:EE:EE:EE |    db    | active |');
    expect(detailed).not.toContain('host1');
  });

  it('appends, removes, sets and shows an endpoint\'s profiles', async () => {
    const w = await world();
    expect(await w.run(['endpoint', 'e1', 'profile', 'append', 'db'])).toEqual(ok('Profile(s) db appended.\n'));
    expect((w.kv.dump()[endpointKey('host1', 'e1')] as { profile_ids: string[] }).profile_ids).toEqual(['web', 'db']);
    expect(await w.run(['endpoint', 'e1', 'profile', 'append', 'db'])).toEqual(ok('Profile db is already in endpoint profile list\n'));
    expect(await w.run(['endpoint', 'e1', 'profile', 'remove', 'web'])).toEqual(ok('Profile(s) web removed.\n'));
    expect(await runUnchanged(w, ['endpoint', 'e1', 'profile', 'remove', 'web'])).toEqual(fails('Profile web is not in endpoint profile list.'));
    expect(await w.run(['endpoint', 'e1', 'profile', 'set', 'web', 'db'])).toEqual(ok('Profile(s) set to web, db.\n'));
    expect(await mustRun(w, ['endpoint', 'e1', 'profile', 'show'])).toBe('+------+\n| Name |\n+------+\n|  db  |\n| web  |\n+------+\n\n');
    expect(await w.run(['endpoint', 'e1', 'profile', 'set'])).toEqual(ok('Removed all profiles from endpoint.\n'));
    expect(await w.run(['endpoint', 'e1', 'profile', 'show'])).toEqual(ok('Endpoint has no profiles associated with it.\n'));
  });

  it.each([
    [['endpoint', 'e1', 'profile', 'append', 'nope'], 'Profile with name nope was not found.', 1],
    [['endpoint', 'e9', 'profile', 'append', 'db'], 'Endpoint e9 is unknown to Calico.', 1],
    [['endpoint', 'e1', 'profile', 'append'], 'No profile specified.', 2],
  ])('refuses %j', async (argv, message, code) => {
    const w = await world();
    expect(await runUnchanged(w, argv)).toEqual(fails(message, code));
  });

  it('refuses an ambiguous endpoint', async () => {
    const w = await world();
    w.kv.seed(endpointKey('host2', 'e1'), endpoint(['db']));
    expect(await runUnchanged(w, ['endpoint', 'e1', 'profile', 'show'])).toEqual(
      fails('More than 1 endpoint matches the provided criteria.  Please provide additional parameters to refine the search.'),
    );
    expect(await mustRun(w, ['endpoint', 'e1', 'profile', 'show', '--host', 'host2'])).toContain('db');
  });
});

describe('pool remove of several pools', () => {
  it('removes all of them, or none when one is not a pool', async () => {
    const world = fakeWorld();
    await mustRun(world, ['pool', 'add', '10.65.0.0/16', '10.66.0.0/16']);
    expect(await runUnchanged(world, ['pool', 'remove', '10.65.0.0/16', '10.99.0.0/16'])).toEqual(fails('10.99.0.0/16 is not a configured pool.'));
    expect(await world.run(['pool', 'remove', '10.65.0.0/16', '10.66.0.0/16'])).toEqual(ok('Deleted IP Pool 10.65.0.0/16\nDeleted IP Pool 10.66.0.0/16\n'));
    expect(Object.keys(world.kv.dump()).filter((key) => key.includes('/pool/'))).toEqual([]);
  });
});
