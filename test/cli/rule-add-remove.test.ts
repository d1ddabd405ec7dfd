import type { FakeWorld } from '../fakes/cli';
import { fails, mustRun, ok, plainWorld, ruleShow, rulesKey, runUnchanged, usage, words } from './helpers';

/** `profile web rule add <text>` */
const add = (world: FakeWorld, text: string) => world.run(['profile', 'web', 'rule', 'add', ...words(text)]);
const remove = (world: FakeWorld, text: string) => world.run(['profile', 'web', 'rule', 'remove', ...words(text)]);
const show = (world: FakeWorld) => mustRun(world, ['profile', 'web', 'rule', 'show']);
const stored = (world: FakeWorld) => world.kv.dump()[rulesKey('web')];

/** A profile `web` whose inbound rules are `allow from tag web` followed by the given rules. */
async function webWith(...inbound: string[]): Promise<FakeWorld> {
  const world = await plainWorld('web');
  for (const rule of inbound) await mustRun(world, ['profile', 'web', 'rule', 'add', 'inbound', ...words(rule)]);
  return world;
}

describe('rule add', () => {
  it('appends by default, prints nothing and stores the v1 data model', async () => {
    const world = await plainWorld('web');
    expect(await add(world, 'inbound allow tcp to ports 80,443')).toEqual(ok());
    expect(await add(world, 'outbound deny udp from ports 53 cidr 10.0.0.0/8')).toEqual(ok());
    expect(await show(world)).toBe(
      'Inbound rules:\n   1 allow from tag web\n   2 allow tcp to ports 80,443\nOutbound rules:\n   1 allow\n   2 deny udp from ports 53 cidr 10.0.0.0/8\n',
    );
    expect(stored(world)).toEqual({
      inbound_rules: [
        { action: 'allow', src_tag: 'web' },
        { action: 'allow', protocol: 'tcp', dst_ports: [80, 443] },
      ],
      outbound_rules: [{ action: 'allow' }, { action: 'deny', protocol: 'udp', src_ports: [53], src_net: '10.0.0.0/8' }],
    });
  });

  it('stores every part of the grammar: ranges as strings, icmp numbers, CIDRs as netaddr wrote them', async () => {
    const world = await plainWorld('web');
    const rules = [
      'inbound allow tcp from ports 1024:65535,22 tag web cidr 10.1.2.3/8 to ports 0,8000:8080 tag db cidr 10/8',
      'inbound deny udp to ports 080',
      'inbound allow icmp type 8 code 0 from cidr 1.2.3.4',
      'inbound allow icmpv6 type 128 to cidr DEAD:0::BEEF/64',
      'inbound allow icmp',
      'inbound deny from tag a to tag b',
      'inbound allow tcp from',
    ];
    for (const rule of rules) expect(await add(world, rule)).toEqual(ok());
    expect(stored(world)).toEqual({
      inbound_rules: [
        { action: 'allow', src_tag: 'web' },
        {
          action: 'allow',
          protocol: 'tcp',
          src_ports: ['1024:65535', 22],
          src_tag: 'web',
          src_net: '10.1.2.3/8',
          dst_ports: [0, '8000:8080'],
          dst_tag: 'db',
          dst_net: '10.0.0.0/8',
        },
        { action: 'deny', protocol: 'udp', dst_ports: [80] },
        { action: 'allow', protocol: 'icmp', icmp_type: 8, icmp_code: 0, src_net: '1.2.3.4/32' },
        { action: 'allow', protocol: 'icmpv6', icmp_type: 128, dst_net: 'dead::beef/64' },
        { action: 'allow', protocol: 'icmp' },
        { action: 'deny', src_tag: 'a', dst_tag: 'b' },
        { action: 'allow', protocol: 'tcp' },
      ],
      outbound_rules: [{ action: 'allow' }],
    });
    expect(await show(world)).toBe(
      ruleShow(
        [
          'allow from tag web',
          'allow tcp from ports 1024:65535,22 tag web cidr 10.1.2.3/8 to ports 0,8000:8080 tag db cidr 10.0.0.0/8',
          'deny udp to ports 80',
          'allow icmp type 8 code 0 from cidr 1.2.3.4/32',
          'allow icmpv6 type 128 to cidr dead::beef/64',
          'allow icmp',
          'deny from tag a to tag b',
          'allow tcp',
        ],
        ['allow'],
      ),
    );
  });

  describe('--at', () => {
    it.each([
      ['--at=1 before the action', 'inbound --at=1 deny tcp to ports 22'],
      ['--at 1 before the action', 'inbound --at 1 deny tcp to ports 22'],
      ['--at 1 before the direction', '--at 1 inbound deny tcp to ports 22'],
      ['--at=1 after the action', 'inbound deny --at=1 tcp to ports 22'],
      ['--at 1 inside the match', 'inbound deny tcp to --at 1 ports 22'],
      ['--at=1 at the end', 'inbound deny tcp to ports 22 --at=1'],
      ['--at 1 at the end', 'inbound deny tcp to ports 22 --at 1'],
    ])('is accepted anywhere among the words: %s', async (_, text) => {
      const world = await webWith('allow tcp to ports 80');
      expect(await add(world, text)).toEqual(ok());
      expect(await show(world)).toBe(ruleShow(['deny tcp to ports 22', 'allow from tag web', 'allow tcp to ports 80'], ['allow']));
    });

    it('inserts at positions 1..n+1, in order', async () => {
      const world = await webWith();
      expect(await add(world, 'inbound --at=2 deny tcp to ports 4')).toEqual(ok()); // n+1: append
      expect(await add(world, 'inbound --at=1 deny tcp to ports 1')).toEqual(ok());
      expect(await add(world, 'inbound --at 3 deny tcp to ports 3')).toEqual(ok()); // middle
      expect(await add(world, 'inbound --at=5 deny tcp to ports 5')).toEqual(ok()); // n+1 again
      expect(await add(world, 'outbound --at=1 deny')).toEqual(ok());
      expect(await show(world)).toBe(
        ruleShow(
          ['deny tcp to ports 1', 'allow from tag web', 'deny tcp to ports 3', 'deny tcp to ports 4', 'deny tcp to ports 5'],
          ['deny', 'allow'],
        ),
      );
    });

    it.each([
      ['n+2', 'inbound --at=4 deny', 'Position 4 is out-of-range. Valid positions are 1 to 3.'],
      ['far past the end', 'inbound --at 100 deny', 'Position 100 is out-of-range. Valid positions are 1 to 3.'],
      ['0', 'inbound --at=0 deny', 'Position 0 is out-of-range. Valid positions are 1 to 3.'],
      ['negative', 'inbound --at=-1 deny', 'Position -1 is out-of-range. Valid positions are 1 to 3.'],
      ['negative, as a separate word', 'inbound --at -2 deny', 'Position -2 is out-of-range. Valid positions are 1 to 3.'],
      ['an existing rule, out of range', 'inbound --at=9 allow from tag web', 'Position 9 is out-of-range. Valid positions are 1 to 3.'],
    ])('out of range (%s) is an error, exit 1, nothing stored', async (_, text, message) => {
      const world = await webWith('allow tcp to ports 80');
      expect(await runUnchanged(world, ['profile', 'web', 'rule', 'add', ...words(text)])).toEqual(fails(message));
    });

    it('names the only valid position when the list is empty', async () => {
      const world = await plainWorld('web');
      await mustRun(world, ['profile', 'web', 'rule', 'remove', 'outbound', '--at=1']);
      expect(await runUnchanged(world, ['profile', 'web', 'rule', 'add', 'outbound', '--at=2', 'deny'])).toEqual(
        fails('Position 2 is out-of-range. The only valid position is 1.'),
      );
      expect(await add(world, 'outbound --at=1 deny')).toEqual(ok());
      expect(await show(world)).toBe(ruleShow(['allow from tag web'], ['deny']));
    });

    it('must be a whole number (usage error, exit 2)', async () => {
      const world = await webWith();
      for (const at of ['abc', '1.5', '', '2x']) {
        expect(await runUnchanged(world, ['profile', 'web', 'rule', 'add', 'inbound', `--at=${at}`, 'deny'])).toEqual(
          usage(`Invalid --at '${at}': give a rule position such as 1.`),
        );
      }
      expect(await runUnchanged(world, ['profile', 'web', 'rule', 'add', 'inbound', 'deny', '--at'])).toEqual(
        usage("error: option '--at <POSITION>' argument missing"),
      );
    });
  });

  describe('duplicates', () => {
    it.each([
      ['the same words', 'allow tcp from ports 80,443 cidr 10.0.0.0/8'],
      ['ports in another order', 'allow tcp from ports 443,80 cidr 10.0.0.0/8'],
      ['a port repeated', 'allow tcp from ports 80,443,80 cidr 10.0.0.0/8'],
      ['host bits in the CIDR', 'allow tcp from ports 80,443 cidr 10.1.2.3/8'],
      ['a partial CIDR', 'allow tcp from ports 443,80 cidr 10/8'],
    ])('are found as rules, not text: %s', async (_, text) => {
      const world = await webWith('allow tcp from ports 80,443 cidr 10.0.0.0/8');
      expect(await runUnchanged(world, ['profile', 'web', 'rule', 'add', 'inbound', ...words(text)])).toEqual(
        ok('Rule already present, skipping.\n'),
      );
    });

    it('are skipped with exit 0 also when --at is given', async () => {
      const world = await webWith('allow tcp to ports 80');
      expect(await runUnchanged(world, ['profile', 'web', 'rule', 'add', 'inbound', '--at=1', 'allow', 'tcp', 'to', 'ports', '80'])).toEqual(
        ok('Rule already present, skipping.\n'),
      );
    });

    it('are per direction, and a different action or field is a different rule', async () => {
      const world = await webWith('allow tcp to ports 80');
      expect(await add(world, 'outbound allow tcp to ports 80')).toEqual(ok());
      expect(await add(world, 'inbound deny tcp to ports 80')).toEqual(ok());
      expect(await add(world, 'inbound allow tcp from ports 80')).toEqual(ok());
      expect(await add(world, 'inbound allow udp to ports 80')).toEqual(ok());
      expect(await add(world, 'inbound allow tcp to ports 80 cidr 10.0.0.0/9')).toEqual(ok());
      expect(await show(world)).toBe(
        ruleShow(
          [
            'allow from tag web',
            'allow tcp to ports 80',
            'deny tcp to ports 80',
            'allow tcp from ports 80',
            'allow udp to ports 80',
            'allow tcp to ports 80 cidr 10.0.0.0/9',
          ],
          ['allow', 'allow tcp to ports 80'],
        ),
      );
    });
  });

  describe('validation (exit 1, nothing stored)', () => {
    it.each([
      ['a port above 65535', 'allow tcp to ports 65536', "Invalid SRCPORTS or DSTPORTS specified. '65536' is not a comma-separated list of ports (0-65535) and ranges low:high."],
      ['an empty range', 'allow tcp from ports 80:80', "Invalid SRCPORTS or DSTPORTS specified. '80:80' is not a comma-separated list of ports (0-65535) and ranges low:high."],
      ['a reversed range', 'allow udp to ports 90:80', "Invalid SRCPORTS or DSTPORTS specified. '90:80' is not a comma-separated list of ports (0-65535) and ranges low:high."],
      ['a dash range', 'allow tcp to ports 80-90', "Invalid SRCPORTS or DSTPORTS specified. '80-90' is not a comma-separated list of ports (0-65535) and ranges low:high."],
      ['an empty port item', 'allow tcp to ports 80,', "Invalid SRCPORTS or DSTPORTS specified. '80,' is not a comma-separated list of ports (0-65535) and ranges low:high."],
      ['a bad tag', 'allow from tag a/b', "Tags names can only contain numbers, letters, dots, dashes and underscores. Got 'a/b'."],
      ['a bad CIDR', 'allow from cidr 10.0.0.0/33', "Invalid CIDR specified. '10.0.0.0/33' is not an IPv4 or IPv6 address or network."],
      ['a bad address', 'allow to cidr 300.1.1.1/8', "Invalid CIDR specified. '300.1.1.1/8' is not an IPv4 or IPv6 address or network."],
      ['an ICMP type above 255', 'allow icmp type 256', "Invalid ICMP type or ICMP code specified. '256' is not a number from 0 to 255."],
      ['a bad ICMP code', 'allow icmpv6 type 1 code x', "Invalid ICMP type or ICMP code specified. 'x' is not a number from 0 to 255."],
      ['mixed IP versions', 'allow from cidr 10.0.0.0/8 to cidr ::1', 'Invalid or unmatching IP versions for SRCCIDR/DSTCIDR. A rule cannot mix IPv4 and IPv6 CIDRs.'],
      ['IPv6 with icmp', 'allow icmp from cidr fd00::/64', 'Invalid or unmatching IP versions for SRCCIDR/DSTCIDR. Icmp needs IPv4 CIDRs, and fd00::/64 is IPv6.'],
      ['IPv4 with icmpv6', 'deny icmpv6 to cidr 10.0.0.1', 'Invalid or unmatching IP versions for SRCCIDR/DSTCIDR. Icmpv6 needs IPv6 CIDRs, and 10.0.0.1/32 is IPv4.'],
    ])('%s', async (_, text, message) => {
      const world = await webWith();
      expect(await runUnchanged(world, ['profile', 'web', 'rule', 'add', 'inbound', ...words(text)])).toEqual(fails(message));
    });
  });

  describe('grammar (exit 2, nothing stored)', () => {
    it.each([
      ['no action', 'inbound', "Incomplete rule: the rule ends after 'inbound'; expected 'allow' or 'deny'."],
      ['no direction', 'allow tcp', "Unexpected word 'allow' (word 1 of the rule): expected 'inbound' or 'outbound'."],
      ['an upper-case keyword', 'inbound allow TCP', "Unexpected word 'TCP' (word 3 of the rule): expected 'tcp', 'udp', 'icmp', 'icmpv6', 'from', 'to' or <end of rule>."],
      ['ports without a value', 'inbound allow tcp from ports', "Incomplete rule: the rule ends after 'ports'; expected <a port list such as 80,443,8000:8080>."],
      ['ports without tcp/udp', 'inbound allow from ports 80', "Unexpected word 'ports' (word 4 of the rule): expected 'tag', 'cidr', 'to' or <end of rule>."],
      ['type without icmp', 'inbound allow tcp type 8', "Unexpected word 'type' (word 4 of the rule): expected 'from', 'to' or <end of rule>."],
      ['code without type', 'inbound allow icmp code 0', "Unexpected word 'code' (word 4 of the rule): expected 'type'."],
      ['tag before ports', 'inbound allow tcp from tag a ports 22', "Unexpected word 'ports' (word 7 of the rule): expected 'cidr', 'to' or <end of rule>."],
      ['to before from', 'inbound allow tcp to tag x from cidr 10.0.0.0/8', "Unexpected word 'from' (word 7 of the rule): expected 'cidr' or <end of rule>."],
      ['an unsupported protocol', 'inbound allow sctp', "Unexpected word 'sctp' (word 3 of the rule): expected 'tcp', 'udp', 'icmp', 'icmpv6', 'from', 'to' or <end of rule>."],
    ])('%s', async (_, text, message) => {
      const world = await webWith();
      expect(await runUnchanged(world, ['profile', 'web', 'rule', 'add', ...words(text)])).toEqual(usage(message));
    });

    it('needs the rule words at all', async () => {
      const world = await webWith();
      expect(await runUnchanged(world, ['profile', 'web', 'rule', 'add'])).toEqual(usage("error: missing required argument 'RULE'"));
    });
  });

  it('fails with exit 1 for an unknown profile, and for a bad profile name', async () => {
    const world = await webWith();
    expect(await runUnchanged(world, ['profile', 'nope', 'rule', 'add', 'inbound', 'deny'])).toEqual(fails('Profile nope not found.'));
    expect(await runUnchanged(world, ['profile', 'bad/name', 'rule', 'add', 'inbound', 'deny'])).toEqual(
      fails("Profile names can only contain numbers, letters, dots, dashes and underscores. Got 'bad/name'."),
    );
  });
});

