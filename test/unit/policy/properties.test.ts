import fc from 'fast-check';
import type { AddressMatch, Cidr, IcmpMatch, IpVersion, PortMatch, PortSpec, Rule, RuleSet } from '../../../src/policy/ast';
import { cidrNetworkText, parseCidr } from '../../../src/policy/cidr';
import { ruleFromV1, ruleSetFromV1, ruleSetToV1, ruleToV1 } from '../../../src/policy/codec';
import { parseRule, parseRuleText, RuleSyntaxError, RuleValidationError } from '../../../src/policy/parser';
import { formatPort } from '../../../src/policy/ports';
import { printRule, ruleIdentity, sameRule } from '../../../src/policy/printer';

const KEYWORDS = ['allow', 'deny', 'tcp', 'udp', 'icmp', 'icmpv6', 'from', 'to', 'ports', 'tag', 'cidr', 'type', 'code'];
const NAME_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-'.split('');

function mustParseCidr(text: string): Cidr {
  const cidr = parseCidr(text);
  if (!cidr) throw new Error(`arbitrary produced an unparseable CIDR ${text}`);
  return cidr;
}

// ---------------------------------------------------------------------------------------------
// Arbitraries for valid rule ASTs
// ---------------------------------------------------------------------------------------------

const actionArb = fc.constantFrom('allow' as const, 'deny' as const);

const tagArb = fc.oneof(
  { weight: 5, arbitrary: fc.string({ unit: fc.constantFrom(...NAME_CHARS), minLength: 1, maxLength: 16 }) },
  { weight: 1, arbitrary: fc.constantFrom(...KEYWORDS) },
);

const portSpecArb: fc.Arbitrary<PortSpec> = fc.oneof(
  fc.integer({ min: 0, max: 65535 }).map((port): PortSpec => ({ kind: 'port', port })),
  fc
    .integer({ min: 0, max: 65534 })
    .chain((low) => fc.integer({ min: low + 1, max: 65535 }).map((high): PortSpec => ({ kind: 'range', low, high }))),
);

const portsArb = fc.array(portSpecArb, { minLength: 1, maxLength: 5 });

const ipv4TextArb = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((octets) => octets.join('.'));
const ipv6TextArb = fc.tuple(fc.ipV6(), fc.boolean()).map(([address, upper]) => (upper ? address.toUpperCase() : address));

/** CIDR text as a user might type it (host bits, bare addresses, upper case), for either version. */
function cidrTextArb(version: IpVersion): fc.Arbitrary<string> {
  const [address, maxPrefix] = version === 4 ? [ipv4TextArb, 32] : [ipv6TextArb, 128];
  return fc.oneof(
    fc.tuple(address, fc.integer({ min: 0, max: maxPrefix })).map(([a, prefix]) => `${a}/${prefix}`),
    address,
  );
}

function cidrArb(version: IpVersion): fc.Arbitrary<Cidr> {
  return cidrTextArb(version).map(mustParseCidr);
}

function addressSideArb(version: IpVersion): fc.Arbitrary<AddressMatch> {
  return fc.record({ tag: tagArb, cidr: cidrArb(version) }, { requiredKeys: [], noNullPrototype: true });
}

function portSideArb(version: IpVersion): fc.Arbitrary<PortMatch> {
  return fc.record({ ports: portsArb, tag: tagArb, cidr: cidrArb(version) }, { requiredKeys: [], noNullPrototype: true });
}

const icmpMatchArb: fc.Arbitrary<IcmpMatch> = fc.record(
  { type: fc.integer({ min: 0, max: 255 }), code: fc.integer({ min: 0, max: 255 }) },
  { requiredKeys: ['type'], noNullPrototype: true },
);

const versionArb = fc.constantFrom<IpVersion>(4, 6);

const transportRuleArb: fc.Arbitrary<Rule> = fc
  .tuple(fc.constantFrom('tcp' as const, 'udp' as const), actionArb, versionArb)
  .chain(([protocol, action, version]) =>
    fc.record({ from: portSideArb(version), to: portSideArb(version) }).map(({ from, to }): Rule => ({ protocol, action, from, to })),
  );

const icmpRuleArb: fc.Arbitrary<Rule> = fc.constantFrom('icmp' as const, 'icmpv6' as const).chain((protocol) => {
  const version: IpVersion = protocol === 'icmp' ? 4 : 6;
  return fc
    .record(
      { action: actionArb, icmp: icmpMatchArb, from: addressSideArb(version), to: addressSideArb(version) },
      { requiredKeys: ['action', 'from', 'to'], noNullPrototype: true },
    )
    .map((fields): Rule => ({ protocol, ...fields }));
});

