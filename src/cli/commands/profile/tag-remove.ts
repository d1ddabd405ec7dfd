import { CommandError } from '../../errors';
import { command } from '../../spec';
import { checkProfileName } from './names';
import { asTyped, PROFILE_ARG, resolveProfile, TAG_ARG } from './target';
import { previewIfDryRun } from '../policy/preview-hook';

export default command<{ name: string; tag: string }>({
  path: ['profile', 'tag', 'remove'],
  usage: 'profile <PROFILE> tag remove <TAG>',
  summary: 'Remove a tag',
  args: [PROFILE_ARG, TAG_ARG],
  writes: true,
  complete: 'names',
  async run({ name, tag }, ctx) {
    checkProfileName(name);
    const { target } = await resolveProfile(ctx, name);
    const removed = await ctx.profiles().editTags(target.id, (tags) => {
      const kept = tags.filter((t) => t !== tag && target.showTag(t) !== tag);
      return kept.length === tags.length ? { result: false } : { value: kept, result: true };
    }).catch(asTyped(name));
    if (!removed) throw new CommandError(`Tag ${tag} is not on profile ${name}`);
    ctx.io.out.write(`Tag ${tag} removed from profile ${name}\n`);
    await previewIfDryRun(ctx);
  },
});
