import { fakeWorld, type FakeWorld } from '../fakes/cli';
import { fails, mustRun, ok, runUnchanged, usage } from './helpers';

/**
 * `calicoctl config felix|bgp|node bgp …` in-process against the in-memory etcd: the keys each
 * writes (as v0.23 wrote them), every message, --remove, --force, and the refusals that leave etcd
 * as it was.
 */

const FELIX = '/calico/v1/config/LogSeverityScreen';
const BGP = '/calico/bgp/v1/global/loglevel';
const NODE = '/calico/bgp/v1/host/node7/loglevel';

function configWorld(): FakeWorld {
  const world = fakeWorld();
  world.env = { HOSTNAME: 'node7' };
  return world;
}

const raw = async (world: FakeWorld, key: string): Promise<string | undefined> => (await world.kv.get(key))?.value;

describe.each([
  [['config', 'felix'], FELIX, ['none', 'debug', 'info', 'warning', 'error', 'critical']],
  [['config', 'bgp'], BGP, ['none', 'debug', 'info']],
  [['config', 'node', 'bgp'], NODE, ['none', 'debug', 'info']],
])('%j loglevel', (command, key, levels) => {
  it.each(levels)('sets %s (as plain text, silently) and shows it', async (level) => {
    const world = configWorld();
    expect(await world.run([...command, 'loglevel', level])).toEqual(ok());
    expect(await raw(world, key)).toBe(level);
    expect(Object.keys(world.kv.dump())).toEqual([key]);
    expect(await world.run([...command, 'loglevel'])).toEqual(ok(`${level}\n`));
  });

  it('shows No value configured when there is none', async () => {
    expect(await configWorld().run([...command, 'loglevel'])).toEqual(ok('No value configured\n'));
  });

  it('--remove: Value removed, then No value configured (exit 0 both times)', async () => {
    const world = configWorld();
    await mustRun(world, [...command, 'loglevel', 'debug']);
    expect(await world.run([...command, 'loglevel', '--remove'])).toEqual(ok('Value removed\n'));
    expect(world.kv.dump()).toEqual({});
    expect(await runUnchanged(world, [...command, 'loglevel', '--remove'])).toEqual(ok('No value configured\n'));
  });

  it('an unknown value: the explanation, exit 1, etcd untouched', async () => {
    const world = configWorld();
    for (const value of ['loud', 'DEBUG', 'debugging', '']) {
      expect(await runUnchanged(world, [...command, 'loglevel', value])).toEqual(
        fails(`The configuration value '${value}' is not recognized as a valid value. Use the --force option to override.`),
      );
    }
  });

  it('an unknown value with --force is stored as given, with a note on stderr', async () => {
    const world = configWorld();
    expect(await world.run([...command, 'loglevel', 'DEBUG', '--force'])).toEqual({
      code: 0,
      stdout: '',
      stderr: "The configuration value 'DEBUG' is not recognized as a valid value. The --force option is set.\n",
    });
    expect(await raw(world, key)).toBe('DEBUG');
  });

  it('-o json|yaml shows the name, the key and the value (null when there is none)', async () => {
    const world = configWorld();
    expect(JSON.parse((await world.run([...command, 'loglevel', '-o', 'json'])).stdout)).toEqual({ name: 'loglevel', key, value: null });
    await mustRun(world, [...command, 'loglevel', 'info']);
    expect(await world.run([...command, 'loglevel', '-o', 'yaml'])).toEqual(ok(`name: loglevel\nkey: ${key}\nvalue: info\n`));
  });

  it('--dry-run describes the write or the removal and makes none', async () => {
    const world = configWorld();
    const dry = (stdout: string) => ({ code: 0, stdout, stderr: 'Dry run: nothing was changed.\n' });
    expect(await runUnchanged(world, [...command, 'loglevel', 'debug', '--dry-run'])).toEqual(dry(`Would set ${key} to debug\n`));
    await mustRun(world, [...command, 'loglevel', 'info']);
    expect(await runUnchanged(world, [...command, 'loglevel', '--remove', '--dry-run'])).toEqual(dry(`Would delete ${key}\nValue removed\n`));
  });

  it('a value and --remove together are a usage error', async () => {
    expect(await runUnchanged(configWorld(), [...command, 'loglevel', 'debug', '--remove'])).toEqual(usage('Give a <VALUE> or --remove, not both.'));
  });

  it('without a name is a usage error', async () => {
    expect(await runUnchanged(configWorld(), command)).toEqual(usage("error: missing required argument 'NAME'"));
  });
});