const anyRuleArb: fc.Arbitrary<Rule> = fc
  .tuple(actionArb, versionArb)
  .chain(([action, version]) =>
    fc
      .record({ from: addressSideArb(version), to: addressSideArb(version) })
      .map(({ from, to }): Rule => ({ protocol: 'any', action, from, to })),
  );

const ruleArb: fc.Arbitrary<Rule> = fc.oneof(transportRuleArb, icmpRuleArb, anyRuleArb);

// ---------------------------------------------------------------------------------------------
// Arbitraries for word sequences
// ---------------------------------------------------------------------------------------------

const junkWordArb = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.string({ unit: 'grapheme', maxLength: 6 }),
  fc.constantFrom('', ' ', 'TCP', 'Allow', '!', '-1', '65536', '80-90', '1:2:3', '80,', '::', '%', '/', '__proto__', 'constructor', 'toString'),
);

const portsTextArb = fc.oneof(
  { weight: 4, arbitrary: portsArb.map((specs) => specs.map(formatPort).join(',')) },
  { weight: 1, arbitrary: fc.constantFrom('080', '0', '65535', '65536', '80:80', '90:80', '80-90', '', '80,', '1:2:3') },
);

const cidrWordArb = fc.oneof(
  { weight: 4, arbitrary: versionArb.chain(cidrTextArb) },
  { weight: 1, arbitrary: fc.constantFrom('10/8', '10.1/16', '300.1.1.1/8', '10.0.0.0/33', '::1/129', 'bogus', 'fe80::1%eth0') },
);

const icmpNumberArb = fc.oneof(
  fc.integer({ min: 0, max: 300 }).map(String),
  fc.constantFrom('08', '000', '-1', 'x', '1.5'),
);

const tagWordArb = fc.oneof({ weight: 5, arbitrary: tagArb }, { weight: 1, arbitrary: fc.constantFrom('', 'a b', 'a!', 'ä') });

/** Port lists with leading zeros and repeats, which parse but are not how printRule writes them. */
const loosePortsTextArb = fc
  .tuple(portsArb, fc.boolean(), fc.boolean())
  .map(([specs, pad, repeat]) => {
    const items = specs.map((spec) => (pad && spec.kind === 'port' ? `0${spec.port}` : formatPort(spec)));
    return (repeat ? [...items, ...items] : items).join(',');
  });

/** CIDR text for one IP version, sometimes partial (`10/8`) and sometimes with the wrong version. */
function looseCidrTextArb(version: IpVersion): fc.Arbitrary<string> {
  const partial = version === 4 ? [fc.tuple(fc.nat(255), fc.integer({ min: 0, max: 8 })).map(([a, p]) => `${a}/${p}`)] : [];
  return fc.oneof({ weight: 8, arbitrary: cidrTextArb(version) }, ...partial.map((arbitrary) => ({ weight: 2, arbitrary })), {
    weight: 1,
    arbitrary: cidrTextArb(version === 4 ? 6 : 4),
  });
}

function sideWordsArb(
  keyword: 'from' | 'to',
  ports: fc.Arbitrary<string | null>,
  cidr: fc.Arbitrary<string>,
): fc.Arbitrary<string[]> {
  return fc
    .record({ ports: fc.option(ports), tag: fc.option(tagWordArb), cidr: fc.option(cidr) })
    .map(({ ports, tag, cidr }) => [
      keyword,
      ...(ports === null ? [] : ['ports', ports]),
      ...(tag === null ? [] : ['tag', tag]),
      ...(cidr === null ? [] : ['cidr', cidr]),
    ]);
}

/** Word sequences shaped by the grammar, with values (and, for ports/icmp, placement) that may be wrong. */
const grammarWordsArb: fc.Arbitrary<string[]> = fc
  .record({
    action: actionArb,
    protocol: fc.option(fc.constantFrom('tcp', 'udp', 'icmp', 'icmpv6')),
    icmp: fc.option(fc.tuple(icmpNumberArb, fc.option(icmpNumberArb))),
    from: fc.option(sideWordsArb('from', portsTextArb, cidrWordArb)),
    to: fc.option(sideWordsArb('to', portsTextArb, cidrWordArb)),
  })
  .map(({ action, protocol, icmp, from, to }) => [
    action,
    ...(protocol === null ? [] : [protocol]),
    ...(icmp === null ? [] : ['type', icmp[0], ...(icmp[1] === null ? [] : ['code', icmp[1]])]),
    ...(from ?? []),
    ...(to ?? []),
  ]);

