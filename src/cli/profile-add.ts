import { Command } from 'commander';
import { checkProfileName } from './names';
import type { Session } from './session';

export function makeProfileAddCommand(session: Session): Command {
  return new Command('add')
    .description('Create a profile whose members accept traffic from each other and may send anywhere')
    .argument('<PROFILE>', 'the new profile\'s name')
    .action(async (name: string) => {
      checkProfileName(name);
      const ctx = session.context();
      const created = await ctx.profiles().create(name);
      ctx.io.out.write(created ? `Created profile ${name}\n` : `Profile ${name} already exists.\n`);
    });
}
