import fc from 'fast-check';
import { stringify } from 'yaml';
import type { Rule, RuleSet } from '../../src/policy/ast';
import { ruleSetToV1 } from '../../src/policy/codec';
import { parseDirectedRule, RuleSyntaxError, RuleValidationError } from '../../src/policy/parser';
import { printRule } from '../../src/policy/printer';
import type { FakeWorld, RunResult } from '../fakes/cli';
import { fuzzParams, hostileJson, hostileString, mangledObject } from '../fakes/fuzz';
import { anyWordsArb, ruleArb } from '../fakes/rule-arbitraries';
import { mustRun, plainWorld, rulesKey } from './helpers';

/**
 * Hostile input to `profile P rule add` and `rule update`, in-process against the fakes: whatever
 * the words or the document, calicoctl ends with the exit code the grammar says, one line on
 * stderr when it fails, and etcd exactly as it was unless it succeeded.
 */

let world: FakeWorld;
beforeAll(async () => {
  world = await plainWorld('web');
});

/** One run; on failure it must have written one line, nothing on stdout, and not touched etcd. */
async function runChecked(argv: string[], stdin?: string): Promise<RunResult> {
  const before = world.kv.dump();
  const commits = world.kv.commits;
  const result = await world.run(argv, stdin === undefined ? {} : { stdin });
  if (result.code !== 0) {
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^[^\n]+\n$/);
    expect(result.stderr).not.toMatch(/Internal error|\bat .*\.ts:\d+/);
    expect(world.kv.dump()).toEqual(before);
    expect(world.kv.commits).toBe(commits);
  }
  return result;
}

/** The exit code the grammar prescribes: 2 for words out of place, 1 for a bad value, 0 for a rule. */
function expectedCode(words: readonly string[]): number {
  try {
    parseDirectedRule(words);
    return 0;
  } catch (error) {
    if (error instanceof RuleSyntaxError) return 2;
    if (error instanceof RuleValidationError) return 1;
    throw error;
  }
}

const directionArb = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('inbound', 'outbound') },
  { weight: 1, arbitrary: fc.constantFrom('', 'Inbound', 'in', 'both', '✓') },
);

/** Resets the profile's rules now and then, so they do not grow without bound over thousands of adds. */
let adds = 0;
function maybeReset(): void {
  if (++adds % 50 === 0) world.kv.seed(rulesKey('web'), { inbound_rules: [], outbound_rules: [] });
}

describe('rule add with random and mutated words', () => {
  it('exits as the grammar says, with one line on error and etcd unchanged', async () => {
    await fc.assert(
      fc.asyncProperty(directionArb, anyWordsArb, async (direction, words) => {
        maybeReset();
        const ruleWords = [direction, ...words];
        const result = await runChecked(['profile', 'web', 'rule', 'add', ...ruleWords]);
        // Words that look like options are Commander's to refuse (exit 2), unless the rule takes them as values.
        const optionLike = ruleWords.some((word) => word.startsWith('-'));
        if (optionLike) expect([0, 1, 2]).toContain(result.code);
        else expect(result.code).toBe(expectedCode(ruleWords));
        if (result.code === 0) expect(result.stderr).toBe('');
      }),
      fuzzParams(500),
    );
  });

  it('a rule it accepts is listed by rule show as printRule prints it, once', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('inbound', 'outbound'), ruleArb, async (direction, rule) => {
        world.kv.seed(rulesKey('web'), { inbound_rules: [], outbound_rules: [] });
        const text = printRule(rule);
        await mustRun(world, ['profile', 'web', 'rule', 'add', direction, ...text.split(' ')]);
        // Adding it again is a no-op: the stored rule is the same rule.
        expect(await runChecked(['profile', 'web', 'rule', 'add', direction, ...text.split(' ')])).toMatchObject({ code: 0, stdout: 'Rule already present, skipping.\n' });
        const shown = await mustRun(world, ['profile', 'web', 'rule', 'show']);
        expect(shown.split('\n').filter((line) => line === `   1 ${text}`)).toHaveLength(1);
      }),
      fuzzParams(100),
    );
  });
});

const ruleSetArb: fc.Arbitrary<RuleSet> = fc.record(
  { inbound: fc.array(ruleArb, { maxLength: 4 }), outbound: fc.array(ruleArb, { maxLength: 4 }) },
  { noNullPrototype: true },
);

/** A rule in its stored form with fields replaced, dropped or added. */
const mangledRuleArb = ruleArb.chain((rule: Rule) => mangledObject(ruleSetToV1({ inbound: [rule], outbound: [] }).inbound_rules[0] as unknown as Record<string, unknown>));

/** A rules document that is wrong somewhere: a bad rule, a wrong type, a missing or extra list. */
const badDocumentArb: fc.Arbitrary<unknown> = fc.oneof(
  ruleSetArb.chain((rules) => mangledObject(ruleSetToV1(rules) as unknown as Record<string, unknown>)),
  fc.tuple(ruleSetArb, mangledRuleArb, fc.boolean()).map(([rules, bad, inbound]) => {
    const v1 = ruleSetToV1(rules);
    return inbound ? { ...v1, inbound_rules: [...v1.inbound_rules, bad] } : { ...v1, outbound_rules: [bad, ...v1.outbound_rules] };
  }),
  hostileJson,
);

