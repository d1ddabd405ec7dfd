import { CalicoError } from './errors';
import type { Direction, Rule, RuleSet } from './ast';
import { sameRule } from './printer';

/** A `--at` position outside the list. Messages are the original calicoctl's. */
export class RulePositionError extends CalicoError {
  readonly code = 'rule-position';
  constructor(message: string) {
    super(message);
    this.name = 'RulePositionError';
  }
}

export type AddOutcome = { readonly kind: 'added'; readonly rules: RuleSet } | { readonly kind: 'duplicate' };

/**
 * Inserts `rule` at the 1-based `position` (default: append). Positions 1..n+1 are valid; the
 * original quietly inserted elsewhere on anything else, which we refuse. A rule equal to one
 * already in that direction (compared as rules, not as text) is not added twice.
 */
export function addRule(rules: RuleSet, direction: Direction, rule: Rule, position?: number): AddOutcome {
  const list = rules[direction];
  const at = position ?? list.length + 1;
  if (!Number.isInteger(at) || at < 1 || at > list.length + 1) {
    throw new RulePositionError(`Position ${position} is out-of-range.${rangeHint(list.length + 1)}`);
  }
  if (list.some((existing) => sameRule(existing, rule))) return { kind: 'duplicate' };
  return { kind: 'added', rules: withList(rules, direction, [...list.slice(0, at - 1), rule, ...list.slice(at - 1)]) };
}

/** Removes the rule at the 1-based `position`; positions 1..n are valid. */
export function removeRuleAt(rules: RuleSet, direction: Direction, position: number): RuleSet {
  const list = rules[direction];
  if (!Number.isInteger(position) || position < 1 || position > list.length) {
    throw new RulePositionError(`Rule position out-of-range.${list.length === 0 ? ` There are no ${direction} rules.` : rangeHint(list.length)}`);
  }
  return withList(rules, direction, list.filter((_, index) => index !== position - 1));
}

/** Removes the first rule equal to `rule`. Resolves undefined when there is none. */
export function removeMatchingRule(rules: RuleSet, direction: Direction, rule: Rule): RuleSet | undefined {
  const list = rules[direction];
  const index = list.findIndex((existing) => sameRule(existing, rule));
  if (index < 0) return undefined;
  return withList(rules, direction, list.filter((_, i) => i !== index));
}

function withList(rules: RuleSet, direction: Direction, list: readonly Rule[]): RuleSet {
  return direction === 'inbound' ? { inbound: list, outbound: rules.outbound } : { inbound: rules.inbound, outbound: list };
}

function rangeHint(max: number): string {
  return max === 1 ? ' The only valid position is 1.' : ` Valid positions are 1 to ${max}.`;
}

/** Rewrites every tag in a rule set (source and destination) through `map`. */
export function mapRuleTags(rules: RuleSet, map: (tag: string) => string): RuleSet {
  const mapRule = (rule: Rule): Rule =>
    ({
      ...rule,
      from: rule.from.tag === undefined ? rule.from : { ...rule.from, tag: map(rule.from.tag) },
      to: rule.to.tag === undefined ? rule.to : { ...rule.to, tag: map(rule.to.tag) },
    }) as Rule;
  return { inbound: rules.inbound.map(mapRule), outbound: rules.outbound.map(mapRule) };
}
