import type { Cidr, Rule } from '../../../src/policy/ast';
import { parseCidr } from '../../../src/policy/cidr';
import {
  MESSAGES,
  parseRule,
  parseRuleText,
  RuleSyntaxError,
  RuleValidationError,
} from '../../../src/policy/parser';

function cidr(text: string): Cidr {
  const parsed = parseCidr(text);
  if (!parsed) throw new Error(`test setup: ${text} should parse`);
  return parsed;
}

function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

function syntaxError(text: string): RuleSyntaxError {
  const error = thrown(() => parseRuleText(text));
  expect(error).toBeInstanceOf(RuleSyntaxError);
  return error as RuleSyntaxError;
}

function validationError(text: string): RuleValidationError {
  const error = thrown(() => parseRuleText(text));
  expect(error).toBeInstanceOf(RuleValidationError);
  return error as RuleValidationError;
}

const END = '<end of rule>';

describe('parseRule: every grammar form', () => {
  it.each<[string, Rule]>([
    ['allow', { protocol: 'any', action: 'allow', from: {}, to: {} }],
    ['deny', { protocol: 'any', action: 'deny', from: {}, to: {} }],
    ['allow from', { protocol: 'any', action: 'allow', from: {}, to: {} }],
    ['allow to', { protocol: 'any', action: 'allow', from: {}, to: {} }],
    ['allow from to', { protocol: 'any', action: 'allow', from: {}, to: {} }],
    ['allow from tag databases', { protocol: 'any', action: 'allow', from: { tag: 'databases' }, to: {} }],
    ['deny to tag web', { protocol: 'any', action: 'deny', from: {}, to: { tag: 'web' } }],
    ['allow from cidr 192.168.0.0/16', { protocol: 'any', action: 'allow', from: { cidr: cidr('192.168.0.0/16') }, to: {} }],
    [
      'allow from tag a cidr 10.0.0.0/8 to tag b cidr 10.1.0.0/16',
      {
        protocol: 'any',
        action: 'allow',
        from: { tag: 'a', cidr: cidr('10.0.0.0/8') },
        to: { tag: 'b', cidr: cidr('10.1.0.0/16') },
      },
    ],
    ['allow tcp', { protocol: 'tcp', action: 'allow', from: {}, to: {} }],
    ['allow udp', { protocol: 'udp', action: 'allow', from: {}, to: {} }],
    ['allow tcp from', { protocol: 'tcp', action: 'allow', from: {}, to: {} }],
    ['allow tcp from to', { protocol: 'tcp', action: 'allow', from: {}, to: {} }],
    [
      'allow tcp from tag applications to ports 3306',
      { protocol: 'tcp', action: 'allow', from: { tag: 'applications' }, to: { ports: [{ kind: 'port', port: 3306 }] } },
    ],
    [
      'allow tcp to ports 80,443',
      {
        protocol: 'tcp',
        action: 'allow',
        from: {},
        to: { ports: [{ kind: 'port', port: 80 }, { kind: 'port', port: 443 }] },
      },
    ],
    [
      'deny udp from ports 53 tag dns cidr 10.0.0.0/8 to ports 1024:65535 tag clients cidr 10.1.2.3/8',
      {
        protocol: 'udp',
        action: 'deny',
        from: { ports: [{ kind: 'port', port: 53 }], tag: 'dns', cidr: cidr('10.0.0.0/8') },
        to: { ports: [{ kind: 'range', low: 1024, high: 65535 }], tag: 'clients', cidr: cidr('10.1.2.3/8') },
      },
    ],
    [
      'allow tcp from ports 0 cidr ::1 to cidr fd00::/8',
      {
        protocol: 'tcp',
        action: 'allow',
        from: { ports: [{ kind: 'port', port: 0 }], cidr: cidr('::1') },
        to: { cidr: cidr('fd00::/8') },
      },
    ],
    ['allow tcp from ports 22 to', { protocol: 'tcp', action: 'allow', from: { ports: [{ kind: 'port', port: 22 }] }, to: {} }],
    ['allow icmp', { protocol: 'icmp', action: 'allow', from: {}, to: {} }],
    ['allow icmpv6', { protocol: 'icmpv6', action: 'allow', from: {}, to: {} }],
    ['allow icmp type 8', { protocol: 'icmp', action: 'allow', icmp: { type: 8 }, from: {}, to: {} }],
    ['allow icmp type 0 code 0', { protocol: 'icmp', action: 'allow', icmp: { type: 0, code: 0 }, from: {}, to: {} }],
    ['allow icmp type 255 code 255', { protocol: 'icmp', action: 'allow', icmp: { type: 255, code: 255 }, from: {}, to: {} }],
    [
      'deny icmp type 8 code 0 from cidr 10.0.0.0/8',
      { protocol: 'icmp', action: 'deny', icmp: { type: 8, code: 0 }, from: { cidr: cidr('10.0.0.0/8') }, to: {} },
    ],
    [
      'allow icmpv6 type 128 from tag pingers cidr fd00::/8 to tag hosts cidr fd00:1::/64',
      {
        protocol: 'icmpv6',
        action: 'allow',
        icmp: { type: 128 },
        from: { tag: 'pingers', cidr: cidr('fd00::/8') },
        to: { tag: 'hosts', cidr: cidr('fd00:1::/64') },
      },
    ],
    ['allow icmp from tag a', { protocol: 'icmp', action: 'allow', from: { tag: 'a' }, to: {} }],
    ['allow icmp type 3 to', { protocol: 'icmp', action: 'allow', icmp: { type: 3 }, from: {}, to: {} }],
  ])('%s', (text, expected) => {
    expect(parseRuleText(text)).toStrictEqual(expected);
  });

  it('takes command-line words directly', () => {
    expect(parseRule(['allow', 'tcp', 'to', 'ports', '80'])).toStrictEqual({
      protocol: 'tcp',
      action: 'allow',
      from: {},
      to: { ports: [{ kind: 'port', port: 80 }] },
    });
  });

  it('ignores surrounding and repeated whitespace in rule text', () => {
    expect(parseRuleText('  allow\ttcp   to  ports 80 \n')).toStrictEqual(parseRuleText('allow tcp to ports 80'));
  });

  it('has no icmp key when no type is given', () => {
    expect('icmp' in parseRuleText('allow icmp from tag a')).toBe(false);
  });

  it('accepts keywords as tag values, since a value position takes any word', () => {
    expect(parseRuleText('allow tcp from tag to to tag from')).toStrictEqual({
      protocol: 'tcp',
      action: 'allow',
      from: { tag: 'to' },
      to: { tag: 'from' },
    });
  });
});

