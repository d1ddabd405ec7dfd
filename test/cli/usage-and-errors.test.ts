import { DatastoreUnavailableError } from '../../src/datastore/errors';
import { PROFILE_USAGE } from '../../src/cli/commands/profile';
import { RULE_GRAMMAR } from '../../src/cli/commands/profile/grammar';
import { fakeWorld } from '../fakes/cli';
import { fails, mustRun, networkWorld, ok, runUnchanged, usage } from './helpers';

const ETCD_DOWN = 'Cannot reach etcd at http://127.0.0.1:2379 (connection refused). Is etcd running? Check ETCD_ENDPOINTS.';

/** The profile verbs' usage block is derived from their specs; these are the lines it must hold, in order. */
const PROFILE_USAGE_LINES = [
  'Usage:',
  '  calicoctl profile show [--detailed]',
  '  calicoctl profile add <PROFILE>',
  '  calicoctl profile remove <PROFILE> [--no-check]',
  '  calicoctl profile <PROFILE> rule add (inbound|outbound) [--at=<POSITION>] (allow|deny) [RULE-MATCH]',
  '  calicoctl profile <PROFILE> rule remove (inbound|outbound) (--at=<POSITION> | (allow|deny) [RULE-MATCH])',
  '  calicoctl profile <PROFILE> rule show [--counts]',
  '  calicoctl profile <PROFILE> rule json',
  '  calicoctl profile <PROFILE> rule update < rules.json',
  '  calicoctl profile <PROFILE> tag show',
  '  calicoctl profile <PROFILE> tag add <TAG>',
  '  calicoctl profile <PROFILE> tag remove <TAG>',
];