/** Mostly valid word sequences: keywords where the protocol allows them, one IP version, values written loosely. */
const coherentWordsArb: fc.Arbitrary<string[]> = fc
  .constantFrom(null, 'tcp', 'udp', 'icmp', 'icmpv6')
  .chain((protocol) =>
    (protocol === 'icmp' ? fc.constant<IpVersion>(4) : protocol === 'icmpv6' ? fc.constant<IpVersion>(6) : versionArb).chain((version) => {
      const ports = protocol === 'tcp' || protocol === 'udp' ? loosePortsTextArb : fc.constant(null);
      const cidr = looseCidrTextArb(version);
      const icmpNumber = fc.integer({ min: 0, max: 255 }).chain((n) => fc.constantFrom(String(n), `0${n}`));
      return fc
        .record({
          action: actionArb,
          icmp: protocol === 'icmp' || protocol === 'icmpv6' ? fc.option(fc.tuple(icmpNumber, fc.option(icmpNumber))) : fc.constant(null),
          from: fc.option(sideWordsArb('from', ports, cidr)),
          to: fc.option(sideWordsArb('to', ports, cidr)),
        })
        .map(({ action, icmp, from, to }) => [
          action,
          ...(protocol === null ? [] : [protocol]),
          ...(icmp === null ? [] : ['type', icmp[0], ...(icmp[1] === null ? [] : ['code', icmp[1]])]),
          ...(from ?? []),
          ...(to ?? []),
        ]);
    }),
  );

/** A grammar-shaped sequence with a word dropped, swapped or duplicated, or a junk word or keyword inserted. */
const mutatedWordsArb: fc.Arbitrary<string[]> = grammarWordsArb.chain((words) =>
  fc
    .tuple(
      fc.nat(words.length),
      fc.nat(words.length),
      fc.constantFrom('drop', 'swap', 'dup', 'junk', 'keyword'),
      junkWordArb,
      fc.constantFrom(...KEYWORDS),
    )
    .map(([i, j, how, junk, keyword]) => {
      const out = [...words];
      const a = Math.min(i, out.length - 1);
      const b = Math.min(j, out.length - 1);
      if (how === 'drop') out.splice(a, 1);
      else if (how === 'swap') [out[a], out[b]] = [out[b] as string, out[a] as string];
      else if (how === 'dup') out.splice(a, 0, out[a] as string);
      else out.splice(i, 0, how === 'junk' ? junk : keyword);
      return out;
    }),
);

const anyWordsArb: fc.Arbitrary<string[]> = fc.oneof(
  fc.array(fc.oneof(fc.constantFrom(...KEYWORDS), junkWordArb, portsTextArb, cidrWordArb, icmpNumberArb), { maxLength: 14 }),
  grammarWordsArb,
  coherentWordsArb,
  mutatedWordsArb,
);

function thrownBy(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}

