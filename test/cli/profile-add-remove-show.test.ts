import { fakeWorld } from '../fakes/cli';
import { APP_ID, DB_ID, defaultProfile, fails, networkWorld, ok, plainWorld, PROFILES, runUnchanged, seedEndpoint } from './helpers';

const BAD_PROFILE_NAME = "Profile names can only contain numbers, letters, dots, dashes and underscores. Got 'bad/name'.";
const IN_USE = "Cannot remove profile - profile in use by endpoint(s). Use the '--no-check' flag to remove the profile anyway.";

describe('profile add', () => {
  it('creates the default tags, rules and labels and says so', async () => {
    const world = fakeWorld();
    expect(await world.run(['profile', 'add', 'web'])).toEqual(ok('Created profile web\n'));
    expect(world.kv.dump()).toEqual(defaultProfile('web'));
    expect(world.kv.commits).toBe(1);
  });

  it('accepts a 64-character network ID and names with dots, dashes and underscores', async () => {
    const world = fakeWorld();
    expect(await world.run(['profile', 'add', DB_ID])).toEqual(ok(`Created profile ${DB_ID}\n`));
    expect(await world.run(['profile', 'add', 'a.b-c_D9'])).toEqual(ok('Created profile a.b-c_D9\n'));
    expect(world.kv.dump()).toEqual({ ...defaultProfile(DB_ID), ...defaultProfile('a.b-c_D9') });
  });

  it('leaves an existing profile alone and exits 0', async () => {
    const world = await plainWorld('web');
    await world.run(['profile', 'web', 'rule', 'add', 'inbound', 'deny', 'tcp', 'to', 'ports', '22']);
    expect(await runUnchanged(world, ['profile', 'add', 'web'])).toEqual(ok('Profile web already exists.\n'));
  });

  it('refuses a bad name with exit 1 and writes nothing', async () => {
    const world = await plainWorld('web');
    expect(await runUnchanged(world, ['profile', 'add', 'bad/name'])).toEqual(fails(BAD_PROFILE_NAME));
    expect(await runUnchanged(world, ['profile', 'add', 'a b'])).toEqual(
      fails("Profile names can only contain numbers, letters, dots, dashes and underscores. Got 'a b'."),
    );
  });

  it('is a usage error without a name or with two', async () => {
    const world = fakeWorld();
    expect(await runUnchanged(world, ['profile', 'add'])).toEqual(fails("error: missing required argument 'PROFILE'", 2));
    expect(await runUnchanged(world, ['profile', 'add', 'a', 'b'])).toEqual(
      fails("error: too many arguments for 'add'. Expected 1 argument but got 2.", 2),
    );
  });
});

describe('profile remove', () => {
  it('deletes every key of an unused profile and nothing else', async () => {
    const world = await plainWorld('web', 'db');
    expect(await world.run(['profile', 'remove', 'web'])).toEqual(ok('Deleted profile web\n'));
    expect(world.kv.dump()).toEqual(defaultProfile('db'));
  });

  it('does not remove a profile whose name only starts the same way', async () => {
    const world = await plainWorld('web', 'web2');
    expect(await world.run(['profile', 'remove', 'web'])).toEqual(ok('Deleted profile web\n'));
    expect(world.kv.dump()).toEqual(defaultProfile('web2'));
  });

  it('fails with exit 1 for an unknown profile', async () => {
    const world = await plainWorld('web');
    expect(await runUnchanged(world, ['profile', 'remove', 'nope'])).toEqual(fails('Profile nope not found.'));
  });

  it('never maps a network name: the stored name is the network ID', async () => {
    const world = await networkWorld();
    expect(await runUnchanged(world, ['profile', 'remove', 'databases'])).toEqual(fails('Profile databases not found.'));
    expect(await world.run(['profile', 'remove', DB_ID])).toEqual(ok(`Deleted profile ${DB_ID}\n`));
    expect(Object.keys(world.kv.dump()).some((key) => key.includes(DB_ID))).toBe(false);
  });

  it('refuses a profile in use by an endpoint on any host, with exit 1, and removes nothing', async () => {
    const world = await plainWorld('web', 'db');
    seedEndpoint(world, { host: 'host2', id: 'fedcba9876543210', profiles: ['other', 'db'] });
    expect(await runUnchanged(world, ['profile', 'remove', 'db'])).toEqual(fails(IN_USE));
    // An endpoint that uses another profile does not block this one.
    expect(await world.run(['profile', 'remove', 'web'])).toEqual(ok('Deleted profile web\n'));
  });

  it('removes a profile in use with --no-check, written before or after the name', async () => {
    const world = await plainWorld('db', 'db2');
    seedEndpoint(world, { host: 'host1', id: 'aaaa', profiles: ['db', 'db2'] });
    expect(await world.run(['profile', 'remove', 'db', '--no-check'])).toEqual(ok('Deleted profile db\n'));
    expect(await world.run(['profile', 'remove', '--no-check', 'db2'])).toEqual(ok('Deleted profile db2\n'));
    expect(Object.keys(world.kv.dump()).filter((key) => key.startsWith(PROFILES))).toEqual([]);
  });

  it('refuses a bad name with exit 1', async () => {
    const world = await plainWorld('web');
    expect(await runUnchanged(world, ['profile', 'remove', 'bad/name'])).toEqual(fails(BAD_PROFILE_NAME));
  });
});