describe('names that are not known', () => {
  it.each([
    [['config', 'felix'], 'LogSeverityScreen'],
    [['config', 'felix'], 'LogLevel'],
    [['config', 'bgp'], 'as_num'],
    [['config', 'node', 'bgp'], 'Loglevel'],
  ])('%j %s: the explanation, exit 1, etcd untouched, whether showing, setting or removing', async (command, name) => {
    const world = configWorld();
    const message = `The configuration '${name}' is not recognized as a valid option. Use the --force option to override.`;
    expect(await runUnchanged(world, [...command, name])).toEqual(fails(message));
    expect(await runUnchanged(world, [...command, name, 'x'])).toEqual(fails(message));
    expect(await runUnchanged(world, [...command, name, '--remove'])).toEqual(fails(message));
  });

  it.each([
    [['config', 'felix'], 'ReportingIntervalSecs', '/calico/v1/config/ReportingIntervalSecs'],
    [['config', 'felix'], 'loglevel2', '/calico/v1/config/loglevel2'],
    [['config', 'bgp'], 'as_num', '/calico/bgp/v1/global/as_num'],
    [['config', 'node', 'bgp'], 'Something', '/calico/bgp/v1/host/node7/Something'],
  ])('%j %s --force: stored under the name as given, with a note on stderr; any value', async (command, name, key) => {
    const world = configWorld();
    const note = `The configuration '${name}' is not recognized as a valid option. The --force option is set.\n`;
    expect(await world.run([...command, name, '30 seconds', '--force'])).toEqual({ code: 0, stdout: '', stderr: note });
    expect(Object.keys(world.kv.dump())).toEqual([key]);
    expect(await raw(world, key)).toBe('30 seconds');
    expect(await world.run([...command, name, '--force'])).toEqual({ code: 0, stdout: '30 seconds\n', stderr: note });
    expect(await world.run([...command, name, '--force', '--remove'])).toEqual({ code: 0, stdout: 'Value removed\n', stderr: note });
    expect(await world.run([...command, name, '--force', '--remove'])).toEqual({ code: 0, stdout: 'No value configured\n', stderr: note });
  });

  it.each(['a/b', '', '/'])("%j is refused even with --force: it would not be one key", async (name) => {
    expect(await runUnchanged(configWorld(), ['config', 'felix', name, 'x', '--force'])).toEqual(
      fails(`'${name}' cannot be a configuration name: it must be one word, without '/'.`),
    );
  });
});

describe('the three scopes are separate keys', () => {
  it('felix, bgp and node bgp loglevel do not touch each other; node bgp is this host ($HOSTNAME, else the system hostname)', async () => {
    const world = configWorld();
    await mustRun(world, ['config', 'felix', 'loglevel', 'warning']);
    await mustRun(world, ['config', 'bgp', 'loglevel', 'info']);
    await mustRun(world, ['config', 'node', 'bgp', 'loglevel', 'none']);
    world.env = {};
    await mustRun(world, ['config', 'node', 'bgp', 'loglevel', 'debug']);
    expect(world.kv.dump()).toEqual({ [FELIX]: 'warning', [BGP]: 'info', [NODE]: 'none', '/calico/bgp/v1/host/host1/loglevel': 'debug' });
    await mustRun(world, ['config', 'bgp', 'loglevel', '--remove']);
    expect(Object.keys(world.kv.dump()).sort()).toEqual(['/calico/bgp/v1/host/host1/loglevel', NODE, FELIX].sort());
  });
});