describe('help', () => {
  it('calicoctl with no arguments prints the main help on stdout, exit 0', async () => {
    const world = fakeWorld();
    world.kv.failWith = new DatastoreUnavailableError(ETCD_DOWN);
    const result = await world.run([]);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/^Usage: calicoctl \[options\] \[command\]\n/);
    expect(result.stdout).toMatch(/\n {2}profile +Manage profiles/);
    expect(result.stdout).toContain("Run 'calicoctl <command> --help' for a command's usage and examples.\n");
  });

  it('calicoctl --help and calicoctl help print the same, exit 0', async () => {
    const world = fakeWorld();
    const main = (await world.run([])).stdout;
    expect(await world.run(['--help'])).toEqual(ok(main));
    expect(await world.run(['help'])).toEqual(ok(main));
  });

  it('profile --help has the grammar and examples on stdout, exit 0, without touching etcd', async () => {
    const world = fakeWorld();
    world.kv.failWith = new DatastoreUnavailableError(ETCD_DOWN);
    const result = await world.run(['profile', '--help']);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(PROFILE_USAGE).toBe(`${PROFILE_USAGE_LINES.join('\n')}\n`);
    expect(result.stdout).toContain(`\n${PROFILE_USAGE}\n${RULE_GRAMMAR}`);
    expect(RULE_GRAMMAR).toMatch(/^RULE-MATCH is one of:\n {2}\(tcp\|udp\) \[from \[ports <SRCPORTS>\] \[tag <SRCTAG>\] \[cidr <SRCCIDR>\]\]\n/);
    expect(RULE_GRAMMAR).toContain('\n  icmpv6 [type <ICMPTYPE> [code <ICMPCODE>]] [from [tag <SRCTAG>] [cidr <SRCCIDR>]]\n');
    expect(result.stdout).toContain('\nExamples:\n  calicoctl profile add web\n');
    expect(result.stdout).toContain('  calicoctl profile databases rule add inbound allow tcp from tag applications to ports 3306\n');
    expect(await world.run(['help', 'profile'])).toEqual(result);
  });

  it('profile <P> rule add --help shows its usage, the grammar and examples, exit 0', async () => {
    const world = fakeWorld();
    world.kv.failWith = new DatastoreUnavailableError(ETCD_DOWN);
    const result = await world.run(['profile', 'databases', 'rule', 'add', '--help']);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/^Usage: calicoctl profile <PROFILE> rule add \(inbound\|outbound\) \[--at=<POSITION>\] \(allow\|deny\) \[RULE-MATCH\]\n/);
    expect(result.stdout).toContain(RULE_GRAMMAR);
    expect(result.stdout).toContain('--at <POSITION>');
    expect(result.stdout).toContain('\nExamples:\n');
    // --help wins even after rule words.
    expect(await world.run(['profile', 'databases', 'rule', 'add', 'inbound', 'allow', '--help'])).toEqual(result);
  });

  it.each([
    [['profile', 'web', 'rule', 'remove', '--help'], 'calicoctl profile <PROFILE> rule remove (inbound|outbound) (--at=<POSITION> | (allow|deny) [RULE-MATCH])'],
    [['profile', 'web', 'rule', 'show', '--help'], 'calicoctl profile <PROFILE> rule show [--counts]'],
    [['profile', 'web', 'rule', 'update', '--help'], 'calicoctl profile <PROFILE> rule update < rules.json'],
    [['profile', 'web', 'tag', 'add', '--help'], 'calicoctl profile <PROFILE> tag add <TAG>'],
    [['profile', 'show', '--help'], 'calicoctl profile show [options]'],
  ])('%j prints its usage, exit 0', async (argv, line) => {
    const result = await fakeWorld().run(argv);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout.startsWith(`Usage: ${line}\n`)).toBe(true);
  });

  it('every rule add/remove example of profile --help runs (in order) against the tutorial world', async () => {
    const help = (await fakeWorld().run(['profile', '--help'])).stdout;
    const examples = help
      .slice(help.indexOf('\nExamples:\n'))
      .split('\n')
      .filter((line) => line.startsWith('  calicoctl profile'))
      .map((line) => line.trim().split(/\s+/).slice(1));
    const ruleEdits = examples.filter((argv) => argv[3] === 'add' || argv[3] === 'remove');
    expect(ruleEdits.length).toBeGreaterThanOrEqual(5);
    const world = await networkWorld();
    for (const argv of examples.filter((a) => !a.includes('>') && !a.includes('<') && !a.includes('&&'))) {
      const result = await world.run(argv);
      expect({ argv, ...result }).toEqual({ argv, code: 0, stdout: result.stdout, stderr: '' });
    }
    // Every rule example also parses on its own (not a usage error) in a fresh world.
    for (const argv of ruleEdits) {
      const fresh = await networkWorld();
      await mustRun(fresh, ['profile', 'add', 'web']);
      expect({ argv, code: (await fresh.run(argv)).code }).not.toEqual({ argv, code: 2 });
    }
  });
});