describe('rule remove', () => {
  it('removes by position, 1..n', async () => {
    const world = await webWith('deny tcp to ports 2', 'deny tcp to ports 3');
    expect(await remove(world, 'inbound --at=2')).toEqual(ok());
    expect(await show(world)).toBe(ruleShow(['allow from tag web', 'deny tcp to ports 3'], ['allow']));
    expect(await remove(world, 'inbound --at 2')).toEqual(ok());
    expect(await remove(world, '--at 1 outbound')).toEqual(ok());
    expect(await show(world)).toBe(ruleShow(['allow from tag web'], []));
    expect(stored(world)).toEqual({ inbound_rules: [{ action: 'allow', src_tag: 'web' }], outbound_rules: [] });
  });

  it.each([
    ['n+1', 'inbound --at=4', 'Rule position out-of-range. Valid positions are 1 to 3.'],
    ['0', 'inbound --at=0', 'Rule position out-of-range. Valid positions are 1 to 3.'],
    ['negative', 'inbound --at=-1', 'Rule position out-of-range. Valid positions are 1 to 3.'],
    ['one rule', 'outbound --at 2', 'Rule position out-of-range. The only valid position is 1.'],
  ])('out of range (%s) is an error, exit 1, nothing written', async (_, text, message) => {
    const world = await webWith('deny tcp to ports 2', 'deny tcp to ports 3');
    expect(await runUnchanged(world, ['profile', 'web', 'rule', 'remove', ...words(text)])).toEqual(fails(message));
  });

  it('says when the direction has no rules', async () => {
    const world = await webWith();
    await mustRun(world, ['profile', 'web', 'rule', 'remove', 'outbound', '--at=1']);
    expect(await runUnchanged(world, ['profile', 'web', 'rule', 'remove', 'outbound', '--at=1'])).toEqual(
      fails('Rule position out-of-range. There are no outbound rules.'),
    );
  });

  it.each([
    ['the same words', 'allow tcp from ports 80,443,8000:8080 cidr 10.0.0.0/8 to tag db'],
    ['ports in another order', 'allow tcp from ports 8000:8080,443,80 cidr 10.0.0.0/8 to tag db'],
    ['host bits in the CIDR', 'allow tcp from ports 80,443,8000:8080 cidr 10.1.2.3/8 to tag db'],
    ['a partial CIDR and reordered ports', 'allow tcp from ports 443,8000:8080,80 cidr 10/8 to tag db'],
  ])('removes by description, compared as rules: %s', async (_, text) => {
    const world = await webWith('deny tcp to ports 22', 'allow tcp from ports 80,443,8000:8080 cidr 10.0.0.0/8 to tag db');
    expect(await remove(world, `inbound ${text}`)).toEqual(ok());
    expect(await show(world)).toBe(ruleShow(['allow from tag web', 'deny tcp to ports 22'], ['allow']));
  });

  it('removes by description an IPv6 CIDR written another way', async () => {
    const world = await webWith('deny icmpv6 from cidr fd00::/64');
    expect(await remove(world, 'inbound deny icmpv6 from cidr FD00:0:0:0::1/64')).toEqual(ok());
    expect(await show(world)).toBe(ruleShow(['allow from tag web'], ['allow']));
  });

  it.each([
    ['a different action', 'inbound deny tcp to ports 80'],
    ['a missing field', 'inbound allow tcp'],
    ['an extra field', 'inbound allow tcp to ports 80 tag x'],
    ['another direction', 'outbound allow tcp to ports 80'],
    ['another port', 'inbound allow tcp to ports 81'],
    ['another CIDR', 'inbound allow from cidr 10.0.0.0/16'],
  ])('fails with "Rule not found." (exit 1, nothing written) for %s', async (_, text) => {
    const world = await webWith('allow tcp to ports 80', 'allow from cidr 10.0.0.0/8');
    expect(await runUnchanged(world, ['profile', 'web', 'rule', 'remove', ...words(text)])).toEqual(fails('Rule not found.'));
  });

  it('removes only the first of two equal stored rules', async () => {
    const world = await plainWorld('web');
    world.kv.seed(rulesKey('web'), {
      inbound_rules: [{ action: 'deny', protocol: 'tcp', dst_ports: [80, 443] }, { action: 'allow' }, { action: 'deny', protocol: 'tcp', dst_ports: [443, 80] }],
      outbound_rules: [],
    });
    expect(await remove(world, 'inbound deny tcp to ports 443,80')).toEqual(ok());
    expect(stored(world)).toEqual({ inbound_rules: [{ action: 'allow' }, { action: 'deny', protocol: 'tcp', dst_ports: [443, 80] }], outbound_rules: [] });
  });

  it('takes --at or a description, not both (exit 2)', async () => {
    const world = await webWith('allow tcp to ports 80');
    const message = 'With --at, give only the direction: rule remove (inbound|outbound) --at=<POSITION>.';
    expect(await runUnchanged(world, ['profile', 'web', 'rule', 'remove', 'inbound', '--at=1', 'allow'])).toEqual(usage(message));
    expect(await runUnchanged(world, ['profile', 'web', 'rule', 'remove', 'inbound', 'allow', 'tcp', 'to', 'ports', '80', '--at', '2'])).toEqual(usage(message));
    expect(await runUnchanged(world, ['profile', 'web', 'rule', 'remove', 'sideways', '--at', '1'])).toEqual(usage(message));
  });

  it('is a usage error without an action or with bad words (exit 2)', async () => {
    const world = await webWith();
    expect(await runUnchanged(world, ['profile', 'web', 'rule', 'remove', 'inbound'])).toEqual(
      usage("Incomplete rule: the rule ends after 'inbound'; expected 'allow' or 'deny'."),
    );
    expect(await runUnchanged(world, ['profile', 'web', 'rule', 'remove', 'inbound', '--at=x'])).toEqual(
      usage("Invalid --at 'x': give a rule position such as 1."),
    );
    expect(await runUnchanged(world, ['profile', 'web', 'rule', 'remove', '--at=1'])).toEqual(usage("error: missing required argument 'RULE'"));
  });

  it('fails with exit 1 for an unknown profile', async () => {
    const world = await webWith();
    expect(await runUnchanged(world, ['profile', 'nope', 'rule', 'remove', 'inbound', '--at=1'])).toEqual(fails('Profile nope not found.'));
    expect(await runUnchanged(world, ['profile', 'nope', 'rule', 'remove', 'inbound', 'allow'])).toEqual(fails('Profile nope not found.'));
  });
});
