import type { FakeWorld } from '../fakes/cli';
import { fails, mustRun, ok, plainWorld, ruleShow, rulesKey, runUnchanged, words } from './helpers';

const json = (world: FakeWorld) => world.run(['profile', 'web', 'rule', 'json']);
const update = (world: FakeWorld, stdin: string) => world.run(['profile', 'web', 'rule', 'update'], { stdin });
const stored = (world: FakeWorld) => world.kv.dump()[rulesKey('web')];

async function webWith(...rules: string[]): Promise<FakeWorld> {
  const world = await plainWorld('web');
  for (const rule of rules) await mustRun(world, ['profile', 'web', 'rule', 'add', ...words(rule)]);
  return world;
}

describe('rule show', () => {
  it('prints the headers, then " %3d <rule>" per rule, with no trailing blank line', async () => {
    const world = await webWith('inbound allow tcp to ports 80,443', 'outbound deny icmp type 8 code 0 to cidr 10.0.0.0/8');
    expect(await runUnchanged(world, ['profile', 'web', 'rule', 'show'])).toEqual(
      ok(
        'Inbound rules:\n' +
          '   1 allow from tag web\n' +
          '   2 allow tcp to ports 80,443\n' +
          'Outbound rules:\n' +
          '   1 allow\n' +
          '   2 deny icmp type 8 code 0 to cidr 10.0.0.0/8\n',
      ),
    );
  });

  it('right-aligns the index in three columns', async () => {
    const world = await plainWorld('web');
    const inbound = Array.from({ length: 11 }, (_, i) => ({ action: 'deny', protocol: 'tcp', dst_ports: [i + 1] }));
    world.kv.seed(rulesKey('web'), { inbound_rules: inbound, outbound_rules: [] });
    const out = await mustRun(world, ['profile', 'web', 'rule', 'show']);
    expect(out.split('\n').slice(9)).toEqual(['   9 deny tcp to ports 9', '  10 deny tcp to ports 10', '  11 deny tcp to ports 11', 'Outbound rules:', '']);
  });

  it('prints only the headers for empty lists', async () => {
    const world = await plainWorld('web');
    world.kv.seed(rulesKey('web'), { inbound_rules: [], outbound_rules: [] });
    expect(await world.run(['profile', 'web', 'rule', 'show'])).toEqual(ok('Inbound rules:\nOutbound rules:\n'));
  });

  it('shows a profile with no rules key as empty lists', async () => {
    const world = await plainWorld();
    world.kv.seed('/calico/v1/policy/profile/bare/tags', ['bare']);
    expect(await world.run(['profile', 'bare', 'rule', 'show'])).toEqual(ok('Inbound rules:\nOutbound rules:\n'));
  });

  it('prints lines that rule add takes back as the same rule', async () => {
    const world = await webWith(
      'inbound allow tcp from ports 443,80,1000:2000 tag a cidr 10.1.2.3/8 to ports 22 tag b cidr 10.0.0.0/16',
      'inbound deny icmpv6 type 1 code 4 from cidr DEAD::BEEF/64',
      'outbound deny udp to ports 0,65535',
    );
    const before = world.kv.dump();
    const lines = (await mustRun(world, ['profile', 'web', 'rule', 'show'])).split('\n');
    let direction = 'inbound';
    for (const line of lines) {
      if (line === 'Outbound rules:') direction = 'outbound';
      const match = /^ {1,3}\d+ (.*)$/.exec(line);
      if (!match) continue;
      expect(await world.run(['profile', 'web', 'rule', 'add', direction, ...words(match[1] as string)])).toEqual(ok('Rule already present, skipping.\n'));
    }
    expect(world.kv.dump()).toEqual(before);
  });

  it('fails with exit 1 for an unknown profile', async () => {
    const world = await plainWorld('web');
    expect(await world.run(['profile', 'nope', 'rule', 'show'])).toEqual(fails('Profile nope not found.'));
  });

  it('reports a stored rule it cannot read, naming the key, with exit 1', async () => {
    const world = await plainWorld('web');
    world.kv.seed(rulesKey('web'), { inbound_rules: [{ protocol: 'tcp' }], outbound_rules: [] });
    expect(await world.run(['profile', 'web', 'rule', 'show'])).toEqual(
      fails(`The data stored at ${rulesKey('web')} is invalid: inbound_rules[0].action: missing (must be 'allow' or 'deny')`),
    );
  });
});

