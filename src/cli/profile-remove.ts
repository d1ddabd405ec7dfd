import { Command } from 'commander';
import { CommandError } from './errors';
import { checkProfileName } from './names';
import { notFound } from './profile-target';
import type { Session } from './session';

export function makeProfileRemoveCommand(session: Session): Command {
  return new Command('remove')
    .description('Delete a profile (refused while an endpoint uses it, unless --no-check)')
    .argument('<PROFILE>', 'the profile\'s stored name')
    .option('--no-check', 'remove the profile even if endpoints use it')
    .action(async (name: string, options: { check: boolean }) => {
      checkProfileName(name);
      const ctx = session.context();
      const profiles = ctx.profiles();
      if (!(await profiles.get(name))) throw notFound(name);
      if (options.check) {
        const inUse = (await ctx.endpoints().list()).some((endpoint) => endpoint.profileIds.includes(name));
        if (inUse) {
          throw new CommandError("Cannot remove profile - profile in use by endpoint(s). Use the '--no-check' flag to remove the profile anyway.");
        }
      }
      if (!(await profiles.remove(name))) throw notFound(name);
      ctx.io.out.write(`Deleted profile ${name}\n`);
    });
}
