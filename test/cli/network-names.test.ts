import { fakeWorld, networkId } from '../fakes/cli';
import { APP_ID, DB_ID, defaultProfile, fails, mustRun, networkWorld, ok, ruleShow, rulesKey, runUnchanged, tagsKey, words } from './helpers';

const NO_NETWORK = (name: string) =>
  `You are referencing a Docker network (${name}) that does not exist.  Create the network first and then update this profile rule to reference it.`;
const GONE_ID = networkId('gone');

describe('the tutorial (seed/advanced-policy.md)', () => {
  // Copied from the tutorial's two `calicoctl profile databases rule show` blocks.
  const [firstShow, secondShow] = [
    'Inbound rules:\n   1 allow from tag databases\nOutbound rules:\n   1 allow\n',
    'Inbound rules:\n   1 allow from tag databases\n   2 allow tcp from tag applications to ports 3306\nOutbound rules:\n   1 allow\n',
  ];

  it('prints exactly what the seed shows and stores network IDs', async () => {
    const world = await networkWorld();
    expect(await world.run(['profile', 'databases', 'rule', 'show'])).toEqual(ok(firstShow));
    expect(await world.run(words('profile databases rule add inbound allow tcp from tag applications to ports 3306'))).toEqual(ok());
    expect(await world.run(['profile', 'databases', 'rule', 'show'])).toEqual(ok(secondShow));
    expect(world.kv.dump()).toEqual({
      ...defaultProfile(APP_ID),
      ...defaultProfile(DB_ID),
      [rulesKey(DB_ID)]: {
        inbound_rules: [
          { action: 'allow', src_tag: DB_ID },
          { action: 'allow', protocol: 'tcp', src_tag: APP_ID, dst_ports: [3306] },
        ],
        outbound_rules: [{ action: 'allow' }],
      },
    });
  });

  it('adding the tutorial rule twice is skipped, and it can be removed by its words or position', async () => {
    const world = await networkWorld();
    const rule = words('inbound allow tcp from tag applications to ports 3306');
    await mustRun(world, ['profile', 'databases', 'rule', 'add', ...rule]);
    expect(await runUnchanged(world, ['profile', 'databases', 'rule', 'add', ...rule])).toEqual(ok('Rule already present, skipping.\n'));
    expect(await world.run(['profile', 'databases', 'rule', 'remove', ...rule])).toEqual(ok());
    expect(world.kv.dump()).toEqual({ ...defaultProfile(APP_ID), ...defaultProfile(DB_ID) });
    await mustRun(world, ['profile', 'databases', 'rule', 'add', ...rule]);
    expect(await world.run(['profile', 'databases', 'rule', 'remove', 'inbound', '--at=2'])).toEqual(ok());
    expect(world.kv.dump()).toEqual({ ...defaultProfile(APP_ID), ...defaultProfile(DB_ID) });
  });
});