describe('usage errors (exit 2)', () => {
  it('an unknown command', async () => {
    const world = fakeWorld();
    expect(await world.run(['bogus'])).toEqual(usage("error: unknown command 'bogus'"));
    expect(await world.run(['utils'])).toEqual(usage("error: unknown command 'utils'"));
  });

  it('an unknown command with --help is the same usage error, not the main help with exit 0', async () => {
    const world = fakeWorld();
    for (const argv of [['bogus', '--help'], ['-l', 'debug', 'bogus', '-h'], ['pool', 'bogus', '--help'], ['--config', 'x.cfg', 'frobnicate', '--help']]) {
      const word = argv.find((w) => w === 'bogus' || w === 'frobnicate');
      expect({ argv, result: await world.run(argv) }).toEqual({ argv, result: usage(`error: unknown command '${word}'`) });
    }
    // Known commands still show their help and exit 0, however the words are placed.
    for (const argv of [['--help'], ['pool', '--help'], ['profile', 'web', 'rule', '--help'], ['pool', 'add', '--help'], ['help', 'pool']]) {
      const result = await world.run(argv);
      expect({ argv, code: result.code, err: result.stderr }).toEqual({ argv, code: 0, err: '' });
      expect(result.stdout).toMatch(/^Usage: calicoctl/);
    }
  });

  it('an unknown root option', async () => {
    expect(await fakeWorld().run(['--bogus', 'profile', 'show'])).toEqual(usage("error: unknown option '--bogus'"));
  });

  it('profile alone shows the profile usage on stderr', async () => {
    const result = await fakeWorld().run(['profile']);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^Usage: calicoctl profile \(show\|add\|remove\) … \| profile <PROFILE> \(rule\|tag\) …\n/);
  });

  it('profile <P> alone, or followed by something other than rule or tag', async () => {
    const world = fakeWorld();
    expect(await runUnchanged(world, ['profile', 'web'])).toEqual(
      usage("Expected 'rule' or 'tag' after 'profile web', found nothing. See 'calicoctl profile --help'."),
    );
    expect(await runUnchanged(world, ['profile', 'web', 'bogus'])).toEqual(
      usage("Expected 'rule' or 'tag' after 'profile web', found 'bogus'. See 'calicoctl profile --help'."),
    );
    expect(await runUnchanged(world, ['profile', 'web', 'show'])).toEqual(
      usage("Expected 'rule' or 'tag' after 'profile web', found 'show'. See 'calicoctl profile --help'."),
    );
  });

  it('profile <P> rule without a verb, or with an unknown one', async () => {
    const world = fakeWorld();
    const bare = await runUnchanged(world, ['profile', 'web', 'rule']);
    expect(bare.code).toBe(2);
    expect(bare.stdout).toBe('');
    expect(bare.stderr).toMatch(/^Usage: calicoctl profile <PROFILE> rule \(add\|remove\|show\|json\|update\) …\n/);
    expect(await runUnchanged(world, ['profile', 'web', 'rule', 'bogus'])).toEqual(usage("error: unknown command 'bogus'"));
  });

  it('missing rule words name what was expected', async () => {
    const world = await networkWorld();
    expect(await runUnchanged(world, ['profile', 'databases', 'rule', 'add', 'inbound'])).toEqual(
      usage("Incomplete rule: the rule ends after 'inbound'; expected 'allow' or 'deny'."),
    );
    expect(await runUnchanged(world, ['profile', 'databases', 'rule', 'add', 'inbound', 'allow', 'tcp', 'from', 'tag'])).toEqual(
      usage("Incomplete rule: the rule ends after 'tag'; expected <a tag name>."),
    );
    expect(await runUnchanged(world, ['profile', 'databases', 'rule', 'add', 'inbound', 'allow', 'icmp', 'type'])).toEqual(
      usage("Incomplete rule: the rule ends after 'type'; expected <an ICMP type (0-255)>."),
    );
    expect(await runUnchanged(world, ['profile', 'databases', 'rule', 'add', 'inbound', 'allow', 'tcp', 'to', 'cidr'])).toEqual(
      usage("Incomplete rule: the rule ends after 'cidr'; expected <a CIDR such as 10.0.0.0/8 or fd00::/64>."),
    );
  });

  it('grammar errors are found before etcd is touched', async () => {
    const world = fakeWorld();
    world.kv.failWith = new DatastoreUnavailableError(ETCD_DOWN);
    expect(await world.run(['profile', 'web', 'rule', 'add', 'inbound'])).toEqual(
      usage("Incomplete rule: the rule ends after 'inbound'; expected 'allow' or 'deny'."),
    );
    expect(await world.run(['profile', 'web', 'rule', 'add', 'inbound', '--at', 'abc', 'allow'])).toEqual(
      usage("Invalid --at 'abc': give a rule position such as 1."),
    );
    expect(await world.run(['profile', 'web', 'rule', 'remove', 'inbound', '--at=1', 'allow'])).toEqual(
      usage('With --at, give only the direction: rule remove (inbound|outbound) --at=<POSITION>.'),
    );
    expect(await world.run(['profile', 'bad/name', 'rule', 'show'])).toEqual(
      fails("Profile names can only contain numbers, letters, dots, dashes and underscores. Got 'bad/name'."),
    );
  });

  it('--at abc, and --at together with rule words on remove', async () => {
    const world = await networkWorld();
    expect(await runUnchanged(world, ['profile', 'databases', 'rule', 'add', 'inbound', '--at', 'abc', 'allow'])).toEqual(
      usage("Invalid --at 'abc': give a rule position such as 1."),
    );
    expect(await runUnchanged(world, ['profile', 'databases', 'rule', 'remove', 'inbound', '--at=abc'])).toEqual(
      usage("Invalid --at 'abc': give a rule position such as 1."),
    );
    expect(await runUnchanged(world, ['profile', 'databases', 'rule', 'remove', 'inbound', '--at', '1', 'allow', 'from', 'tag', 'databases'])).toEqual(
      usage('With --at, give only the direction: rule remove (inbound|outbound) --at=<POSITION>.'),
    );
  });
});

