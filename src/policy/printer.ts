import type { AddressMatch, PortMatch, Rule, RuleSet } from './ast';
import { canonicalPorts, formatPorts } from './ports';

/**
 * Prints a rule in the grammar's own words, fields in the grammar's fixed order, so that the text
 * can be pasted back into `rule add` and parses to an equal rule.
 */
export function printRule(rule: Rule): string {
  const words: string[] = [rule.action];
  switch (rule.protocol) {
    case 'tcp':
    case 'udp':
      words.push(rule.protocol);
      break;
    case 'icmp':
    case 'icmpv6':
      words.push(rule.protocol);
      if (rule.icmp) {
        words.push('type', String(rule.icmp.type));
        if (rule.icmp.code !== undefined) words.push('code', String(rule.icmp.code));
      }
      break;
    case 'any':
      break;
    default:
      return assertNever(rule);
  }
  words.push(...printSide('from', rule.from), ...printSide('to', rule.to));
  return words.join(' ');
}

function printSide(keyword: 'from' | 'to', side: PortMatch): string[] {
  const words: string[] = [];
  if (side.ports && side.ports.length > 0) words.push('ports', formatPorts(side.ports));
  if (side.tag !== undefined) words.push('tag', side.tag);
  if (side.cidr) words.push('cidr', side.cidr.text);
  return words.length > 0 ? [keyword, ...words] : [];
}

/** The `rule show` text: headers, then ` %3d <rule>` per rule, 1-based. No trailing blank line. */
export function printRuleSet(rules: RuleSet): string {
  const lines = ['Inbound rules:', ...numbered(rules.inbound), 'Outbound rules:', ...numbered(rules.outbound)];
  return `${lines.join('\n')}\n`;
}

function numbered(rules: readonly Rule[]): string[] {
  return rules.map((rule, index) => ` ${String(index + 1).padStart(3)} ${printRule(rule)}`);
}

/**
 * A key that two rules share exactly when they match the same traffic with the same action:
 * port lists compare as sets and CIDRs by the addresses they cover, never as typed text.
 */
export function ruleIdentity(rule: Rule): string {
  const side = (match: PortMatch | AddressMatch) => ({
    ports: 'ports' in match && match.ports ? canonicalPorts(match.ports) : '',
    tag: match.tag ?? '',
    cidr: match.cidr ? `${match.cidr.network}/${match.cidr.prefixLength}` : '',
  });
  const icmp = rule.protocol === 'icmp' || rule.protocol === 'icmpv6' ? rule.icmp : undefined;
  return JSON.stringify([rule.action, rule.protocol, icmp?.type ?? '', icmp?.code ?? '', side(rule.from), side(rule.to)]);
}

export function sameRule(a: Rule, b: Rule): boolean {
  return ruleIdentity(a) === ruleIdentity(b);
}

function assertNever(value: never): never {
  throw new Error(`unhandled rule ${JSON.stringify(value)}`);
}
