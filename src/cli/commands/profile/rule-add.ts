import { addRule, mapRuleTags } from '../../../policy/edits';
import { parseDirectedRule } from '../../../policy/parser';
import { command } from '../../spec';
import { RULE_HELP } from './grammar';
import { checkProfileName } from './names';
import { parsePosition } from './position';
import { asTyped, PROFILE_ARG, resolveProfile } from './target';
import { previewIfDryRun } from '../policy/preview-hook';

export default command<{ name: string; words: string[]; at?: string }>({
  path: ['profile', 'rule', 'add'],
  usage: 'profile <PROFILE> rule add (inbound|outbound) [--at=<POSITION>] (allow|deny) [RULE-MATCH]',
  summary: 'Add a rule to a profile, last unless --at says where',
  args: [PROFILE_ARG, { syntax: '<RULE...>', key: 'words', dashWords: true, description: '(inbound|outbound) (allow|deny) [RULE-MATCH]' }],
  options: [{ flags: '--at <POSITION>', description: 'insert at this 1-based position (1 to the number of rules + 1)' }],
  writes: true,
  help: RULE_HELP,
  complete: 'rule',
  async run({ name, words, at }, ctx) {
    checkProfileName(name);
    const position = at === undefined ? undefined : parsePosition(at);
    const { direction, rule } = parseDirectedRule(words);
    const { target } = await resolveProfile(ctx, name);
    const added = await ctx.profiles().editRules(target.id, (rules, profile) => {
      const [stored] = mapRuleTags({ inbound: [rule], outbound: [] }, (tag) => target.storeTag(tag, profile)).inbound;
      const outcome = addRule(rules, direction, stored ?? rule, position);
      return outcome.kind === 'added' ? { value: outcome.rules, result: true } : { result: false };
    }).catch(asTyped(name));
    if (!added) ctx.io.out.write('Rule already present, skipping.\n');
    await previewIfDryRun(ctx);
  },
});
