import { CommandError } from '../../errors';
import { command } from '../../spec';
import { checkProfileName } from './names';
import { notFound } from './target';

export default command<{ name: string; check: boolean }>({
  path: ['profile', 'remove'],
  synopsis: 'profile remove <PROFILE> [--no-check]',
  summary: 'Delete a profile (refused while an endpoint uses it, unless --no-check)',
  args: [{ syntax: '<PROFILE>', key: 'name', description: "the profile's stored name" }],
  options: [{ flags: '--no-check', description: 'remove the profile even if endpoints use it' }],
  writes: true,
  async run({ name, check }, ctx) {
    checkProfileName(name);
    const profiles = ctx.profiles();
    // With the check, the check and the delete are one transaction (ProfileStore.removeUnused).
    const outcome = check ? await profiles.removeUnused(name) : (await profiles.remove(name)) ? 'removed' : 'absent';
    if (outcome === 'absent') throw notFound(name);
    if (outcome === 'in-use') {
      throw new CommandError("Cannot remove profile - profile in use by endpoint(s). Use the '--no-check' flag to remove the profile anyway.");
    }
    ctx.io.out.write(`Deleted profile ${name}\n`);
  },
});
