import type { Rule } from '../../../src/policy/ast';
import {
  RuleDecodeError,
  ruleFromV1,
  ruleSetFromV1,
  ruleSetToV1,
  ruleToV1,
  type V1Rule,
} from '../../../src/policy/codec';
import { parseRuleText } from '../../../src/policy/parser';
import { printRule, sameRule } from '../../../src/policy/printer';

function decodeError(document: unknown, where?: string): RuleDecodeError {
  try {
    ruleSetFromV1(document, where);
  } catch (error) {
    expect(error).toBeInstanceOf(RuleDecodeError);
    return error as RuleDecodeError;
  }
  throw new Error('expected a RuleDecodeError');
}

/** A document whose second inbound rule is `rule`, so paths show the index is not always 0. */
function withSecondInbound(rule: unknown): unknown {
  return { inbound_rules: [{ action: 'allow' }, rule], outbound_rules: [{ action: 'allow' }] };
}

const SPEC_FIELDS = [
  'action',
  'protocol',
  'src_tag',
  'src_net',
  'src_ports',
  'dst_tag',
  'dst_net',
  'dst_ports',
  'icmp_type',
  'icmp_code',
];

describe('ruleToV1', () => {
  it.each<[string, V1Rule]>([
    ['allow', { action: 'allow' }],
    ['deny', { action: 'deny' }],
    ['allow tcp from', { action: 'allow', protocol: 'tcp' }],
    ['allow from tag databases', { action: 'allow', src_tag: 'databases' }],
    ['allow tcp from tag applications to ports 3306', { action: 'allow', protocol: 'tcp', src_tag: 'applications', dst_ports: [3306] }],
    ['allow tcp to ports 80,443,8000:8080', { action: 'allow', protocol: 'tcp', dst_ports: [80, 443, '8000:8080'] }],
    ['allow udp from ports 0,1,1', { action: 'allow', protocol: 'udp', src_ports: [0, 1, 1] }],
    [
      'deny udp from ports 53 tag dns cidr 10.1.2.3/8 to ports 1024:65535 tag clients cidr 10/8',
      {
        action: 'deny',
        protocol: 'udp',
        src_ports: [53],
        src_tag: 'dns',
        src_net: '10.1.2.3/8',
        dst_ports: ['1024:65535'],
        dst_tag: 'clients',
        dst_net: '10.0.0.0/8',
      },
    ],
    ['deny icmp type 8 code 0 from cidr 10.0.0.0/8', { action: 'deny', protocol: 'icmp', icmp_type: 8, icmp_code: 0, src_net: '10.0.0.0/8' }],
    ['allow icmp type 0', { action: 'allow', protocol: 'icmp', icmp_type: 0 }],
    ['allow icmpv6 to cidr DEAD:0::BEEF/64', { action: 'allow', protocol: 'icmpv6', dst_net: 'dead::beef/64' }],
    ['allow to cidr 1.2.3.4', { action: 'allow', dst_net: '1.2.3.4/32' }],
  ])('%s', (text, expected) => {
    expect(ruleToV1(parseRuleText(text))).toStrictEqual(expected);
  });

  it('stores ranges as "low:high" strings and single ports as numbers', () => {
    const v1 = ruleToV1(parseRuleText('allow tcp from ports 22,1000:2000 to ports 8000:8080,80'));
    expect(v1.src_ports).toStrictEqual([22, '1000:2000']);
    expect(v1.dst_ports).toStrictEqual(['8000:8080', 80]);
    expect(typeof v1.dst_ports?.[1]).toBe('number');
  });

  it('uses exactly the fields of the v1 data model, and only those that are set', () => {
    const full = ruleToV1(parseRuleText('deny tcp from ports 1 tag a cidr ::1 to ports 2 tag b cidr ::2'));
    expect(Object.keys(full).sort()).toEqual(
      ['action', 'protocol', 'src_ports', 'src_tag', 'src_net', 'dst_ports', 'dst_tag', 'dst_net'].sort(),
    );
    const icmp = ruleToV1(parseRuleText('allow icmp type 3 code 1 from tag a to cidr 10/8'));
    expect(Object.keys(icmp).sort()).toEqual(['action', 'protocol', 'icmp_type', 'icmp_code', 'src_tag', 'dst_net'].sort());
    for (const key of [...Object.keys(full), ...Object.keys(icmp)]) expect(SPEC_FIELDS).toContain(key);
    expect(Object.keys(ruleToV1(parseRuleText('allow icmp type 3')))).not.toContain('icmp_code');
    expect(Object.keys(ruleToV1(parseRuleText('allow from to')))).toEqual(['action']);
  });

  it('wraps rule sets as inbound_rules / outbound_rules', () => {
    const v1 = ruleSetToV1({ inbound: [parseRuleText('allow from tag p')], outbound: [parseRuleText('allow')] });
    expect(v1).toStrictEqual({ inbound_rules: [{ action: 'allow', src_tag: 'p' }], outbound_rules: [{ action: 'allow' }] });
    expect(Object.keys(v1)).toEqual(['inbound_rules', 'outbound_rules']);
  });
});

