import { Command, type Option } from 'commander';
import { parseDirectedRule, RuleSyntaxError } from '../policy/parser';
import { CommandContext } from './context';
import type { AnySpec } from './spec';

/**
 * Shell completion. The scripts `calicoctl completion bash|zsh|fish` prints (commands/completion.ts)
 * ask the hidden command `calicoctl __complete -- <words…>` for candidates: command and option
 * names from the command tree, what each command's spec says follows it (the rule grammar's next
 * words, from the parser itself; profile and Docker network names, read live from etcd and Docker
 * with a one-second bound; fixed words).
 */
export function completeCommand(ctx: CommandContext, program: Command, specs: WeakMap<Command, AnySpec>): Command {
  return new Command('__complete')
    .argument('[WORDS...]')
    .allowUnknownOption()
    .helpOption(false)
    .action(async (words: string[]) => {
      const current = words[words.length - 1] ?? '';
      const found = await candidates(program, specs, ctx, words.slice(0, -1), current);
      ctx.io.out.write([...new Set(found)].filter((c) => c.startsWith(current)).map((c) => `${c}\n`).join(''));
    });
}

/** What may come after `before`, the words already typed (the current partial word excluded). */
async function candidates(program: Command, specs: WeakMap<Command, AnySpec>, ctx: CommandContext, before: string[], current: string): Promise<string[]> {
  const words = withoutOptions(program, before);
  let command = program;
  let index = 0;
  for (; index < words.length; index++) {
    const next = command.commands.find((c) => c.name() === words[index]);
    if (!next) break;
    command = next;
  }
  const rest = words.slice(index);
  if (current.startsWith('-')) return optionNames(command);
  const subcommands = command.commands.filter((c) => c.name() !== '__complete');
  const targets = subcommands.filter((c) => { const spec = specs.get(c); return spec?.kind === 'group' && spec.target?.completeNames === true; });

  if (targets.length > 0) {
    // `profile <PROFILE> rule|tag <verb> …`: the words after the profile name are not commands.
    if (rest.length === 0) return [...subcommands.filter((c) => !targets.includes(c)).map((c) => c.name()), ...(await names(ctx))];
    const [, groupWord, verbWord, ...tail] = rest;
    if (groupWord === undefined) return targets.map((c) => c.name());
    const group = targets.find((c) => c.name() === groupWord);
    if (!group) return [];
    if (verbWord === undefined) return group.commands.map((c) => c.name());
    const verb = group.commands.find((c) => c.name() === verbWord);
    return verb ? following(specs.get(verb), tail, ctx) : [];
  }
  if (command !== program && specs.get(command)?.kind === 'command' && subcommands.length === 0) return following(specs.get(command), rest, ctx);
  if (rest.length === 0 && subcommands.length > 0) return subcommands.map((c) => c.name());
  return [];
}

/** What a command's spec says may follow its words. */
async function following(spec: AnySpec | undefined, typed: string[], ctx: CommandContext): Promise<string[]> {
  if (spec?.kind !== 'command' || spec.complete === undefined) return [];
  if (spec.complete === 'rule') return ruleWords(typed, ctx);
  if (spec.complete === 'names') return typed.length === 0 ? names(ctx) : [];
  return typed.length === 0 ? [...spec.complete] : [];
}

/** The rule grammar's possible next words, found by asking the parser what it expected there. */
async function ruleWords(typed: string[], ctx: CommandContext): Promise<string[]> {
  const words = typed.filter((w) => !w.startsWith('--'));
  try {
    parseDirectedRule([...words, '\u0000']);
  } catch (error) {
    if (error instanceof RuleSyntaxError && error.index === words.length) {
      return error.expected.filter((word) => !word.startsWith('<'));
    }
    if (error instanceof RuleSyntaxError && words[words.length - 1] === 'tag') return names(ctx);
  }
  return words[words.length - 1] === 'tag' ? names(ctx) : [];
}

/** Profile names from etcd and network names from Docker, each bounded to one second; failures give nothing. */
async function names(parent: CommandContext): Promise<string[]> {
  const ctx = new CommandContext(parent.deps, () => ({ debug: false, timeout: '1', color: false, trace: false, dryRun: false }));
  const settled = await Promise.allSettled([ctx.profiles().list(), ctx.networks().then((n) => n.all().map((network) => network.name))]);
  ctx.close();
  return settled.flatMap((result) => (result.status === 'fulfilled' ? result.value : []));
}

/** The words that are not options, nor the values of options written as two words (`--at 2`, `-c FILE`). */
function withoutOptions(program: Command, words: readonly string[]): string[] {
  const takesValue = new Set<string>();
  const visit = (command: Command): void => {
    for (const option of command.options) if (option.required || option.optional) for (const flag of [option.long, option.short]) if (flag) takesValue.add(flag);
    command.commands.forEach(visit);
  };
  visit(program);
  const kept: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const word = words[i] as string;
    if (!word.startsWith('-')) kept.push(word);
    else if (takesValue.has(word)) i++;
  }
  return kept;
}

function optionNames(command: Command): string[] {
  return command.options.flatMap((option: Option) => [option.long, option.short]).filter((name): name is string => name !== undefined);
}
