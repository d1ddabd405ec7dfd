import { Command } from 'commander';
import { mapRuleTags } from '../policy/edits';
import { printRuleSet } from '../policy/printer';
import { checkProfileName } from './names';
import { resolveProfile } from './profile-target';
import type { Session } from './session';

export function makeRuleShowCommand(session: Session): Command {
  return new Command('show')
    .description('Print the rules in the words of rule add, numbered for --at')
    .argument('<PROFILE>')
    .action(async (name: string) => {
      checkProfileName(name);
      const ctx = session.context();
      const { target, profile } = await resolveProfile(ctx, name);
      ctx.io.out.write(printRuleSet(mapRuleTags(profile.rules, target.showTag)));
    });
}
