import { Command } from 'commander';
import type { Direction } from '../policy/ast';
import { mapRuleTags, removeMatchingRule, removeRuleAt } from '../policy/edits';
import { parseDirectedRule } from '../policy/parser';
import { CommandError, UsageError } from './errors';
import { checkProfileName } from './names';
import { parsePosition } from './position';
import { notFound, resolveProfile } from './profile-target';
import type { Session } from './session';

export function makeRuleRemoveCommand(session: Session): Command {
  return new Command('remove')
    .description('Remove a rule, by position (--at) or by its words')
    .argument('<PROFILE>')
    .argument('<RULE...>', '(inbound|outbound) (--at=<POSITION> | (allow|deny) [RULE-MATCH])')
    .option('--at <POSITION>', 'remove the rule at this 1-based position')
    .action(async (name: string, words: string[], options: { at?: string }) => {
      checkProfileName(name);
      let edit: { direction: Direction; position: number } | ReturnType<typeof parseDirectedRule>;
      if (options.at !== undefined) {
        const direction = words[0];
        if (words.length !== 1 || (direction !== 'inbound' && direction !== 'outbound')) {
          throw new UsageError('With --at, give only the direction: rule remove (inbound|outbound) --at=<POSITION>.');
        }
        edit = { direction, position: parsePosition(options.at) };
      } else {
        edit = parseDirectedRule(words);
      }
      const ctx = session.context();
      const { target } = await resolveProfile(ctx, name);
      const edited = await ctx.profiles().editRules(target.id, (rules, profile) => {
        if ('position' in edit) return { value: removeRuleAt(rules, edit.direction, edit.position), result: true };
        const [stored] = mapRuleTags({ inbound: [edit.rule], outbound: [] }, (tag) => target.storeTag(tag, profile)).inbound;
        const remaining = removeMatchingRule(rules, edit.direction, stored ?? edit.rule);
        return remaining ? { value: remaining, result: true } : { result: false };
      });
      if (!edited) throw notFound(name);
      if (!edited.result) throw new CommandError('Rule not found.');
    });
}
