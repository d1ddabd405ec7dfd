import { command } from '../../spec';
import { checkProfileName, checkTagName } from './names';
import { asTyped, PROFILE_ARG, resolveProfile, TAG_ARG } from './target';
import { previewIfDryRun } from '../policy/preview-hook';

export default command<{ name: string; tag: string }>({
  path: ['profile', 'tag', 'add'],
  usage: 'profile <PROFILE> tag add <TAG>',
  summary: 'Add a tag (network profiles take network names)',
  args: [PROFILE_ARG, TAG_ARG],
  writes: true,
  complete: 'names',
  async run({ name, tag }, ctx) {
    checkProfileName(name);
    checkTagName(tag);
    const { target } = await resolveProfile(ctx, name);
    await ctx.profiles().editTags(target.id, (tags, profile) => {
      const stored = target.storeTag(tag, profile);
      return tags.includes(stored) ? { result: undefined } : { value: [...tags, stored], result: undefined };
    }).catch(asTyped(name));
    ctx.io.out.write(`Tag ${tag} added to profile ${name}\n`);
    await previewIfDryRun(ctx);
  },
});
