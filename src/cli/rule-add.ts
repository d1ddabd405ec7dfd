import { Command } from 'commander';
import { addRule, mapRuleTags } from '../policy/edits';
import { parseDirectedRule } from '../policy/parser';
import { checkProfileName } from './names';
import { parsePosition } from './position';
import { notFound, resolveProfile } from './profile-target';
import type { Session } from './session';

export function makeRuleAddCommand(session: Session): Command {
  return new Command('add')
    .description('Add a rule to a profile, last unless --at says where')
    .argument('<PROFILE>')
    .argument('<RULE...>', '(inbound|outbound) (allow|deny) [RULE-MATCH]')
    .option('--at <POSITION>', 'insert at this 1-based position (1 to the number of rules + 1)')
    .action(async (name: string, words: string[], options: { at?: string }) => {
      checkProfileName(name);
      const position = options.at === undefined ? undefined : parsePosition(options.at);
      const { direction, rule } = parseDirectedRule(words);
      const ctx = session.context();
      const { target } = await resolveProfile(ctx, name);
      const edited = await ctx.profiles().editRules(target.id, (rules, profile) => {
        const [stored] = mapRuleTags({ inbound: [rule], outbound: [] }, (tag) => target.storeTag(tag, profile)).inbound;
        const outcome = addRule(rules, direction, stored ?? rule, position);
        return outcome.kind === 'added' ? { value: outcome.rules, result: true } : { result: false };
      });
      if (!edited) throw notFound(name);
      if (!edited.result) ctx.io.out.write('Rule already present, skipping.\n');
    });
}