describe('Docker network names', () => {
  it('shows tags as network names in tag show, rule show and rule json', async () => {
    const world = await networkWorld();
    await mustRun(world, ['profile', 'databases', 'tag', 'add', 'applications']);
    await mustRun(world, words('profile databases rule add outbound deny tcp to ports 22 tag applications'));
    expect(world.kv.dump()[tagsKey(DB_ID)]).toEqual([DB_ID, APP_ID]);
    expect(await world.run(['profile', 'databases', 'tag', 'show'])).toEqual(ok('databases\napplications\n'));
    expect(await world.run(['profile', 'databases', 'rule', 'show'])).toEqual(
      ok(ruleShow(['allow from tag databases'], ['allow', 'deny tcp to ports 22 tag applications'])),
    );
    expect(JSON.parse((await world.run(['profile', 'databases', 'rule', 'json'])).stdout)).toEqual({
      inbound_rules: [{ action: 'allow', src_tag: 'databases' }],
      outbound_rules: [{ action: 'allow' }, { action: 'deny', protocol: 'tcp', dst_ports: [22], dst_tag: 'applications' }],
    });
  });

  it('the network ID itself addresses the profile without mapping', async () => {
    const world = await networkWorld();
    expect(await world.run(['profile', DB_ID, 'rule', 'show'])).toEqual(ok(ruleShow([`allow from tag ${DB_ID}`], ['allow'])));
    expect(await world.run(['profile', DB_ID, 'tag', 'show'])).toEqual(ok(`${DB_ID}\n`));
  });

  it('rejects a rule tag that is not a network name, naming it; nothing written', async () => {
    const world = await networkWorld();
    expect(await runUnchanged(world, words('profile databases rule add inbound allow tcp from tag nosuch to ports 3306'))).toEqual(
      fails(NO_NETWORK('nosuch')),
    );
    expect(await runUnchanged(world, words('profile databases rule add outbound deny to tag nosuch'))).toEqual(fails(NO_NETWORK('nosuch')));
  });

  it('rejects tag add of a name that is not a network; nothing written', async () => {
    const world = await networkWorld();
    expect(await runUnchanged(world, ['profile', 'databases', 'tag', 'add', 'nosuch'])).toEqual(fails(NO_NETWORK('nosuch')));
  });

  it('tag add of a network name stores its ID and is idempotent; tag remove takes the name', async () => {
    const world = await networkWorld();
    expect(await world.run(['profile', 'databases', 'tag', 'add', 'applications'])).toEqual(ok('Tag applications added to profile databases\n'));
    expect(await runUnchanged(world, ['profile', 'databases', 'tag', 'add', 'applications'])).toEqual(ok('Tag applications added to profile databases\n'));
    expect(await runUnchanged(world, ['profile', 'databases', 'tag', 'add', 'databases'])).toEqual(ok('Tag databases added to profile databases\n'));
    expect(world.kv.dump()[tagsKey(DB_ID)]).toEqual([DB_ID, APP_ID]);
    expect(await world.run(['profile', 'databases', 'tag', 'remove', 'applications'])).toEqual(ok('Tag applications removed from profile databases\n'));
    expect(world.kv.dump()[tagsKey(DB_ID)]).toEqual([DB_ID]);
    expect(await runUnchanged(world, ['profile', 'databases', 'tag', 'remove', 'applications'])).toEqual(
      fails('Tag applications is not on profile databases'),
    );
  });

  it('rule update maps names back to IDs (round trip of rule json)', async () => {
    const world = await networkWorld();
    await mustRun(world, words('profile databases rule add inbound allow tcp from tag applications to ports 3306'));
    const before = world.kv.dump();
    const text = await mustRun(world, ['profile', 'databases', 'rule', 'json']);
    expect(text).toContain('"src_tag": "applications"');
    expect(text).not.toContain(APP_ID);
    expect(await world.run(['profile', 'databases', 'rule', 'update'], { stdin: text })).toEqual(
      ok('Successfully updated rules on profile databases\n'),
    );
    expect(world.kv.dump()).toEqual(before);
  });

  it('rule update rejects a tag that is not a network name; nothing written', async () => {
    const world = await networkWorld();
    const stdin = JSON.stringify({ inbound_rules: [{ action: 'allow', src_tag: 'applications' }, { action: 'allow', dst_tag: 'nosuch' }], outbound_rules: [] });
    expect(await runUnchanged(world, ['profile', 'databases', 'rule', 'update'], { stdin })).toEqual(fails(NO_NETWORK('nosuch')));
  });

  it('a profile really named like the network wins over the network', async () => {
    const world = await networkWorld();
    expect(await world.run(['profile', 'add', 'databases'])).toEqual(ok('Created profile databases\n'));
    await mustRun(world, words('profile databases rule add inbound allow from tag anything'));
    expect(await world.run(['profile', 'databases', 'rule', 'show'])).toEqual(
      ok(ruleShow(['allow from tag databases', 'allow from tag anything'], ['allow'])),
    );
    expect(world.kv.dump()[rulesKey('databases')]).toEqual({
      inbound_rules: [{ action: 'allow', src_tag: 'databases' }, { action: 'allow', src_tag: 'anything' }],
      outbound_rules: [{ action: 'allow' }],
    });
    // The network's profile is untouched.
    expect(world.kv.dump()[rulesKey(DB_ID)]).toEqual(defaultProfile(DB_ID)[rulesKey(DB_ID)]);
    // Its tags are taken as typed, not mapped.
    expect(await world.run(['profile', 'databases', 'tag', 'add', 'applications'])).toEqual(ok('Tag applications added to profile databases\n'));
    expect(world.kv.dump()[tagsKey('databases')]).toEqual(['databases', 'applications']);
  });

  describe('an ID that no longer maps to a network', () => {
    async function withGoneId() {
      const world = await networkWorld();
      world.kv.seed(rulesKey(DB_ID), {
        inbound_rules: [{ action: 'allow', src_tag: DB_ID }, { action: 'deny', protocol: 'tcp', src_tag: GONE_ID, dst_ports: [22] }],
        outbound_rules: [{ action: 'allow' }],
      });
      world.kv.seed(tagsKey(DB_ID), [DB_ID, GONE_ID]);
      return world;
    }

    it('is shown as the ID', async () => {
      const world = await withGoneId();
      expect(await world.run(['profile', 'databases', 'rule', 'show'])).toEqual(
        ok(ruleShow(['allow from tag databases', `deny tcp from tag ${GONE_ID} to ports 22`], ['allow'])),
      );
      expect(await world.run(['profile', 'databases', 'tag', 'show'])).toEqual(ok(`databases\n${GONE_ID}\n`));
    });

    it('can be removed by that ID, from rules and from tags', async () => {
      const world = await withGoneId();
      expect(await world.run(['profile', 'databases', 'rule', 'remove', 'inbound', 'deny', 'tcp', 'from', 'tag', GONE_ID, 'to', 'ports', '22'])).toEqual(ok());
      expect(await world.run(['profile', 'databases', 'tag', 'remove', GONE_ID])).toEqual(ok(`Tag ${GONE_ID} removed from profile databases\n`));
      expect(world.kv.dump()).toEqual({ ...defaultProfile(APP_ID), ...defaultProfile(DB_ID) });
    });

    it('survives a rule json / rule update round trip unchanged', async () => {
      const world = await withGoneId();
      const before = world.kv.dump();
      const text = await mustRun(world, ['profile', 'databases', 'rule', 'json']);
      expect(await world.run(['profile', 'databases', 'rule', 'update'], { stdin: text })).toEqual(ok('Successfully updated rules on profile databases\n'));
      expect(world.kv.dump()).toEqual(before);
    });

    it('is not accepted as a new tag on a profile that does not hold it', async () => {
      const world = await networkWorld();
      expect(await runUnchanged(world, ['profile', 'databases', 'tag', 'add', GONE_ID])).toEqual(fails(NO_NETWORK(GONE_ID)));
    });
  });

  describe('not found', () => {
    it('an unknown name with Docker up is "Profile x not found."', async () => {
      const world = await networkWorld();
      for (const rest of [['rule', 'show'], ['rule', 'json'], ['tag', 'show'], ['rule', 'add', 'inbound', 'deny'], ['tag', 'add', 'x']]) {
        expect(await runUnchanged(world, ['profile', 'x', ...rest])).toEqual(fails('Profile x not found.'));
      }
    });

    it('a network without a profile under its ID is not found', async () => {
      const world = await networkWorld();
      world.docker.networks?.push({ id: networkId('bridge'), name: 'bridge', driver: 'bridge' });
      expect(await world.run(['profile', 'bridge', 'rule', 'show'])).toEqual(fails('Profile bridge not found.'));
    });

    it('a prefix of a network ID is not a name', async () => {
      const world = await networkWorld();
      expect(await world.run(['profile', DB_ID.slice(0, 12), 'rule', 'show'])).toEqual(fails(`Profile ${DB_ID.slice(0, 12)} not found.`));
    });
  });

  describe('Docker unreachable', () => {
    const DOCKER_DOWN =
      'Cannot connect to the Docker daemon at unix:///var/run/docker.sock (no such socket). Is the Docker daemon running? Check DOCKER_HOST.';

    it('a name that needs Docker fails with one line and exit 1, writing nothing', async () => {
      const world = await networkWorld();
      world.docker.networks = undefined;
      const message = `Profile databases not found. (Docker could not be asked for a network of that name: ${DOCKER_DOWN})`;
      expect(await runUnchanged(world, ['profile', 'databases', 'rule', 'show'])).toEqual(fails(message));
      expect(await runUnchanged(world, words('profile databases rule add inbound allow tcp from tag applications to ports 3306'))).toEqual(
        fails(message),
      );
      expect(await runUnchanged(world, ['profile', 'databases', 'tag', 'add', 'applications'])).toEqual(fails(message));
    });

    it('profiles stored under the typed name work without Docker', async () => {
      const world = fakeWorld();
      world.docker.networks = undefined;
      expect(await world.run(['profile', 'add', 'web'])).toEqual(ok('Created profile web\n'));
      expect(await world.run(words('profile web rule add inbound allow from tag other'))).toEqual(ok());
      expect(await world.run(['profile', 'web', 'rule', 'show'])).toEqual(ok(ruleShow(['allow from tag web', 'allow from tag other'], ['allow'])));
      expect(await world.run(['profile', 'web', 'tag', 'add', 'x'])).toEqual(ok('Tag x added to profile web\n'));
      expect((await world.run(['profile', 'show'])).code).toBe(0);
    });
  });
});
