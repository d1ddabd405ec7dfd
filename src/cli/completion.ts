import { Command, type Option } from 'commander';
import { parseDirectedRule, RuleSyntaxError } from '../policy/parser';
import { Context } from './context';
import { UsageError } from './errors';
import type { Session } from './session';

/**
 * Shell completion. The scripts `calicoctl completion bash|zsh|fish` prints ask the hidden command
 * `calicoctl __complete -- <words…>` for candidates: command and option names from the command
 * tree, the rule grammar's next words (from the parser itself), and profile and Docker network
 * names read live from etcd and Docker with a one-second bound.
 */
const SCRIPTS: Record<string, string> = {
  // Words are split from the line by spaces alone: bash's COMP_WORDS also splits at = and :
  // (\`--at=2\`, \`ports 80:90\`), which the rule grammar does not.
  bash: `# calicoctl bash completion: source <(calicoctl completion bash)
_calicoctl() {
  local -a words
  if [[ -n \${COMP_LINE+set} ]]; then
    read -ra words <<< "\${COMP_LINE:0:COMP_POINT}"
    [[ \${COMP_LINE:0:COMP_POINT} == *[[:space:]] ]] && words+=("")
  else
    words=("\${COMP_WORDS[@]:0:COMP_CWORD+1}")
  fi
  local cur=\${words[\${#words[@]}-1]}
  local IFS=$'\\n'
  COMPREPLY=($(compgen -W "$(calicoctl __complete -- "\${words[@]:1}" 2>/dev/null)" -- "$cur"))
  # bash replaces only the part of the word after its last = or :
  if [[ $cur == *[=:]* ]]; then
    local head=\${cur%\"\${cur##*[=:]}\"}
    COMPREPLY=("\${COMPREPLY[@]#\"$head\"}")
  fi
}
complete -o default -F _calicoctl calicoctl
`,
  zsh: `#compdef calicoctl
# calicoctl zsh completion: source <(calicoctl completion zsh)
_calicoctl() {
  local -a candidates
  candidates=("\${(@f)$(calicoctl __complete -- "\${(@)words[2,CURRENT]}" 2>/dev/null)}")
  # -V: an unsorted group, so candidates keep calicoctl's order (the grammar's), as in bash.
  compadd -V calicoctl -- "\${candidates[@]}"
}
compdef _calicoctl calicoctl
`,
  fish: `# calicoctl fish completion: calicoctl completion fish | source
# -k keeps calicoctl's order (the grammar's) instead of sorting, as in bash.
complete -c calicoctl -f -k -a '(calicoctl __complete -- (commandline -opc)[2..-1] (commandline -ct))'
`,
};

export function makeCompletionCommands(session: Session, program: () => Command): Command[] {
  const completion = new Command('completion')
    .description('Print a shell completion script: source <(calicoctl completion bash)')
    .argument('<SHELL>', 'bash, zsh or fish')
    .action((shell: string) => {
      const script = SCRIPTS[shell];
      if (!script) throw new UsageError(`Unknown shell '${shell}': choose bash, zsh or fish.`);
      session.deps.io.out.write(script);
    });
  const complete = new Command('__complete')
    .argument('[WORDS...]')
    .allowUnknownOption()
    .helpOption(false)
    .action(async (words: string[]) => {
      const current = words[words.length - 1] ?? '';
      const found = await candidates(program(), session, words.slice(0, -1), current);
      session.deps.io.out.write([...new Set(found)].filter((c) => c.startsWith(current)).map((c) => `${c}\n`).join(''));
    });
  return [completion, complete];
}

/** What may come after `before`, the words already typed (the current partial word excluded). */
export async function candidates(program: Command, session: Session, before: string[], current: string): Promise<string[]> {
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
  const path = pathOf(command);
  const subcommands = command.commands.filter((c) => c.name() !== '__complete').map((c) => c.name());

  if (path === 'profile') {
    // `profile <PROFILE> rule|tag <verb> …`: the words after the profile name are not commands.
    if (rest.length === 0) return [...subcommands.filter((c) => c !== 'rule' && c !== 'tag'), ...(await names(session))];
    const [, group, verb, ...tail] = rest;
    if (group === undefined) return ['rule', 'tag'];
    if (verb === undefined) return group === 'rule' ? ['add', 'remove', 'show', 'json', 'update'] : ['show', 'add', 'remove'];
    if (group === 'rule' && (verb === 'add' || verb === 'remove')) return ruleWords(tail, session);
    if (group === 'tag' && (verb === 'add' || verb === 'remove') && tail.length === 0) return names(session);
    return [];
  }
  if (path === 'completion') return rest.length === 0 ? Object.keys(SCRIPTS) : [];
  if (rest.length === 0 && subcommands.length > 0) return subcommands;
  return [];
}

/** The rule grammar's possible next words, found by asking the parser what it expected there. */
async function ruleWords(typed: string[], session: Session): Promise<string[]> {
  const words = typed.filter((w) => !w.startsWith('--'));
  try {
    parseDirectedRule([...words, '\u0000']);
  } catch (error) {
    if (error instanceof RuleSyntaxError && error.index === words.length) {
      return error.expected.filter((word) => !word.startsWith('<'));
    }
    if (error instanceof RuleSyntaxError && words[words.length - 1] === 'tag') return names(session);
  }
  return words[words.length - 1] === 'tag' ? names(session) : [];
}

/** Profile names from etcd and network names from Docker, each bounded to one second; failures give nothing. */
async function names(session: Session): Promise<string[]> {
  const ctx = new Context(session.deps, { debug: false, timeout: '1', color: false, trace: false, dryRun: false });
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

function pathOf(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}