/** What arrives on standard input: the document as JSON or YAML, cut short, or plain junk. */
function stdinArb(document: fc.Arbitrary<unknown>): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: document.map((d) => JSON.stringify(d) ?? '') },
    { weight: 2, arbitrary: document.map((d) => stringify(d)) },
    { weight: 1, arbitrary: fc.tuple(document, fc.nat()).map(([d, cut]) => { const text = JSON.stringify(d) ?? ''; return text.slice(0, cut % (text.length + 1)); }) },
    { weight: 1, arbitrary: hostileString },
    { weight: 1, arbitrary: fc.constantFrom('{', '[', '{"inbound_rules": [', ': :', '- - -', '*a', '&a [*a]', '!!binary x', '%YAML 9', '\t', '{"a": 1, "a": 2}', '---\n---\n', 'inbound_rules: [\n') },
  );
}

describe('rule update with random and malformed JSON and YAML', () => {
  it('fails with one line, exit 1 and etcd unchanged, or succeeds', async () => {
    world.kv.seed(rulesKey('web'), { inbound_rules: [{ action: 'allow', src_tag: 'web' }], outbound_rules: [{ action: 'allow' }] });
    await fc.assert(
      fc.asyncProperty(stdinArb(badDocumentArb), async (stdin) => {
        const result = await runChecked(['profile', 'web', 'rule', 'update'], stdin);
        expect([0, 1]).toContain(result.code);
        if (result.code === 0) expect(result).toEqual({ code: 0, stdout: 'Successfully updated rules on profile web\n', stderr: '' });
      }),
      fuzzParams(400),
    );
  });

  it('valid random rule sets round-trip: rule json, then rule update of that text, changes nothing', async () => {
    await fc.assert(
      fc.asyncProperty(ruleSetArb, fc.boolean(), async (rules, yaml) => {
        world.kv.seed(rulesKey('web'), ruleSetToV1(rules));
        const json = await mustRun(world, ['profile', 'web', 'rule', 'json']);
        const shown = await mustRun(world, ['profile', 'web', 'rule', 'show']);
        const stdin = yaml ? stringify(JSON.parse(json)) : json;
        world.kv.seed(rulesKey('web'), { inbound_rules: [], outbound_rules: [] });
        await mustRun(world, ['profile', 'web', 'rule', 'update'], stdin);
        expect(await mustRun(world, ['profile', 'web', 'rule', 'json'])).toBe(json);
        expect(await mustRun(world, ['profile', 'web', 'rule', 'show'])).toBe(shown);
      }),
      fuzzParams(80),
    );
  });
});

describe('regressions the properties found', () => {
  it('a tag that starts with a dash is a rule word, not an unknown option (seed 443695908)', async () => {
    world.kv.seed(rulesKey('web'), { inbound_rules: [], outbound_rules: [] });
    await mustRun(world, ['profile', 'web', 'rule', 'add', 'inbound', 'allow', 'from', 'tag', '-a', 'to', 'cidr', '10.0.0.0/8']);
    await mustRun(world, ['profile', 'web', 'rule', 'add', 'inbound', '--at', '1', 'deny', 'from', 'tag', '-b']);
    expect(await mustRun(world, ['profile', 'web', 'rule', 'show'])).toBe('Inbound rules:\n   1 deny from tag -b\n   2 allow from tag -a to cidr 10.0.0.0/8\nOutbound rules:\n');
    await mustRun(world, ['profile', 'web', 'rule', 'remove', 'inbound', 'allow', 'from', 'tag', '-a', 'to', 'cidr', '10.0.0.0/8']);
    // A mistyped option is then a word out of place: still exit 2, one line, nothing written.
    expect(await runChecked(['profile', 'web', 'rule', 'add', 'inbound', '--att=1', 'allow'])).toEqual({
      code: 2,
      stdout: '',
      stderr: "Unexpected word '--att=1' (word 2 of the rule): expected 'allow' or 'deny'.\n",
    });
  });

  it('a dashed tag that is also an option (-la, -h, -D) is still the tag, and options around it still work', async () => {
    world.kv.seed(rulesKey('web'), { inbound_rules: [], outbound_rules: [] });
    await mustRun(world, ['profile', 'web', 'rule', 'add', 'inbound', 'allow', 'udp', 'from', 'tag', '-la']);
    await mustRun(world, ['profile', 'web', 'rule', 'add', 'inbound', '--at', '1', 'allow', 'from', 'tag', '-h', 'to', 'tag', '-D']);
    expect(await runChecked(['profile', 'web', 'rule', 'add', 'outbound', 'deny', 'to', 'tag', '--at', '--dry-run'])).toMatchObject({ code: 0, stderr: 'Dry run: nothing was changed.\n' });
    expect(await mustRun(world, ['profile', 'web', 'rule', 'show'])).toBe('Inbound rules:\n   1 allow from tag -h to tag -D\n   2 allow udp from tag -la\nOutbound rules:\n');
    await mustRun(world, ['profile', 'web', 'rule', 'remove', 'inbound', 'allow', 'udp', 'from', 'tag', '-la']);
    expect(await mustRun(world, ['profile', 'web', 'rule', 'show'])).toBe('Inbound rules:\n   1 allow from tag -h to tag -D\nOutbound rules:\n');
  });

  it('a field name with a newline is quoted in the one-line error (seed 1462797676)', async () => {
    const result = await runChecked(['profile', 'web', 'rule', 'update'], 'inbound_rules: []\noutbound_rules:\n  - action: deny\n    "\\n": []\n');
    expect(result).toEqual({
      code: 1,
      stdout: '',
      stderr: 'Invalid rule at outbound_rules[0]["\\n"]: is not a rule field (fields: action, protocol, src_tag, src_net, src_ports, dst_tag, dst_net, dst_ports, icmp_type, icmp_code). Nothing was changed.\n',
    });
  });
});