describe('parseRule: values', () => {
  it.each([
    ['0', [{ kind: 'port', port: 0 }]],
    ['65535', [{ kind: 'port', port: 65535 }]],
    ['080', [{ kind: 'port', port: 80 }]],
    ['1,1', [{ kind: 'port', port: 1 }, { kind: 'port', port: 1 }]],
    ['8000:8080,80', [{ kind: 'range', low: 8000, high: 8080 }, { kind: 'port', port: 80 }]],
  ])('ports %s', (ports, expected) => {
    const rule = parseRuleText(`allow tcp to ports ${ports}`);
    expect(rule.to).toStrictEqual({ ports: expected });
  });

  it.each(['65536', '80:80', '90:80', '-10', '80-90', '1:2:3', '80,', ',', '+80', 'http'])(
    'rejects ports %j with the port message, pointing at the value',
    (ports) => {
      const error = validationError(`allow tcp from ports ${ports}`);
      expect(error.index).toBe(4);
      expect(error.message).toContain(MESSAGES.ports);
      expect(error.words).toEqual(['allow', 'tcp', 'from', 'ports', ports]);
    },
  );

  it('rejects an empty port list word', () => {
    const error = thrown(() => parseRule(['allow', 'udp', 'to', 'ports', '']));
    expect(error).toBeInstanceOf(RuleValidationError);
    expect((error as RuleValidationError).index).toBe(4);
    expect((error as RuleValidationError).message).toContain(MESSAGES.ports);
  });

  it.each(['a', 'A-Z_0.9', 'web-tier.v2_blue', 'f'.repeat(64), '...', '-'])('accepts tag %j', (tag) => {
    expect(parseRule(['allow', 'from', 'tag', tag]).from).toStrictEqual({ tag });
  });

  it.each(['', 'a b', 'a/b', 'a:b', 'a,b', 'ä', 'a!', '!a', '$tag', 'a*'])('rejects tag %j', (tag) => {
    const error = thrown(() => parseRule(['allow', 'tcp', 'to', 'tag', tag]));
    expect(error).toBeInstanceOf(RuleValidationError);
    expect((error as RuleValidationError).index).toBe(4);
    expect((error as RuleValidationError).message).toContain(MESSAGES.tag);
  });

  it.each([
    ['1.2.3.4', '1.2.3.4/32'],
    ['::1', '::1/128'],
    ['10/8', '10.0.0.0/8'],
    ['DEAD:0::BEEF/64', 'dead::beef/64'],
    ['10.1.2.3/8', '10.1.2.3/8'],
  ])('cidr %s is kept as %s', (input, text) => {
    const rule = parseRuleText(`allow from cidr ${input}`);
    expect(rule.from.cidr?.text).toBe(text);
  });

  it.each(['300.1.1.1/8', '10.0.0.0/33', 'bogus', '1.2.3.4/', '::1/129', '10'])('rejects cidr %j', (text) => {
    const error = validationError(`allow to cidr ${text}`);
    expect(error.index).toBe(3);
    expect(error.message).toContain(MESSAGES.cidr);
  });

  it.each([
    ['0', 0],
    ['255', 255],
    ['08', 8],
    // Python's int() accepted any number of leading zeros.
    ['0008', 8],
  ])('icmp type %s', (text, type) => {
    expect(parseRuleText(`allow icmp type ${text}`)).toMatchObject({ icmp: { type } });
    expect(parseRuleText(`allow icmp type 1 code ${text}`)).toMatchObject({ icmp: { type: 1, code: type } });
  });

  it.each(['256', '-1', '1.5', 'x', '+1', '0x10', '1000'])('rejects icmp type/code %j', (text) => {
    const typeError = validationError(`allow icmp type ${text}`);
    expect(typeError.index).toBe(3);
    expect(typeError.message).toContain(MESSAGES.icmp);
    const codeError = validationError(`allow icmpv6 type 1 code ${text}`);
    expect(codeError.index).toBe(5);
    expect(codeError.message).toContain(MESSAGES.icmp);
  });
});

