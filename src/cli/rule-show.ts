import { Command } from 'commander';
import { mapRuleTags } from '../policy/edits';
import { ruleSetToV1 } from '../policy/codec';
import { printRuleSet } from '../policy/printer';
import { isDataFormat, type OutputFormat, outputOption, renderData } from './output';
import { checkProfileName } from './names';
import { resolveProfile } from './profile-target';
import type { Session } from './session';

export function makeRuleShowCommand(session: Session): Command {
  return new Command('show')
    .description('Print the rules in the words of rule add, numbered for --at')
    .argument('<PROFILE>')
    .addOption(outputOption())
    .action(async (name: string, options: { output: OutputFormat }) => {
      checkProfileName(name);
      const ctx = session.context();
      const { target, profile } = await resolveProfile(ctx, name);
      const rules = mapRuleTags(profile.rules, target.showTag);
      // JSON and YAML are the rule json document, which rule update reads back.
      ctx.io.out.write(isDataFormat(options.output) ? renderData(options.output, ruleSetToV1(rules)) : printRuleSet(rules));
    });
}