describe('failures (exit 1)', () => {
  it('a bad profile name', async () => {
    const world = fakeWorld();
    for (const rest of [['rule', 'show'], ['rule', 'add', 'inbound', 'deny'], ['tag', 'show'], ['rule', 'update']]) {
      expect(await runUnchanged(world, ['profile', 'a:b', ...rest])).toEqual(
        fails("Profile names can only contain numbers, letters, dots, dashes and underscores. Got 'a:b'."),
      );
    }
  });

  it.each([
    [['profile', 'show']],
    [['profile', 'show', '--detailed']],
    [['profile', 'add', 'web']],
    [['profile', 'remove', 'web']],
    [['profile', 'web', 'rule', 'show']],
    [['profile', 'web', 'rule', 'add', 'inbound', 'deny']],
    [['profile', 'web', 'rule', 'remove', 'inbound', '--at=1']],
    [['profile', 'web', 'tag', 'add', 'x']],
  ])('an unreachable etcd: %j prints one line on stderr, no stack, exit 1', async (argv) => {
    const world = fakeWorld();
    world.kv.failWith = new DatastoreUnavailableError(ETCD_DOWN);
    expect(await world.run(argv)).toEqual(fails(ETCD_DOWN));
  });

  it('--debug adds the stack trace, before or after the command words', async () => {
    const world = fakeWorld();
    world.kv.failWith = new DatastoreUnavailableError(ETCD_DOWN);
    for (const argv of [['--debug', 'profile', 'web', 'rule', 'show'], ['profile', 'web', 'rule', 'show', '--debug']]) {
      const result = await world.run(argv);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      const lines = result.stderr.split('\n');
      expect(lines[0]).toBe(ETCD_DOWN);
      expect(lines[1]).toBe(`DatastoreUnavailableError: ${ETCD_DOWN}`);
      expect(lines[2]).toMatch(/^ {4}at /);
    }
  });

  it('an unexpected error is reported in one line as internal, with a stack only under --debug', async () => {
    const world = fakeWorld();
    world.kv.failWith = new TypeError('boom');
    expect(await world.run(['profile', 'show'])).toEqual(fails('Internal error: boom (run again with --debug for details)'));
    const debug = await world.run(['--debug', 'profile', 'show']);
    expect(debug.code).toBe(1);
    expect(debug.stderr).toMatch(/^Internal error: boom\nTypeError: boom\n {4}at /);
  });
});

describe('version', () => {
  it('--client prints the client version, exit 0, without etcd', async () => {
    const world = fakeWorld();
    world.kv.failWith = new DatastoreUnavailableError(ETCD_DOWN);
    expect(await world.run(['version', '--client'])).toEqual(ok('0.0.0-test\n'));
  });

  it('prints the client, agent and etcd versions', async () => {
    expect(await fakeWorld().run(['version'])).toEqual(
      ok('Client Version:    0.0.0-test\nAgent Version:     not running\nCluster Version:   etcd 3.4.0-memory\n'),
    );
  });

  it('fails, after the client version, when etcd cannot be asked', async () => {
    const world = fakeWorld();
    world.kv.failWith = new DatastoreUnavailableError(ETCD_DOWN);
    const result = await world.run(['version']);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('Client Version:    0.0.0-test\nAgent Version:     not running\n');
    expect(result.stderr).toBe(`${ETCD_DOWN}\n`);
  });
});
