import { command } from '../../spec';
import { checkProfileName } from './names';

export default command<{ name: string }>({
  path: ['profile', 'add'],
  synopsis: 'profile add <PROFILE>',
  summary: 'Create a profile whose members accept traffic from each other and may send anywhere',
  args: [{ syntax: '<PROFILE>', key: 'name', description: "the new profile's name" }],
  writes: true,
  async run({ name }, ctx) {
    checkProfileName(name);
    const created = await ctx.profiles().create(name);
    ctx.io.out.write(created ? `Created profile ${name}\n` : `Profile ${name} already exists.\n`);
  },
});
