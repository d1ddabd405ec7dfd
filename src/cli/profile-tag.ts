import { Command } from 'commander';
import { CommandError } from './errors';
import { checkProfileName, checkTagName } from './names';
import { notFound, resolveProfile } from './profile-target';
import { isDataFormat, type OutputFormat, outputOption, renderData } from './output';
import type { Session } from './session';

/** `profile <PROFILE> tag show|add|remove`: the tags that make a profile's members a group. */
export function makeTagCommand(session: Session): Command {
  const tag = new Command('tag').description("Show or change a profile's tags");

  tag
    .command('show')
    .description('List the tags, one per line')
    .argument('<PROFILE>')
    .addOption(outputOption())
    .action(async (name: string, options: { output: OutputFormat }) => {
      checkProfileName(name);
      const ctx = session.context();
      const { target, profile } = await resolveProfile(ctx, name);
      const tags = profile.tags.map((t) => target.showTag(t));
      ctx.io.out.write(isDataFormat(options.output) ? renderData(options.output, tags) : tags.map((t) => `${t}\n`).join(''));
    });

  tag
    .command('add')
    .description('Add a tag (network profiles take network names)')
    .argument('<PROFILE>')
    .argument('<TAG>')
    .action(async (name: string, tagName: string) => {
      checkProfileName(name);
      checkTagName(tagName);
      const ctx = session.context();
      const { target } = await resolveProfile(ctx, name);
      const edited = await ctx.profiles().editTags(target.id, (tags, profile) => {
        const stored = target.storeTag(tagName, profile);
        return tags.includes(stored) ? { result: undefined } : { value: [...tags, stored], result: undefined };
      });
      if (!edited) throw notFound(name);
      ctx.io.out.write(`Tag ${tagName} added to profile ${name}\n`);
    });

  tag
    .command('remove')
    .description('Remove a tag')
    .argument('<PROFILE>')
    .argument('<TAG>')
    .action(async (name: string, tagName: string) => {
      checkProfileName(name);
      const ctx = session.context();
      const { target } = await resolveProfile(ctx, name);
      const edited = await ctx.profiles().editTags(target.id, (tags) => {
        const kept = tags.filter((t) => t !== tagName && target.showTag(t) !== tagName);
        return kept.length === tags.length ? { result: false } : { value: kept, result: true };
      });
      if (!edited) throw notFound(name);
      if (!edited.result) throw new CommandError(`Tag ${tagName} is not on profile ${name}`);
      ctx.io.out.write(`Tag ${tagName} removed from profile ${name}\n`);
    });

  return tag;
}
