import type { Direction } from '../../../policy/ast';
import { mapRuleTags, removeMatchingRule, removeRuleAt } from '../../../policy/edits';
import { parseDirectedRule } from '../../../policy/parser';
import { CommandError, UsageError } from '../../errors';
import { command } from '../../spec';
import { RULE_HELP } from './grammar';
import { checkProfileName } from './names';
import { parsePosition } from './position';
import { asTyped, PROFILE_ARG, resolveProfile } from './target';
import { previewIfDryRun } from '../policy/preview-hook';

export default command<{ name: string; words: string[]; at?: string }>({
  path: ['profile', 'rule', 'remove'],
  usage: 'profile <PROFILE> rule remove (inbound|outbound) (--at=<POSITION> | (allow|deny) [RULE-MATCH])',
  summary: 'Remove a rule, by position (--at) or by its words',
  args: [PROFILE_ARG, { syntax: '<RULE...>', key: 'words', dashWords: true, description: '(inbound|outbound) (--at=<POSITION> | (allow|deny) [RULE-MATCH])' }],
  options: [{ flags: '--at <POSITION>', description: 'remove the rule at this 1-based position' }],
  writes: true,
  help: RULE_HELP,
  complete: 'rule',
  async run({ name, words, at }, ctx) {
    checkProfileName(name);
    let edit: { direction: Direction; position: number } | ReturnType<typeof parseDirectedRule>;
    if (at !== undefined) {
      const direction = words[0];
      if (words.length !== 1 || (direction !== 'inbound' && direction !== 'outbound')) {
        throw new UsageError('With --at, give only the direction: rule remove (inbound|outbound) --at=<POSITION>.');
      }
      edit = { direction, position: parsePosition(at) };
    } else {
      edit = parseDirectedRule(words);
    }
    const { target } = await resolveProfile(ctx, name);
    const removed = await ctx.profiles().editRules(target.id, (rules, profile) => {
      if ('position' in edit) return { value: removeRuleAt(rules, edit.direction, edit.position), result: true };
      const [stored] = mapRuleTags({ inbound: [edit.rule], outbound: [] }, (tag) => target.storeTag(tag, profile)).inbound;
      const remaining = removeMatchingRule(rules, edit.direction, stored ?? edit.rule);
      return remaining ? { value: remaining, result: true } : { result: false };
    }).catch(asTyped(name));
    if (!removed) throw new CommandError('Rule not found.');
    await previewIfDryRun(ctx);
  },
});