describe('rule json', () => {
  it('prints standard JSON: 2-space indent, no trailing spaces, a final newline', async () => {
    const world = await webWith('inbound deny tcp from ports 80,8000:8080 cidr 10.0.0.0/8 to tag db', 'outbound allow icmp type 8 code 0');
    const result = await runUnchanged(world, ['profile', 'web', 'rule', 'json']);
    expect(result).toEqual(
      ok(
        [
          '{',
          '  "inbound_rules": [',
          '    {',
          '      "action": "allow",',
          '      "src_tag": "web"',
          '    },',
          '    {',
          '      "action": "deny",',
          '      "protocol": "tcp",',
          '      "src_net": "10.0.0.0/8",',
          '      "src_ports": [',
          '        80,',
          '        "8000:8080"',
          '      ],',
          '      "dst_tag": "db"',
          '    }',
          '  ],',
          '  "outbound_rules": [',
          '    {',
          '      "action": "allow"',
          '    },',
          '    {',
          '      "action": "allow",',
          '      "protocol": "icmp",',
          '      "icmp_type": 8,',
          '      "icmp_code": 0',
          '    }',
          '  ]',
          '}',
          '',
        ].join('\n'),
      ),
    );
    expect(result.stdout).not.toMatch(/ \n/);
    expect(JSON.parse(result.stdout)).toEqual(stored(world));
  });

  it('prints empty lists as []', async () => {
    const world = await plainWorld('web');
    world.kv.seed(rulesKey('web'), { inbound_rules: [], outbound_rules: [] });
    expect(await json(world)).toEqual(ok('{\n  "inbound_rules": [],\n  "outbound_rules": []\n}\n'));
  });

  it('fails with exit 1 for an unknown profile', async () => {
    const world = await plainWorld('web');
    expect(await world.run(['profile', 'nope', 'rule', 'json'])).toEqual(fails('Profile nope not found.'));
  });
});