describe('ruleFromV1 / ruleSetFromV1: valid documents', () => {
  it.each<[V1Rule, string]>([
    [{ action: 'allow' }, 'allow'],
    [{ action: 'deny', protocol: 'udp' }, 'deny udp'],
    [{ action: 'allow', protocol: 'tcp', src_tag: 'applications', dst_ports: [3306] }, 'allow tcp from tag applications to ports 3306'],
    [{ action: 'allow', protocol: 'tcp', dst_ports: [80, 443, '8000:8080'] }, 'allow tcp to ports 80,443,8000:8080'],
    [{ action: 'allow', protocol: 'tcp', dst_ports: [0, 65535, '0:65535'] }, 'allow tcp to ports 0,65535,0:65535'],
    [{ action: 'deny', protocol: 'icmp', icmp_type: 8, icmp_code: 0, src_net: '10.0.0.0/8' }, 'deny icmp type 8 code 0 from cidr 10.0.0.0/8'],
    [{ action: 'allow', protocol: 'icmpv6', icmp_type: 255, dst_net: 'DEAD:0::BEEF/64' }, 'allow icmpv6 type 255 to cidr dead::beef/64'],
    [{ action: 'allow', src_net: '10.1.2.3/8', dst_net: '10/8' }, 'allow from cidr 10.1.2.3/8 to cidr 10.0.0.0/8'],
    [{ action: 'allow', src_net: '1.2.3.4' }, 'allow from cidr 1.2.3.4/32'],
    [{ action: 'allow', protocol: 'udp', src_ports: [53], src_tag: 'dns', src_net: 'fd00::/8', dst_tag: 'x' }, 'allow udp from ports 53 tag dns cidr fd00::/8 to tag x'],
  ])('%j', (v1, printed) => {
    const rule = ruleFromV1(v1, 'rule');
    expect(printRule(rule)).toBe(printed);
    expect(rule).toStrictEqual(parseRuleText(printed));
  });

  it('treats a null protocol as no protocol', () => {
    expect(ruleFromV1({ action: 'allow', protocol: null, src_tag: 'a' }, 'r')).toStrictEqual(parseRuleText('allow from tag a'));
  });

  it('decodes the profile-add default rules', () => {
    const rules = ruleSetFromV1({ inbound_rules: [{ action: 'allow', src_tag: 'P' }], outbound_rules: [{ action: 'allow' }] });
    expect(rules).toStrictEqual({ inbound: [parseRuleText('allow from tag P')], outbound: [parseRuleText('allow')] });
  });

  it('decodes empty lists', () => {
    expect(ruleSetFromV1({ inbound_rules: [], outbound_rules: [] })).toStrictEqual({ inbound: [], outbound: [] });
  });

  it('ignores other top-level keys such as the old "id"', () => {
    expect(ruleSetFromV1({ id: 'PROF', inbound_rules: [], outbound_rules: [{ action: 'deny' }] })).toStrictEqual({
      inbound: [],
      outbound: [parseRuleText('deny')],
    });
  });

  it('round-trips through JSON text', () => {
    const rules = {
      inbound: [parseRuleText('allow tcp from tag a cidr 10.1.2.3/8 to ports 80,8000:8080'), parseRuleText('deny icmp type 8 code 0')],
      outbound: [parseRuleText('allow icmpv6 to cidr ::1'), parseRuleText('allow')],
    };
    const decoded = ruleSetFromV1(JSON.parse(JSON.stringify(ruleSetToV1(rules))));
    expect(decoded).toStrictEqual(rules);
  });

  it('keeps the stored CIDR text, which still compares by network', () => {
    const rule = ruleFromV1({ action: 'allow', src_net: '10.1.2.3/8' }, 'r');
    expect(ruleToV1(rule).src_net).toBe('10.1.2.3/8');
    expect(sameRule(rule, parseRuleText('allow from cidr 10.0.0.0/8'))).toBe(true);
  });
});

