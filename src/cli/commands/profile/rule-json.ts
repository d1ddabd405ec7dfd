import { ruleSetToV1 } from '../../../policy/codec';
import { mapRuleTags } from '../../../policy/edits';
import { command } from '../../spec';
import { PROFILE_ARG, resolveProfile } from './target';

export default command<{ name: string }>({
  path: ['profile', 'rule', 'json'],
  usage: 'profile <PROFILE> rule json',
  summary: 'Print the rules as JSON, the input format of rule update',
  args: [PROFILE_ARG],
  writes: false,
  async run({ name }, ctx) {
    const { target, profile } = await resolveProfile(ctx, name);
    ctx.io.out.write(`${JSON.stringify(ruleSetToV1(mapRuleTags(profile.rules, target.showTag)), null, 2)}\n`);
  },
});
