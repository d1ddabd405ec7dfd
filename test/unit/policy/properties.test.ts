import fc from 'fast-check';
import type { PortMatch, Rule, RuleSet } from '../../../src/policy/ast';
import { cidrNetworkText } from '../../../src/policy/cidr';
import { ruleFromV1, ruleSetFromV1, ruleSetToV1, ruleToV1 } from '../../../src/policy/codec';
import { parseRule, parseRuleText, RuleSyntaxError, RuleValidationError } from '../../../src/policy/parser';
import { formatPort } from '../../../src/policy/ports';
import { printRule, ruleIdentity, sameRule } from '../../../src/policy/printer';
import { anyWordsArb, coherentWordsArb, grammarWordsArb, ruleArb } from '../../fakes/rule-arbitraries';

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
