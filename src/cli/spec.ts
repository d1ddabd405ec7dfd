import type { CommandContext } from './context';

/**
 * The declarative half of a command: everything --help, the man pages, completion, --dry-run and
 * the word reordering (argv.ts) need, in the verb's own file under commands/. program.ts turns
 * the specs into the Commander tree; nothing about a verb is typed anywhere else.
 */
export interface OptionSpec {
  /** Commander's flags: `--at <POSITION>`, `-o, --output <FORMAT>`, `--no-check`. */
  readonly flags: string;
  readonly description: string;
  readonly choices?: readonly string[];
  /** A default value, or one computed from the calicoctl version (node's --node-image). */
  readonly default?: string | ((version: string) => string);
  /** The option may be given more than once: its value is then the list of every one given. */
  readonly repeatable?: true;
}

export interface ArgumentSpec {
  /** Commander's syntax: `<PROFILE>`, `<RULE...>`, `[PROFILES...]`. */
  readonly syntax: string;
  /** The property of the parsed options that receives the argument. */
  readonly key: string;
  readonly description?: string;
  /** The only words allowed here: the literal `as` of `bgp peer add <PEER_IP> as <AS_NUM>`, or `on`/`off`. */
  readonly choices?: readonly string[];
  /**
   * Words of the rule grammar: one that starts with `-` is still a word here (a tag may be `-a`,
   * and `rule show` prints it so), not an unknown option; the command's own options still work.
   */
  readonly dashWords?: true;
}

interface Described {
  /** The command words, in Commander's order: `['profile', 'rule', 'add']`. */
  readonly path: readonly string[];
  readonly summary: string;
  /** The usage line --help shows (without `calicoctl `), when Commander's own would mislead. */
  readonly usage?: string;
  /** Text --help prints after Commander's own: the grammar, examples. */
  readonly help?: string;
}

/** A command word that only groups others (`profile`, `profile rule`). */
export interface GroupSpec extends Described {
  readonly kind: 'group';
  /**
   * The word typed before this group names the target of its verbs (`profile <PROFILE> rule add`
   * is parsed as `profile rule add <PROFILE>`, see argv.ts); `names` completes that word with
   * profile and network names.
   */
  readonly target?: { readonly completeNames: boolean };
}

/** A command that runs: its parsed options are the arguments (by `key`) and the flags. */
export interface CommandSpec<O = never> extends Described {
  readonly kind: 'command';
  readonly args?: readonly ArgumentSpec[];
  readonly options?: readonly OptionSpec[];
  /** Changes etcd: the command takes --dry-run, which describes the writes and makes none. */
  readonly writes: boolean;
  /** The command's line in its group's usage block, when it differs from `usage`. */
  readonly synopsis?: string;
  /** What completion offers after the command words: the rule grammar, names, or fixed words. */
  readonly complete?: 'rule' | 'names' | readonly string[];
  run(options: O, ctx: CommandContext): Promise<void> | void;
}

/** Any command or group (run() is a method, so a spec of any options fits). */
export type AnySpec = GroupSpec | CommandSpec<unknown>;

export function command<O>(spec: Omit<CommandSpec<O>, 'kind'>): CommandSpec<O> {
  return { kind: 'command', ...spec };
}

export function group(spec: Omit<GroupSpec, 'kind'>): GroupSpec {
  return { kind: 'group', ...spec };
}

/** The usage lines of every command under `path`, in the tree's order: a group's usage block. */
export function usageBlock(specs: readonly AnySpec[], path: readonly string[]): string {
  const lines = specs
    .filter((spec): spec is CommandSpec<unknown> => spec.kind === 'command' && path.every((word, i) => spec.path[i] === word))
    .map((spec) => `  calicoctl ${spec.synopsis ?? spec.usage ?? spec.path.join(' ')}\n`);
  return `Usage:\n${lines.join('')}`;
}