describe('parseRule: IP versions', () => {
  it.each([
    'allow from cidr 10.0.0.0/8 to cidr 10.1.0.0/16',
    'allow tcp from cidr ::1 to cidr fd00::/8',
    'allow icmp from cidr 10.0.0.0/8 to cidr 1.2.3.4',
    'allow icmpv6 from cidr fd00::/8 to cidr ::1',
    'allow icmp to cidr 10/8',
    'allow icmpv6 type 128 from cidr ::/0',
  ])('accepts %s', (text) => {
    expect(() => parseRuleText(text)).not.toThrow();
  });

  it.each([
    // [rule, index of the offending CIDR value]
    ['allow from cidr 10.0.0.0/8 to cidr ::1', 6],
    ['allow udp from cidr ::1 to cidr 10.0.0.0/8', 7],
    ['allow tcp from ports 80 cidr 10.0.0.0/8 to ports 443 cidr fd00::/8', 11],
    ['allow icmp from cidr ::1', 4],
    ['allow icmp to cidr fd00::/8', 4],
    ['allow icmp type 8 from cidr 10.0.0.0/8 to cidr ::1', 9],
    ['allow icmpv6 to cidr 10/8', 4],
    ['allow icmpv6 from cidr 10.0.0.0/8 to cidr ::1', 4],
    ['allow icmpv6 from cidr ::1 to cidr 10.0.0.0/8', 7],
  ])('rejects %s', (text, index) => {
    const error = validationError(text);
    expect(error.message).toContain(MESSAGES.ipVersions);
    expect(error.index).toBe(index);
  });
});

