import { fails, mustRun, ok, plainWorld, runUnchanged, tagsKey, usage } from './helpers';

describe('profile <P> tag', () => {
  it('show prints one tag per line, the profile name by default', async () => {
    const world = await plainWorld('web');
    expect(await runUnchanged(world, ['profile', 'web', 'tag', 'show'])).toEqual(ok('web\n'));
  });

  it('add stores the tag and says so; show lists it', async () => {
    const world = await plainWorld('web');
    expect(await world.run(['profile', 'web', 'tag', 'add', 'frontend'])).toEqual(ok('Tag frontend added to profile web\n'));
    expect(world.kv.dump()[tagsKey('web')]).toEqual(['web', 'frontend']);
    expect(await world.run(['profile', 'web', 'tag', 'show'])).toEqual(ok('web\nfrontend\n'));
  });

  it('add is idempotent: same message, exit 0, nothing written', async () => {
    const world = await plainWorld('web');
    await mustRun(world, ['profile', 'web', 'tag', 'add', 'frontend']);
    expect(await runUnchanged(world, ['profile', 'web', 'tag', 'add', 'frontend'])).toEqual(ok('Tag frontend added to profile web\n'));
    expect(await runUnchanged(world, ['profile', 'web', 'tag', 'add', 'web'])).toEqual(ok('Tag web added to profile web\n'));
    expect(world.kv.dump()[tagsKey('web')]).toEqual(['web', 'frontend']);
  });

  it('add validates the tag name (exit 1, nothing written)', async () => {
    const world = await plainWorld('web');
    for (const tag of ['a/b', 'a b', 'a:b', 'é']) {
      expect(await runUnchanged(world, ['profile', 'web', 'tag', 'add', tag])).toEqual(
        fails(`Tags names can only contain numbers, letters, dots, dashes and underscores. Got '${tag}'.`),
      );
    }
  });

  it('add accepts a 64-character tag and dots, dashes, underscores', async () => {
    const world = await plainWorld('web');
    const long = 'f'.repeat(64);
    expect(await world.run(['profile', 'web', 'tag', 'add', long])).toEqual(ok(`Tag ${long} added to profile web\n`));
    expect(await world.run(['profile', 'web', 'tag', 'add', 'a.b-c_D'])).toEqual(ok('Tag a.b-c_D added to profile web\n'));
    expect(world.kv.dump()[tagsKey('web')]).toEqual(['web', long, 'a.b-c_D']);
  });

  it('remove deletes the tag and says so', async () => {
    const world = await plainWorld('web');
    await mustRun(world, ['profile', 'web', 'tag', 'add', 'frontend']);
    expect(await world.run(['profile', 'web', 'tag', 'remove', 'web'])).toEqual(ok('Tag web removed from profile web\n'));
    expect(world.kv.dump()[tagsKey('web')]).toEqual(['frontend']);
  });

  it('remove of a tag not on the profile fails with exit 1 and writes nothing', async () => {
    const world = await plainWorld('web');
    expect(await runUnchanged(world, ['profile', 'web', 'tag', 'remove', 'frontend'])).toEqual(fails('Tag frontend is not on profile web'));
  });

  it('show prints nothing when the profile has no tags', async () => {
    const world = await plainWorld('web');
    await mustRun(world, ['profile', 'web', 'tag', 'remove', 'web']);
    expect(world.kv.dump()[tagsKey('web')]).toEqual([]);
    expect(await world.run(['profile', 'web', 'tag', 'show'])).toEqual(ok(''));
  });

  it.each([
    [['show'], 'show'],
    [['add', 'x'], 'add'],
    [['remove', 'x'], 'remove'],
  ])('%j fails with exit 1 for an unknown profile', async (rest) => {
    const world = await plainWorld('web');
    expect(await runUnchanged(world, ['profile', 'nope', 'tag', ...rest])).toEqual(fails('Profile nope not found.'));
  });

  it('is a usage error without a tag, with an extra word or an unknown verb (exit 2)', async () => {
    const world = await plainWorld('web');
    expect(await runUnchanged(world, ['profile', 'web', 'tag', 'add'])).toEqual(usage("error: missing required argument 'TAG'"));
    expect(await runUnchanged(world, ['profile', 'web', 'tag', 'remove'])).toEqual(usage("error: missing required argument 'TAG'"));
    expect(await runUnchanged(world, ['profile', 'web', 'tag', 'add', 'a', 'b'])).toEqual(
      usage("error: too many arguments for 'add'. Expected 2 arguments but got 3."),
    );
    expect(await runUnchanged(world, ['profile', 'web', 'tag', 'show', 'x'])).toEqual(
      usage("error: too many arguments for 'show'. Expected 1 argument but got 2."),
    );
    expect(await runUnchanged(world, ['profile', 'web', 'tag', 'bogus'])).toEqual(usage("error: unknown command 'bogus'"));
    const bare = await runUnchanged(world, ['profile', 'web', 'tag']);
    expect(bare.code).toBe(2);
    expect(bare.stdout).toBe('');
    expect(bare.stderr).toMatch(/^Usage: calicoctl profile <PROFILE> tag \(show\|add <TAG>\|remove <TAG>\)\n/);
  });
});
