import { isDataFormat, OUTPUT_OPTION, type OutputFormat, renderData } from '../../output';
import { command } from '../../spec';
import { PROFILE_ARG, resolveProfile } from './target';
import { printableLines } from '../../printable';

export default command<{ name: string; output: OutputFormat }>({
  path: ['profile', 'tag', 'show'],
  usage: 'profile <PROFILE> tag show',
  summary: 'List the tags, one per line',
  args: [PROFILE_ARG],
  options: [OUTPUT_OPTION],
  writes: false,
  async run({ name, output }, ctx) {
    const { target, profile } = await resolveProfile(ctx, name);
    const tags = profile.tags.map((t) => target.showTag(t));
    ctx.io.out.write(isDataFormat(output) ? renderData(output, tags) : printableLines(tags));
  },
});