describe('parseRule: syntax errors', () => {
  const protocolsOrSides = ['tcp', 'udp', 'icmp', 'icmpv6', 'from', 'to', END];

  it.each<[string, number, string[]]>([
    ['', 0, ['allow', 'deny']],
    ['ALLOW', 0, ['allow', 'deny']],
    ['permit tcp', 0, ['allow', 'deny']],
    ['tcp', 0, ['allow', 'deny']],
    ['allow TCP', 1, protocolsOrSides],
    ['allow sctp', 1, protocolsOrSides],
    ['allow 6', 1, protocolsOrSides],
    ['allow allow', 1, protocolsOrSides],
    ['allow tag a', 1, protocolsOrSides],
    ['allow type 8', 1, protocolsOrSides],
    ['allow code 0', 1, protocolsOrSides],
    ['allow ports 80', 1, protocolsOrSides],
    ['allow tcp FROM', 2, ['from', 'to', END]],
    ['allow tcp tcp', 2, ['from', 'to', END]],
    ['allow tcp ports 80', 2, ['from', 'to', END]],
    ['allow tcp type 8', 2, ['from', 'to', END]],
    ['allow tcp from tag a ports 22', 5, ['cidr', 'to', END]],
    ['allow tcp from cidr 10.0.0.0/8 tag a', 5, ['to', END]],
    ['allow tcp from cidr 10.0.0.0/8 ports 80', 5, ['to', END]],
    ['allow tcp from tag a tag b', 5, ['cidr', 'to', END]],
    ['allow tcp from ports 80 ports 443', 5, ['tag', 'cidr', 'to', END]],
    ['allow tcp to tag x from cidr y', 5, ['cidr', END]],
    ['allow tcp to from', 3, ['ports', 'tag', 'cidr', END]],
    ['allow tcp to ports 80 to ports 443', 5, ['tag', 'cidr', END]],
    ['allow tcp to ports 80 extra', 5, ['tag', 'cidr', END]],
    ['allow to to', 2, ['tag', 'cidr', END]],
    ['allow from tag a from tag b', 4, ['cidr', 'to', END]],
    ['allow from ports 80', 2, ['tag', 'cidr', 'to', END]],
    ['allow to ports 80', 2, ['tag', 'cidr', END]],
    ['allow icmp from ports 22', 3, ['tag', 'cidr', 'to', END]],
    ['allow icmp type 8 to ports 80', 5, ['tag', 'cidr', END]],
    ['allow icmp ports 80', 2, ['type', 'from', 'to', END]],
    ['allow icmp code 0', 2, ['type']],
    ['deny icmpv6 code 3 type 8', 2, ['type']],
    ['allow icmp type 8 code 0 code 1', 6, ['from', 'to', END]],
    ['allow icmp type 8 type 9', 4, ['code', 'from', 'to', END]],
    ['allow icmp from tag a type 8', 5, ['cidr', 'to', END]],
    ['allow icmp to tag a code 0', 5, ['cidr', END]],
  ])('%j fails at word %d', (text, index, expected) => {
    const error = syntaxError(text);
    expect(error.index).toBe(index);
    expect([...error.expected]).toEqual(expected);
  });

  it.each<[string, string]>([
    ['allow tcp from ports', 'port list'],
    ['allow tcp to ports', 'port list'],
    ['allow tcp from tag', 'tag name'],
    ['allow to tag', 'tag name'],
    ['allow from cidr', 'CIDR'],
    ['allow icmp to cidr', 'CIDR'],
    ['allow icmp type', 'ICMP type'],
    ['allow icmpv6 type 8 code', 'ICMP code'],
  ])('%j is missing its value at the end', (text, what) => {
    const error = syntaxError(text);
    expect(error.index).toBe(error.words.length);
    expect(error.expected).toHaveLength(1);
    expect(error.expected[0]).toMatch(/^<.*>$/);
    expect(error.expected[0]).toContain(what);
    expect(error.message).toMatch(/^Incomplete rule: the rule ends after '[a-z]+'; expected <.*>\.$/);
  });

  it('describes an out-of-place word by position and alternatives', () => {
    expect(syntaxError('allow tcp from tag a ports 22').message).toBe(
      "Unexpected word 'ports' (word 6 of the rule): expected 'cidr', 'to' or <end of rule>.",
    );
    expect(syntaxError('allow icmp code 0').message).toBe("Unexpected word 'code' (word 3 of the rule): expected 'type'.");
  });

  it('describes an empty rule', () => {
    const error = syntaxError('   ');
    expect(error.words).toEqual([]);
    expect(error.message).toBe("Incomplete rule: the rule is empty; expected 'allow' or 'deny'.");
  });

  it('has the error names the CLI reports', () => {
    expect(syntaxError('allow TCP').name).toBe('RuleSyntaxError');
    expect(validationError('allow tcp to ports 0:0').name).toBe('RuleValidationError');
  });

  it('reports the first problem in word order', () => {
    const error = validationError('allow tcp from ports 99999 tag a!b cidr bogus');
    expect(error.index).toBe(4);
    expect(error.message).toContain(MESSAGES.ports);
    expect(validationError('allow tcp from ports 99999 TAG a').index).toBe(4);
    expect(syntaxError('allow tcp from ports 80 TAG a!b').index).toBe(5);
  });
});