describe('rule update', () => {
  it('round-trips the rule json output: same etcd content, same rule show', async () => {
    const world = await webWith(
      'inbound deny tcp from ports 443,80,8000:8080 cidr 10.1.2.3/8 to tag db',
      'inbound allow icmpv6 type 128 to cidr fd00::1/64',
      'outbound deny udp to ports 53',
    );
    const before = world.kv.dump();
    const shown = await mustRun(world, ['profile', 'web', 'rule', 'show']);
    const text = (await json(world)).stdout;
    expect(await update(world, text)).toEqual(ok('Successfully updated rules on profile web\n'));
    expect(world.kv.dump()).toEqual(before);
    expect(await mustRun(world, ['profile', 'web', 'rule', 'show'])).toBe(shown);
  });

  it('replaces both lists wholesale and writes once', async () => {
    const world = await webWith('inbound deny tcp to ports 22');
    const commits = world.kv.commits;
    const document = {
      inbound_rules: [{ action: 'deny', protocol: 'udp', src_ports: ['1000:2000', 53] }],
      outbound_rules: [{ action: 'allow', protocol: 'icmp', icmp_type: 0 }, { action: 'deny', dst_net: '192.168.0.0/16' }],
    };
    expect(await update(world, JSON.stringify(document))).toEqual(ok('Successfully updated rules on profile web\n'));
    expect(world.kv.commits).toBe(commits + 1);
    expect(stored(world)).toEqual(document);
    expect(await mustRun(world, ['profile', 'web', 'rule', 'show'])).toBe(
      ruleShow(['deny udp from ports 1000:2000,53'], ['allow icmp type 0', 'deny to cidr 192.168.0.0/16']),
    );
  });

  it('ignores other top-level keys, such as the old "id"', async () => {
    const world = await plainWorld('web');
    expect(await update(world, '{"id": "web", "inbound_rules": [], "outbound_rules": [{"action": "deny"}]}')).toEqual(
      ok('Successfully updated rules on profile web\n'),
    );
    expect(stored(world)).toEqual({ inbound_rules: [], outbound_rules: [{ action: 'deny' }] });
  });

  const notJson = (text: string): string => {
    try {
      JSON.parse(text);
    } catch (error) {
      return `The rules on standard input are not valid JSON: ${(error as Error).message}. Nothing was changed.`;
    }
    throw new Error('valid JSON');
  };
  const rule = (r: object) => JSON.stringify({ inbound_rules: [{ action: 'allow' }, r], outbound_rules: [] });
  const invalid = (where: string) => `Invalid rule at ${where}. Nothing was changed.`;

  it.each([
    ['neither JSON nor a rules document', 'nope', invalid('rules: expected a JSON object with inbound_rules and outbound_rules')],
    ['empty input', '', 'No rules on standard input: give the rule json document, as JSON or YAML. Nothing was changed.'],
    ['truncated JSON', '{"inbound_rules": [', notJson('{"inbound_rules": [')],
    ['a list instead of an object', '[]', invalid('rules: expected a JSON object with inbound_rules and outbound_rules')],
    ['missing inbound_rules', '{"outbound_rules": []}', invalid('inbound_rules: missing (a list of rules is required)')],
    ['missing outbound_rules', '{"inbound_rules": []}', invalid('outbound_rules: missing (a list of rules is required)')],
    ['inbound_rules not a list', '{"inbound_rules": {}, "outbound_rules": []}', invalid('inbound_rules: expected a list of rules')],
    ['a rule that is not an object', '{"inbound_rules": [], "outbound_rules": ["allow"]}', invalid('outbound_rules[0]: expected a rule object')],
    ['a missing action', JSON.stringify({ inbound_rules: [{ protocol: 'tcp' }], outbound_rules: [] }), invalid("inbound_rules[0].action: missing (must be 'allow' or 'deny')")],
    ['an unknown action', rule({ action: 'reject' }), invalid('inbound_rules[1].action: "reject" is not \'allow\' or \'deny\'')],
    ['an unknown protocol', rule({ action: 'allow', protocol: 'sctp' }), invalid('inbound_rules[1].protocol: "sctp" is not one of tcp, udp, icmp, icmpv6')],
    ['a port above 65535', rule({ action: 'allow', protocol: 'tcp', dst_ports: [80, 65536] }), invalid('inbound_rules[1].dst_ports[1]: 65536 is not a port (0-65535) or a range "low:high" with low < high')],
    ['a reversed range', rule({ action: 'allow', protocol: 'udp', src_ports: ['90:80'] }), invalid('inbound_rules[1].src_ports[0]: "90:80" is not a port (0-65535) or a range "low:high" with low < high')],
    ['a port as a string', rule({ action: 'allow', protocol: 'tcp', dst_ports: ['80'] }), invalid('inbound_rules[1].dst_ports[0]: "80" is not a port (0-65535) or a range "low:high" with low < high')],
    ['ports with icmp', rule({ action: 'allow', protocol: 'icmp', dst_ports: [80] }), invalid('inbound_rules[1].dst_ports: ports are only valid with protocol tcp or udp')],
    ['ports without a protocol', rule({ action: 'allow', src_ports: [80] }), invalid('inbound_rules[1].src_ports: ports are only valid with protocol tcp or udp')],
    ['icmp fields with tcp', rule({ action: 'allow', protocol: 'tcp', icmp_type: 8 }), invalid('inbound_rules[1].icmp_type: ICMP type and code are only valid with protocol icmp or icmpv6, not tcp')],
    ['an ICMP type above 255', rule({ action: 'allow', protocol: 'icmp', icmp_type: 256 }), invalid('inbound_rules[1].icmp_type: 256 is not a number from 0 to 255')],
    ['an ICMP code without a type', rule({ action: 'allow', protocol: 'icmp', icmp_code: 0 }), invalid('inbound_rules[1].icmp_code: an ICMP code needs an icmp_type')],
    ['a bad tag', rule({ action: 'allow', src_tag: 'a b' }), invalid('inbound_rules[1].src_tag: "a b" is not a tag (numbers, letters, dots, dashes and underscores)')],
    ['a bad CIDR', rule({ action: 'allow', dst_net: 'bogus' }), invalid('inbound_rules[1].dst_net: "bogus" is not a CIDR')],
    ['mixed IP versions', rule({ action: 'allow', src_net: '10.0.0.0/8', dst_net: 'fd00::/64' }), invalid('inbound_rules[1].dst_net: fd00::/64 is IPv6, but the rule needs IPv4')],
    ['an unknown top-level key', '{"inbound_rules": [], "outbound_rules": [], "inbound_rule": [{"action": "deny"}]}', invalid("'inbound_rule': is not a key of the rules document (keys: inbound_rules, outbound_rules)")],
    ['an unknown key with a newline, kept on one line (fuzz seed -839258479)', '{"inbound_rules": [], "outbound_rules": [], "a\\nb": {}}', invalid("'a\\x0ab': is not a key of the rules document (keys: inbound_rules, outbound_rules)")],
    ['an unknown field', rule({ action: 'allow', bogus: 1 }), invalid('inbound_rules[1].bogus: is not a rule field (fields: action, protocol, src_tag, src_net, src_ports, dst_tag, dst_net, dst_ports, icmp_type, icmp_code)')],
    ['a negated field', rule({ action: 'allow', '!src_net': '10.0.0.0/8' }), invalid('inbound_rules[1].!src_net: is not supported by calicoctl rules (fields: action, protocol, src_tag, src_net, src_ports, dst_tag, dst_net, dst_ports, icmp_type, icmp_code)')],
    ['a selector', rule({ action: 'allow', src_selector: 'a == "b"' }), invalid('inbound_rules[1].src_selector: is not supported by calicoctl rules (fields: action, protocol, src_tag, src_net, src_ports, dst_tag, dst_net, dst_ports, icmp_type, icmp_code)')],
  ])('rejects %s: names the rule and field, exit 1, nothing written', async (_, stdin, message) => {
    const world = await webWith('inbound deny tcp to ports 22');
    expect(await runUnchanged(world, ['profile', 'web', 'rule', 'update'], { stdin })).toEqual(fails(message));
  });

  it('fails with exit 1 for an unknown profile, writing nothing', async () => {
    const world = await plainWorld('web');
    expect(await runUnchanged(world, ['profile', 'nope', 'rule', 'update'], { stdin: '{"inbound_rules": [], "outbound_rules": []}' })).toEqual(
      fails('Profile nope not found.'),
    );
  });
});