function parseOrError(words: readonly string[]): Rule | Error {
  try {
    return parseRule(words);
  } catch (error) {
    if (error instanceof RuleSyntaxError || error instanceof RuleValidationError) return error;
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

describe('parser robustness', () => {
  it('throws nothing but RuleSyntaxError or RuleValidationError, with a sensible index', () => {
    fc.assert(
      fc.property(anyWordsArb, (words) => {
        const result = parseOrError(words);
        if (result instanceof RuleSyntaxError) {
          expect(result.index).toBeGreaterThanOrEqual(0);
          expect(result.index).toBeLessThanOrEqual(words.length);
          expect(result.expected.length).toBeGreaterThan(0);
          expect(new Set(result.expected).size).toBe(result.expected.length);
          if (result.index < words.length) expect(result.expected).not.toContain(words[result.index]);
          expect(result.words).toEqual(words);
        } else if (result instanceof RuleValidationError) {
          expect(result.index).toBeGreaterThanOrEqual(0);
          expect(result.index).toBeLessThan(words.length);
          expect(result.words).toEqual(words);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('parses rule text the same way as its words', () => {
    fc.assert(
      fc.property(grammarWordsArb, (words) => {
        fc.pre(words.every((word) => word !== '' && !/\s/.test(word)));
        const text = ` ${words.join(' \t ')}\n`;
        const fromWords = parseOrError(words);
        if (fromWords instanceof Error) {
          const fromText = thrownBy(() => parseRuleText(text));
          expect(fromText).toBeInstanceOf(fromWords.constructor);
          expect(fromText).toMatchObject({ index: (fromWords as RuleSyntaxError | RuleValidationError).index });
        } else {
          expect(parseRuleText(text)).toStrictEqual(fromWords);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('print / parse', () => {
  it('round-trips valid rules: same rule, and deep-equal for canonical CIDR text', () => {
    fc.assert(
      fc.property(ruleArb, (rule) => {
        const reparsed = parseRuleText(printRule(rule));
        expect(sameRule(reparsed, rule)).toBe(true);
        expect(reparsed).toStrictEqual(rule);
      }),
      { numRuns: 1000 },
    );
  });

  it('keeps the same rule when written non-canonically', () => {
    fc.assert(
      fc.property(ruleArb, fc.integer(), fc.boolean(), (rule, seed, padIcmp) => {
        const words = nonCanonicalWords(rule, seed, padIcmp);
        const reparsed = parseRule(words);
        expect(sameRule(reparsed, rule)).toBe(true);
        expect(ruleIdentity(reparsed)).toBe(ruleIdentity(rule));
      }),
      { numRuns: 1000 },
    );
  });

  it('printing is a fixed point: print(parse(print(parse(w)))) === print(parse(w))', () => {
    let parsed = 0;
    fc.assert(
      fc.property(fc.oneof({ weight: 3, arbitrary: coherentWordsArb }, { weight: 1, arbitrary: anyWordsArb }), (words) => {
        const rule = parseOrError(words);
        if (rule instanceof Error) return;
        parsed++;
        const once = printRule(rule);
        const again = parseRuleText(once);
        expect(printRule(again)).toBe(once);
        expect(sameRule(again, rule)).toBe(true);
      }),
      { numRuns: 2000 },
    );
    // The word generators are tuned so that a good share of sequences parse; check they still do.
    expect(parsed).toBeGreaterThan(200);
  });
});

describe('codec', () => {
  it('decodes what it encodes', () => {
    fc.assert(
      fc.property(ruleArb, (rule) => {
        expect(ruleFromV1(ruleToV1(rule), 'rule')).toStrictEqual(rule);
        expect(ruleFromV1(JSON.parse(JSON.stringify(ruleToV1(rule))), 'rule')).toStrictEqual(rule);
      }),
      { numRuns: 1000 },
    );
  });

  it('round-trips rule sets through JSON', () => {
    const ruleSetArb: fc.Arbitrary<RuleSet> = fc.record(
      { inbound: fc.array(ruleArb, { maxLength: 5 }), outbound: fc.array(ruleArb, { maxLength: 5 }) },
      { noNullPrototype: true },
    );
    fc.assert(
      fc.property(ruleSetArb, (rules) => {
        expect(ruleSetFromV1(JSON.parse(JSON.stringify(ruleSetToV1(rules))))).toStrictEqual(rules);
      }),
      { numRuns: 300 },
    );
  });

  it('encodes only the v1 fields, ports as numbers or "low:high" strings', () => {
    const fields = new Set(['action', 'protocol', 'src_tag', 'src_net', 'src_ports', 'dst_tag', 'dst_net', 'dst_ports', 'icmp_type', 'icmp_code']);
    fc.assert(
      fc.property(ruleArb, (rule) => {
        const v1 = ruleToV1(rule);
        for (const key of Object.keys(v1)) expect(fields.has(key)).toBe(true);
        for (const item of [...(v1.src_ports ?? []), ...(v1.dst_ports ?? [])]) {
          if (typeof item === 'string') expect(item).toMatch(/^\d+:\d+$/);
          else expect(Number.isInteger(item)).toBe(true);
        }
      }),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/**
 * Words for `rule` that are not what printRule writes but describe the same rule: port items
 * shuffled and repeated, CIDRs with host bits cleared, ICMP numbers with leading zeros, and empty
 * `from`/`to` written out.
 */
function nonCanonicalWords(rule: Rule, seed: number, padIcmp: boolean): string[] {
  let state = seed | 0;
  const random = (n: number): number => {
    state = (Math.imul(state, 1103515245) + 12345) | 0;
    return ((state >>> 16) & 0x7fff) % n;
  };
  const number = (value: number): string => (padIcmp ? `00${value}` : String(value));
  const side = (keyword: 'from' | 'to', match: PortMatch): string[] => {
    const words: string[] = [keyword];
    if (match.ports) {
      const items = match.ports.map(formatPort);
      const shuffled = [...items, ...items.filter(() => random(3) === 0)];
      for (let i = shuffled.length - 1; i > 0; i--) {
        const j = random(i + 1);
        [shuffled[i], shuffled[j]] = [shuffled[j] as string, shuffled[i] as string];
      }
      words.push('ports', shuffled.join(','));
    }
    if (match.tag !== undefined) words.push('tag', match.tag);
    if (match.cidr) words.push('cidr', random(2) === 0 ? cidrNetworkText(match.cidr) : match.cidr.text.toUpperCase());
    return words;
  };
  const words: string[] = [rule.action];
  if (rule.protocol !== 'any') words.push(rule.protocol);
  if ((rule.protocol === 'icmp' || rule.protocol === 'icmpv6') && rule.icmp) {
    words.push('type', number(rule.icmp.type));
    if (rule.icmp.code !== undefined) words.push('code', number(rule.icmp.code));
  }
  words.push(...side('from', rule.from), ...side('to', rule.to));
  return words;
}
