import { CalicoError } from './errors';
import {
  ACTIONS,
  type Action,
  type AddressMatch,
  type Cidr,
  type Direction,
  DIRECTIONS,
  type IcmpMatch,
  isValidName,
  type PortMatch,
  type Protocol,
  PROTOCOLS,
  type Rule,
} from './ast';
import { parseCidr } from './cidr';
import { parsePorts } from './ports';

/**
 * Grammar of a rule (the original's docopt RULE-MATCH, order fixed):
 *
 *   (allow|deny) (tcp|udp) [from [ports P] [tag T] [cidr C]] [to [ports P] [tag T] [cidr C]]
 *   (allow|deny) (icmp|icmpv6) [type N [code N]] [from [tag T] [cidr C]] [to [tag T] [cidr C]]
 *   (allow|deny) [from [tag T] [cidr C]] [to [tag T] [cidr C]]
 *
 * Errors carry the index of the offending word, so the CLI can point at it.
 */

/** A word out of place, or a missing one. `index` may equal words.length (the rule ended early). */
export class RuleSyntaxError extends CalicoError {
  readonly code = 'rule-syntax';
  constructor(
    readonly words: readonly string[],
    readonly index: number,
    readonly expected: readonly string[],
  ) {
    super(describeSyntaxError(words, index, expected));
    this.name = 'RuleSyntaxError';
  }
}

/** A word in the right place whose value is wrong (a bad port, CIDR, tag or ICMP number). */
export class RuleValidationError extends CalicoError {
  readonly code = 'rule-invalid';
  constructor(
    readonly words: readonly string[],
    readonly index: number,
    message: string,
  ) {
    super(message);
    this.name = 'RuleValidationError';
  }
}

export const MESSAGES = {
  tag: 'Tags names can only contain numbers, letters, dots, dashes and underscores.',
  cidr: 'Invalid CIDR specified.',
  icmp: 'Invalid ICMP type or ICMP code specified.',
  ports: 'Invalid SRCPORTS or DSTPORTS specified.',
  ipVersions: 'Invalid or unmatching IP versions for SRCCIDR/DSTCIDR.',
} as const;

/** Parses `(allow|deny) RULE-MATCH` from command-line words (or a `rule show` line split on spaces). */
export function parseRule(words: readonly string[]): Rule {
  return new RuleParser(words).parse();
}

/** Parses `(inbound|outbound) (allow|deny) RULE-MATCH`, the words of `rule add` and `rule remove`. */
export function parseDirectedRule(words: readonly string[]): { direction: Direction; rule: Rule } {
  const direction = words[0];
  if (direction !== 'inbound' && direction !== 'outbound') throw new RuleSyntaxError(words, 0, [...DIRECTIONS]);
  try {
    return { direction, rule: parseRule(words.slice(1)) };
  } catch (error) {
    // Point at the word in the whole command, not in the rule after the direction.
    if (error instanceof RuleSyntaxError) throw new RuleSyntaxError(words, error.index + 1, error.expected);
    if (error instanceof RuleValidationError) throw new RuleValidationError(words, error.index + 1, error.message);
    throw error;
  }
}

/** Parses one line of text, e.g. a line copied from `rule show`. */
export function parseRuleText(text: string): Rule {
  return parseRule(text.trim().split(/\s+/).filter((word) => word !== ''));
}

function describeSyntaxError(words: readonly string[], index: number, expected: readonly string[]): string {
  const wanted = expected.length === 0 ? 'nothing more' : listWords(expected);
  if (index >= words.length) {
    const after = words.length === 0 ? 'the rule is empty' : `the rule ends after '${words[words.length - 1]}'`;
    return `Incomplete rule: ${after}; expected ${wanted}.`;
  }
  return `Unexpected word '${words[index]}' (word ${index + 1} of the rule): expected ${wanted}.`;
}

function listWords(words: readonly string[]): string {
  const quoted = words.map((word) => (word.startsWith('<') ? word : `'${word}'`));
  if (quoted.length === 1) return quoted[0] as string;
  return `${quoted.slice(0, -1).join(', ')} or ${quoted[quoted.length - 1]}`;
}

const END = '<end of rule>';

class RuleParser {
  private index = 0;
  /** Keywords that could have been accepted at the current word: what an error says was expected. */
  private alternatives: string[] = [];
  /** Where each CIDR was written, to point at the one whose IP version does not fit. */
  private readonly cidrWordIndex = new Map<Cidr, number>();

  constructor(private readonly words: readonly string[]) {}

