import { Command } from 'commander';
import { ruleSetToV1 } from '../policy/codec';
import { mapRuleTags } from '../policy/edits';
import { checkProfileName } from './names';
import { resolveProfile } from './profile-target';
import type { Session } from './session';

export function makeRuleJsonCommand(session: Session): Command {
  return new Command('json')
    .description('Print the rules as JSON, the input format of rule update')
    .argument('<PROFILE>')
    .action(async (name: string) => {
      checkProfileName(name);
      const ctx = session.context();
      const { target, profile } = await resolveProfile(ctx, name);
      ctx.io.out.write(`${JSON.stringify(ruleSetToV1(mapRuleTags(profile.rules, target.showTag)), null, 2)}\n`);
    });
}