describe('ruleSetFromV1: rejected documents', () => {
  it.each<[string, unknown, string]>([
    ['missing action', {}, 'inbound_rules[1].action'],
    ['missing action with other fields', { protocol: 'tcp', dst_ports: [80] }, 'inbound_rules[1].action'],
    ['action reject', { action: 'reject' }, 'inbound_rules[1].action'],
    ['action next-tier', { action: 'next-tier' }, 'inbound_rules[1].action'],
    ['action ALLOW', { action: 'ALLOW' }, 'inbound_rules[1].action'],
    ['action null', { action: null }, 'inbound_rules[1].action'],
    ['negated key !src_net', { action: 'allow', '!src_net': '10.0.0.0/8' }, 'inbound_rules[1].!src_net'],
    ['negated key !protocol', { action: 'allow', '!protocol': 'tcp' }, 'inbound_rules[1].!protocol'],
    ['selector src_selector', { action: 'allow', src_selector: "role == 'db'" }, 'inbound_rules[1].src_selector'],
    ['selector dst_selector', { action: 'allow', dst_selector: 'all()' }, 'inbound_rules[1].dst_selector'],
    ['unknown key foo', { action: 'allow', foo: 1 }, 'inbound_rules[1].foo'],
    ['unknown key log_prefix', { action: 'allow', log_prefix: 'x' }, 'inbound_rules[1].log_prefix'],
    ['old key id', { id: 'x', action: 'allow' }, 'inbound_rules[1].id'],
    ['protocol sctp', { action: 'allow', protocol: 'sctp' }, 'inbound_rules[1].protocol'],
    ['protocol udplite', { action: 'allow', protocol: 'udplite' }, 'inbound_rules[1].protocol'],
    ['protocol TCP', { action: 'allow', protocol: 'TCP' }, 'inbound_rules[1].protocol'],
    ['protocol number', { action: 'allow', protocol: 6 }, 'inbound_rules[1].protocol'],
    ['protocol any', { action: 'allow', protocol: 'any' }, 'inbound_rules[1].protocol'],
    ['ports not a list', { action: 'allow', protocol: 'tcp', dst_ports: 80 }, 'inbound_rules[1].dst_ports'],
    ['ports as a string', { action: 'allow', protocol: 'tcp', dst_ports: '80,443' }, 'inbound_rules[1].dst_ports'],
    ['empty ports', { action: 'allow', protocol: 'tcp', src_ports: [] }, 'inbound_rules[1].src_ports'],
    ['port 65536', { action: 'allow', protocol: 'tcp', dst_ports: [65536] }, 'inbound_rules[1].dst_ports[0]'],
    ['port -1', { action: 'allow', protocol: 'tcp', dst_ports: [-1] }, 'inbound_rules[1].dst_ports[0]'],
    ['port 1.5', { action: 'allow', protocol: 'tcp', dst_ports: [80, 1.5] }, 'inbound_rules[1].dst_ports[1]'],
    ['single port as a string', { action: 'allow', protocol: 'tcp', dst_ports: ['80'] }, 'inbound_rules[1].dst_ports[0]'],
    ['range 80:80', { action: 'allow', protocol: 'udp', src_ports: [22, '80:80'] }, 'inbound_rules[1].src_ports[1]'],
    ['range 90:80', { action: 'allow', protocol: 'udp', src_ports: ['90:80'] }, 'inbound_rules[1].src_ports[0]'],
    ['range 80-90', { action: 'allow', protocol: 'tcp', dst_ports: ['80-90'] }, 'inbound_rules[1].dst_ports[0]'],
    ['range 1:2:3', { action: 'allow', protocol: 'tcp', dst_ports: [1, 2, '1:2:3'] }, 'inbound_rules[1].dst_ports[2]'],
    ['range to 65536', { action: 'allow', protocol: 'tcp', dst_ports: ['80:65536'] }, 'inbound_rules[1].dst_ports[0]'],
    ['port null', { action: 'allow', protocol: 'tcp', dst_ports: [null] }, 'inbound_rules[1].dst_ports[0]'],
    ['icmp_type 256', { action: 'allow', protocol: 'icmp', icmp_type: 256 }, 'inbound_rules[1].icmp_type'],
    ['icmp_type -1', { action: 'allow', protocol: 'icmp', icmp_type: -1 }, 'inbound_rules[1].icmp_type'],
    ['icmp_type as a string', { action: 'allow', protocol: 'icmp', icmp_type: '8' }, 'inbound_rules[1].icmp_type'],
    ['icmp_type 1.5', { action: 'allow', protocol: 'icmpv6', icmp_type: 1.5 }, 'inbound_rules[1].icmp_type'],
    ['icmp_code 256', { action: 'allow', protocol: 'icmp', icmp_type: 8, icmp_code: 256 }, 'inbound_rules[1].icmp_code'],
    ['icmp_code without icmp_type', { action: 'allow', protocol: 'icmp', icmp_code: 0 }, 'inbound_rules[1].icmp_code'],
    ['icmp_type with tcp', { action: 'allow', protocol: 'tcp', icmp_type: 8 }, 'inbound_rules[1].icmp_type'],
    ['icmp_code with udp', { action: 'allow', protocol: 'udp', icmp_code: 0 }, 'inbound_rules[1].icmp_code'],
    ['icmp_type without protocol', { action: 'allow', icmp_type: 8 }, 'inbound_rules[1].icmp_type'],
    ['icmp_code without protocol', { action: 'allow', icmp_code: 8 }, 'inbound_rules[1].icmp_code'],
    ['src_ports with icmp', { action: 'allow', protocol: 'icmp', src_ports: [80] }, 'inbound_rules[1].src_ports'],
    ['dst_ports with icmpv6', { action: 'allow', protocol: 'icmpv6', dst_ports: [80] }, 'inbound_rules[1].dst_ports'],
    ['ports without protocol', { action: 'allow', dst_ports: [80] }, 'inbound_rules[1].dst_ports'],
    ['net bogus', { action: 'allow', src_net: 'bogus' }, 'inbound_rules[1].src_net'],
    ['net 300.1.1.1/8', { action: 'allow', src_net: '300.1.1.1/8' }, 'inbound_rules[1].src_net'],
    ['net 10.0.0.0/33', { action: 'allow', dst_net: '10.0.0.0/33' }, 'inbound_rules[1].dst_net'],
    ['net as a number', { action: 'allow', dst_net: 167772160 }, 'inbound_rules[1].dst_net'],
    ['tag empty', { action: 'allow', src_tag: '' }, 'inbound_rules[1].src_tag'],
    ['tag with a space', { action: 'allow', dst_tag: 'a b' }, 'inbound_rules[1].dst_tag'],
    ['tag as a number', { action: 'allow', dst_tag: 5 }, 'inbound_rules[1].dst_tag'],
    ['tag null', { action: 'allow', src_tag: null }, 'inbound_rules[1].src_tag'],
    ['mixed IP versions', { action: 'allow', src_net: '10.0.0.0/8', dst_net: '::1' }, 'inbound_rules[1].dst_net'],
    ['mixed IP versions with tcp', { action: 'allow', protocol: 'tcp', src_net: 'fd00::/8', dst_net: '10/8' }, 'inbound_rules[1].dst_net'],
    ['icmp with IPv6', { action: 'allow', protocol: 'icmp', src_net: '::1' }, 'inbound_rules[1].src_net'],
    ['icmp with IPv6 destination', { action: 'allow', protocol: 'icmp', src_net: '10/8', dst_net: '::1' }, 'inbound_rules[1].dst_net'],
    ['icmpv6 with IPv4', { action: 'allow', protocol: 'icmpv6', dst_net: '10.0.0.0/8' }, 'inbound_rules[1].dst_net'],
    ['rule is null', null, 'inbound_rules[1]'],
    ['rule is a string', 'allow', 'inbound_rules[1]'],
    ['rule is a list', [{ action: 'allow' }], 'inbound_rules[1]'],
  ])('%s', (_name, rule, path) => {
    const error = decodeError(withSecondInbound(rule));
    expect(error.path).toBe(path);
    expect(error.message.startsWith(`${path}: `)).toBe(true);
    expect(error.problem.length).toBeGreaterThan(0);
    expect(error.name).toBe('RuleDecodeError');
  });

  it('names outbound rules too', () => {
    const error = decodeError({ inbound_rules: [], outbound_rules: [{ action: 'allow' }, { action: 'allow' }, { action: 'allow', protocol: 'tcp', dst_ports: [1, 'x'] }] });
    expect(error.path).toBe('outbound_rules[2].dst_ports[1]');
  });

  it('says why negated fields and selectors are refused', () => {
    expect(decodeError(withSecondInbound({ action: 'allow', '!src_net': '10/8' })).problem).toMatch(/not supported/);
    expect(decodeError(withSecondInbound({ action: 'allow', src_selector: 'all()' })).problem).toMatch(/not supported/);
    expect(decodeError(withSecondInbound({ action: 'allow', foo: 1 })).problem).toMatch(/not a rule field/);
  });

  it.each<[string, unknown, string]>([
    ['not an object', 'rules', 'rules'],
    ['null', null, 'rules'],
    ['a list', [], 'rules'],
    ['missing inbound_rules', { outbound_rules: [] }, 'inbound_rules'],
    ['missing outbound_rules', { inbound_rules: [] }, 'outbound_rules'],
    ['inbound_rules not a list', { inbound_rules: {}, outbound_rules: [] }, 'inbound_rules'],
    ['outbound_rules null', { inbound_rules: [], outbound_rules: null }, 'outbound_rules'],
  ])('document %s', (_name, document, path) => {
    expect(decodeError(document).path).toBe(path);
  });

  it('prefixes paths with the given location', () => {
    expect(decodeError('x', 'profile web').path).toBe('profile web');
    expect(decodeError({ inbound_rules: [] }, 'stdin').path).toBe('stdin.outbound_rules');
    expect(decodeError(withSecondInbound({ action: 'allow', protocol: 'tcp', dst_ports: [70000] }), 'stdin').path).toBe(
      'stdin.inbound_rules[1].dst_ports[0]',
    );
  });

  it('uses the path given to ruleFromV1', () => {
    expect(() => ruleFromV1({}, 'rule 3')).toThrow(new RuleDecodeError('rule 3.action', "missing (must be 'allow' or 'deny')"));
  });
});

describe('codec and parser agree', () => {
  const texts = [
    'allow',
    'deny tcp from ports 22,8000:8080 tag a cidr 10.1.2.3/8 to ports 0 tag b cidr 10/8',
    'allow udp to cidr DEAD:0::BEEF/64',
    'allow icmp type 8',
    'deny icmpv6 type 1 code 4 from tag x cidr ::1',
  ];
  it.each(texts)('%s', (text) => {
    const rule: Rule = parseRuleText(text);
    expect(ruleFromV1(ruleToV1(rule), 'r')).toStrictEqual(rule);
  });
});