describe('profile show', () => {
  it('draws an empty table as the header block and the bottom border', async () => {
    const world = fakeWorld();
    expect(await world.run(['profile', 'show'])).toEqual(ok(['+------+', '| Name |', '+------+', '+------+', ''].join('\n')));
  });

  it('sorts names byte-wise (digits < upper case < lower case) and centres them', async () => {
    const world = await plainWorld('beta', 'b', 'alpha', 'Alpha', '9lives');
    expect(await runUnchanged(world, ['profile', 'show'])).toEqual(
      ok(
        [
          '+--------+',
          '|  Name  |',
          '+--------+',
          '| 9lives |',
          '| Alpha  |',
          '| alpha  |',
          '|   b    |',
          '|  beta  |',
          '+--------+',
          '',
        ].join('\n'),
      ),
    );
  });

  it('lists network profiles by their stored ID, not their network name', async () => {
    const world = await networkWorld();
    const out = await world.run(['profile', 'show']);
    const border = `+${'-'.repeat(66)}+`;
    const ids = [DB_ID, APP_ID].sort();
    expect(out).toEqual(ok([border, `|${' '.repeat(31)}Name${' '.repeat(31)}|`, border, ...ids.map((id) => `| ${id} |`), border, ''].join('\n')));
  });

  it('--detailed draws the original calicoctl table character for character', async () => {
    const world = await plainWorld('db', 'Web');
    seedEndpoint(world, { host: 'host2', id: 'fedcba9876543210', profiles: ['db'] });
    expect(await runUnchanged(world, ['profile', 'show', '--detailed'])).toEqual(
      ok(
        [
          '+------+-------+-----------------+-------------+------------------+--------+',
          '| Name |  Host | Orchestrator ID | Workload ID |   Endpoint ID    | State  |',
          '+------+-------+-----------------+-------------+------------------+--------+',
          '| Web  |  None |       None      |     None    |       None       |  None  |',
          '|  db  | host2 |    libnetwork   |  libnetwork | fedcba9876543210 | active |',
          '+------+-------+-----------------+-------------+------------------+--------+',
          '',
        ].join('\n'),
      ),
    );
  });

  it('--detailed has one row per (profile, endpoint), sorted by the whole row', async () => {
    const world = await plainWorld('beta', 'alpha', 'Alpha', '9lives');
    seedEndpoint(world, { host: 'host9', id: 'a1b2c3', profiles: ['alpha'] });
    seedEndpoint(world, { host: 'host10', id: '0123456789abcdef', profiles: ['beta', 'alpha'] });
    expect(await world.run(['profile', 'show', '--detailed'])).toEqual(
      ok(
        [
          '+--------+--------+-----------------+-------------+------------------+--------+',
          '|  Name  |  Host  | Orchestrator ID | Workload ID |   Endpoint ID    | State  |',
          '+--------+--------+-----------------+-------------+------------------+--------+',
          '| 9lives |  None  |       None      |     None    |       None       |  None  |',
          '| Alpha  |  None  |       None      |     None    |       None       |  None  |',
          '| alpha  | host10 |    libnetwork   |  libnetwork | 0123456789abcdef | active |',
          '| alpha  | host9  |    libnetwork   |  libnetwork |      a1b2c3      | active |',
          '|  beta  | host10 |    libnetwork   |  libnetwork | 0123456789abcdef | active |',
          '+--------+--------+-----------------+-------------+------------------+--------+',
          '',
        ].join('\n'),
      ),
    );
  });

  it('--detailed with no profiles draws only the header block and the bottom border', async () => {
    const world = fakeWorld();
    seedEndpoint(world, { host: 'host1', id: 'aaaa', profiles: ['gone'] });
    expect(await world.run(['profile', 'show', '--detailed'])).toEqual(
      ok(
        [
          '+------+------+-----------------+-------------+-------------+-------+',
          '| Name | Host | Orchestrator ID | Workload ID | Endpoint ID | State |',
          '+------+------+-----------------+-------------+-------------+-------+',
          '+------+------+-----------------+-------------+-------------+-------+',
          '',
        ].join('\n'),
      ),
    );
  });

  it('rejects unknown options and extra words as usage errors', async () => {
    const world = await plainWorld('web');
    expect(await world.run(['profile', 'show', '--bogus'])).toEqual(fails("error: unknown option '--bogus'", 2));
    expect(await world.run(['profile', 'show', 'web'])).toEqual(fails("error: too many arguments for 'show'. Expected 0 arguments but got 1.", 2));
  });
});
