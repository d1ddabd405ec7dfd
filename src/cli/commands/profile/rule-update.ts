import { ruleSetFromV1 } from '../../../policy/codec';
import { mapRuleTags } from '../../../policy/edits';
import { quoted } from '../../../errors';
import { CommandError } from '../../errors';
import { parseDocument } from '../../output';
import { command } from '../../spec';
import { asTyped, PROFILE_ARG, resolveProfile } from './target';
import { previewIfDryRun } from '../policy/preview-hook';

export default command<{ name: string }>({
  path: ['profile', 'rule', 'update'],
  usage: 'profile <PROFILE> rule update < rules.json',
  summary: 'Replace all the rules with the document read from standard input (rule json, or rule show -o yaml)',
  args: [PROFILE_ARG],
  writes: true,
  async run({ name }, ctx) {
    // Look the profile up first, so that a wrong name fails before we wait on standard input.
    const { target } = await resolveProfile(ctx, name);
    if (ctx.io.stdinIsTTY) ctx.io.err.write('Reading the rules JSON from standard input (end with Ctrl-D)...\n');
    const text = await ctx.io.readStdin();
    if (text.trim() === '') throw new CommandError('No rules on standard input: give the rule json document, as JSON or YAML. Nothing was changed.');
    let document: unknown;
    try {
      document = parseDocument(text, 'The rules on standard input');
    } catch (error) {
      throw new CommandError(`${(error as Error).message}. Nothing was changed.`);
    }
    let rules;
    try {
      // A misspelt list (`inbound_rule`) would otherwise be dropped without a word. `id` is the
      // profile's name, which the original `rule json` printed alongside the lists.
      if (typeof document === 'object' && document !== null && !Array.isArray(document)) {
        const unknown = Object.keys(document).find((key) => !['inbound_rules', 'outbound_rules', 'id'].includes(key));
        if (unknown !== undefined) throw new Error(`${quoted(unknown)}: is not a key of the rules document (keys: inbound_rules, outbound_rules)`);
      }
      rules = ruleSetFromV1(document);
    } catch (error) {
      throw new CommandError(`Invalid rule at ${(error as Error).message}. Nothing was changed.`);
    }
    await ctx.profiles().editRules(target.id, (_, profile) => ({
      value: mapRuleTags(rules, (tag) => target.storeTag(tag, profile)),
      result: true,
    })).catch(asTyped(name));
    ctx.io.out.write(`Successfully updated rules on profile ${name}\n`);
    await previewIfDryRun(ctx);
  },
});
