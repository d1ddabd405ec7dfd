import { ruleSetToV1 } from '../../../policy/codec';
import { mapRuleTags } from '../../../policy/edits';
import { printRuleSet } from '../../../policy/printer';
import { isDataFormat, OUTPUT_OPTION, type OutputFormat, renderData } from '../../output';
import { command } from '../../spec';
import { PROFILE_ARG, resolveProfile } from './target';
import { printableText } from '../../printable';

export default command<{ name: string; output: OutputFormat }>({
  path: ['profile', 'rule', 'show'],
  usage: 'profile <PROFILE> rule show',
  summary: 'Print the rules in the words of rule add, numbered for --at',
  args: [PROFILE_ARG],
  options: [OUTPUT_OPTION],
  writes: false,
  async run({ name, output }, ctx) {
    const { target, profile } = await resolveProfile(ctx, name);
    const rules = mapRuleTags(profile.rules, target.showTag);
    // JSON and YAML are the rule json document, which rule update reads back.
    ctx.io.out.write(isDataFormat(output) ? renderData(output, ruleSetToV1(rules)) : printableText(printRuleSet(rules)));
  },
});