  parse(): Rule {
    const action = this.parseAction();
    const protocol = this.parseProtocol();
    let rule: Rule;
    if (protocol === 'tcp' || protocol === 'udp') {
      const from = this.parseSide('from', true);
      const to = this.parseSide('to', true);
      rule = { protocol, action, from, to };
    } else if (protocol === 'icmp' || protocol === 'icmpv6') {
      const icmp = this.parseIcmp();
      const from = this.parseSide('from', false);
      const to = this.parseSide('to', false);
      rule = icmp ? { protocol, action, icmp, from, to } : { protocol, action, from, to };
    } else {
      const from = this.parseSide('from', false);
      const to = this.parseSide('to', false);
      rule = { protocol: 'any', action, from, to };
    }
    if (this.index < this.words.length) this.fail([...this.alternatives, END]);
    this.checkIpVersions(rule);
    return rule;
  }

  private parseAction(): Action {
    const word = this.words[this.index];
    if (word === undefined || !(ACTIONS as readonly string[]).includes(word)) this.fail([...ACTIONS]);
    this.index++;
    return word as Action;
  }

  private parseProtocol(): Protocol {
    const word = this.words[this.index];
    if (word !== undefined && (PROTOCOLS as readonly string[]).includes(word)) {
      this.consumed();
      return word as Protocol;
    }
    this.alternatives.push(...PROTOCOLS);
    return 'any';
  }

  private parseIcmp(): IcmpMatch | undefined {
    if (this.words[this.index] === 'code') this.fail([...this.alternatives, 'type']);
    if (!this.accept('type')) return undefined;
    const type = this.icmpNumber('an ICMP type (0-255)');
    if (!this.accept('code')) return { type };
    return { type, code: this.icmpNumber('an ICMP code (0-255)') };
  }

  private parseSide(keyword: 'from' | 'to', withPorts: boolean): PortMatch {
    if (!this.accept(keyword)) return {};
    const side: { ports?: PortMatch['ports']; tag?: string; cidr?: Cidr } = {};
    if (withPorts && this.accept('ports')) {
      const text = this.value('a port list such as 80,443,8000:8080');
      const ports = parsePorts(text);
      if (!ports) this.invalid(`${MESSAGES.ports} '${text}' is not a comma-separated list of ports (0-65535) and ranges low:high.`);
      side.ports = ports;
    }
    if (this.accept('tag')) {
      const tag = this.value('a tag name');
      if (!isValidName(tag)) this.invalid(`${MESSAGES.tag} Got '${tag}'.`);
      side.tag = tag;
    }
    if (this.accept('cidr')) {
      const text = this.value('a CIDR such as 10.0.0.0/8 or fd00::/64');
      const cidr = parseCidr(text);
      if (!cidr) this.invalid(`${MESSAGES.cidr} '${text}' is not an IPv4 or IPv6 address or network.`);
      this.cidrWordIndex.set(cidr, this.index - 1);
      side.cidr = cidr;
    }
    return side as AddressMatch;
  }

  private checkIpVersions(rule: Rule): void {
    const cidrs = [rule.from.cidr, rule.to.cidr].filter((cidr): cidr is Cidr => cidr !== undefined);
    const required = rule.protocol === 'icmp' ? 4 : rule.protocol === 'icmpv6' ? 6 : cidrs[0]?.version;
    const offending = cidrs.find((cidr) => cidr.version !== required);
    if (!offending) return;
    const index = this.cidrWordIndex.get(offending) ?? this.words.length;
    const reason =
      rule.protocol === 'icmp' || rule.protocol === 'icmpv6'
        ? `${rule.protocol} needs IPv${required} CIDRs, and ${offending.text} is IPv${offending.version}.`
        : 'a rule cannot mix IPv4 and IPv6 CIDRs.';
    throw new RuleValidationError(this.words, index, `${MESSAGES.ipVersions} ${capitalise(reason)}`);
  }

  private icmpNumber(what: string): number {
    const text = this.value(what);
    if (!/^\d+$/.test(text) || Number(text) > 255) {
      this.invalid(`${MESSAGES.icmp} '${text}' is not a number from 0 to 255.`);
    }
    return Number(text);
  }

  private accept(keyword: string): boolean {
    if (this.words[this.index] === keyword) {
      this.consumed();
      return true;
    }
    this.alternatives.push(keyword);
    return false;
  }

  private value(what: string): string {
    const word = this.words[this.index];
    if (word === undefined) this.fail([`<${what}>`]);
    this.consumed();
    return word;
  }

  private consumed(): void {
    this.index++;
    this.alternatives = [];
  }

  private fail(expected: string[]): never {
    throw new RuleSyntaxError(this.words, this.index, [...new Set(expected)]);
  }

  /** Reports a bad value: the word just consumed. */
  private invalid(message: string): never {
    throw new RuleValidationError(this.words, this.index - 1, message);
  }
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
