import type { Direction, Rule, RuleSet } from '../../../policy/ast';
import { ruleSetToV1 } from '../../../policy/codec';
import { mapRuleTags } from '../../../policy/edits';
import { printRule, printRuleSet } from '../../../policy/printer';
import type { CommandContext } from '../../context';
import { CommandError } from '../../errors';
import { isDataFormat, OUTPUT_OPTION, type OutputFormat, renderData } from '../../output';
import { command } from '../../spec';
import { profileCounts, readCounters, type RuleCount } from './counters';
import { PROFILE_ARG, resolveProfile } from './target';
import { printable, printableText } from '../../printable';

interface RuleShowOptions {
  name: string;
  output: OutputFormat;
  counts?: boolean;
}

export default command<RuleShowOptions>({
  path: ['profile', 'rule', 'show'],
  usage: 'profile <PROFILE> rule show [--counts]',
  summary: 'Print the rules in the words of rule add, numbered for --at',
  help: `
With --counts, each rule also shows the packets and bytes it matched on this host, read from the
kernel's counters (iptables-save -c and ip6tables-save -c, added up): calicoctl runs as root on a
host where calico-node runs. Only the first packet of a connection passes the rules (the rest are
accepted as established), and a profile's counters start again when the agent rewrites its chain
(a rule inserted before, changed or removed). A rule shows "-" when the kernel has no counter for
it: no endpoint on this host uses the profile, or the agent has not rendered the rule yet.

Examples:
  calicoctl profile databases rule show --counts
  calicoctl profile databases rule show --counts -o json
`,
  args: [PROFILE_ARG],
  options: [{ flags: '--counts', description: "add each rule's packet and byte counters on this host" }, OUTPUT_OPTION],
  writes: false,
  async run({ name, output, counts }, ctx) {
    const { target, profile } = await resolveProfile(ctx, name);
    const rules = mapRuleTags(profile.rules, target.showTag);
    if (counts) return showCounts(ctx, name, target.id, rules, output);
    // JSON and YAML are the rule json document, which rule update reads back.
    ctx.io.out.write(isDataFormat(output) ? renderData(output, ruleSetToV1(rules)) : printableText(printRuleSet(rules)));
  },
});

async function showCounts(ctx: CommandContext, name: string, profileId: string, rules: RuleSet, output: OutputFormat): Promise<void> {
  const counters = await readCounters(ctx.deps.runner);
  if (!counters.programmed) {
    throw new CommandError('calico-node is not running on this host (the kernel has no cali-FORWARD chain): there are no rule counters to show.');
  }
  const { present, counts } = profileCounts(counters, profileId, { inbound: rules.inbound.length, outbound: rules.outbound.length });
  const directions: Direction[] = ['inbound', 'outbound'];
  if (isDataFormat(output)) {
    const list = (direction: Direction) =>
      rules[direction].map((rule, i) => ({ number: i + 1, rule: printRule(rule), packets: counts[direction][i]?.packets ?? null, bytes: counts[direction][i]?.bytes ?? null }));
    ctx.io.out.write(renderData(output, { profile: name, on_this_host: present, inbound: list('inbound'), outbound: list('outbound') }));
  } else {
    ctx.io.out.write(countsTable(rules, counts));
  }
  if (!present) ctx.io.err.write(`No endpoint on this host uses profile ${printable(name)}: its rules are not in this host's kernel, so none has a counter.\n`);
  else if (directions.some((d) => counts[d].includes(null))) {
    ctx.io.err.write('Rules shown with "-" have no counter in this host\'s kernel (the agent has not rendered them yet, or they match neither IP family).\n');
  }
}

/** rule show's lines, padded to one width, then the packets and bytes columns. */
function countsTable(rules: RuleSet, counts: Record<Direction, RuleCount[]>): string {
  const rows = (direction: Direction) =>
    rules[direction].map((rule: Rule, i) => {
      const count = counts[direction][i] ?? null;
      return { text: ` ${String(i + 1).padStart(3)} ${printable(printRule(rule))}`, packets: count ? String(count.packets) : '-', bytes: count ? String(count.bytes) : '-' };
    });
  const sections: [string, ReturnType<typeof rows>][] = [
    ['Inbound rules:', rows('inbound')],
    ['Outbound rules:', rows('outbound')],
  ];
  const all = sections.flatMap(([header, list]) => [{ text: header, packets: 'packets', bytes: 'bytes' }, ...list]);
  const width = Math.max(...all.map((r) => r.text.length));
  const packets = Math.max(...all.map((r) => r.packets.length));
  const bytes = Math.max(...all.map((r) => r.bytes.length));
  return all.map((r) => `${r.text.padEnd(width)}  ${r.packets.padStart(packets)}  ${r.bytes.padStart(bytes)}\n`).join('');
}
