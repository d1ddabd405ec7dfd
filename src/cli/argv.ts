import { SPECS } from './commands';
import { UsageError } from './errors';
import { GLOBAL_OPTIONS } from './program';
import type { AnySpec } from './spec';

/**
 * Commander cannot put an argument between command words (`profile <PROFILE> rule add …`), so the
 * words are reordered before parsing: `profile P rule add …` becomes `profile rule add P …`, and
 * `endpoint E profile append …` becomes `endpoint profile append E …`. Which nouns take such a
 * target, before which groups, comes from the specs (a group with `target`). As in the original,
 * a profile named like a verb (show, add, remove, …) cannot be addressed this way.
 */
interface Noun {
  readonly verbs: ReadonlySet<string>;
  readonly groups: readonly string[];
}

let derived: { nouns: Map<string, Noun>; valueOptions: Set<string> } | undefined;

function grammar(specs: readonly AnySpec[]): { nouns: Map<string, Noun>; valueOptions: Set<string> } {
  const nouns = new Map<string, Noun>();
  for (const spec of specs) {
    if (spec.kind !== 'group' || !spec.target || spec.path.length !== 2) continue;
    const [noun, group] = spec.path as [string, string];
    const verbs = new Set(['help', ...specs.filter((s) => s.path.length === 2 && s.path[0] === noun).map((s) => s.path[1] as string)]);
    nouns.set(noun, { verbs, groups: [...(nouns.get(noun)?.groups ?? []), group] });
  }
  // Options that take a value as the next word, so the scan can step over it: the root's and every command's.
  const valueOptions = new Set<string>();
  for (const options of [GLOBAL_OPTIONS, ...specs.map((spec) => (spec.kind === 'command' ? spec.options ?? [] : []))]) {
    for (const option of options) {
      if (!/[<[]/.test(option.flags)) continue;
      for (const flag of option.flags.split(/[ ,]+/)) if (flag.startsWith('-')) valueOptions.add(flag);
    }
  }
  return { nouns, valueOptions };
}

/** The index of the first word at or after `from` that is neither an option nor an option's value; -1 if none (or `--`). */
function nextWord(words: readonly string[], from: number): number {
  derived ??= grammar(SPECS);
  for (let i = from; i < words.length; i++) {
    const word = words[i] as string;
    if (word === '--') return -1;
    if (!word.startsWith('-') || word === '-') return i;
    if (derived.valueOptions.has(word)) i++;
  }
  return -1;
}

/** The words of a command line that are not options or their values, in order (up to `--`). */
export function positionalWords(argv: readonly string[]): string[] {
  const found: string[] = [];
  for (let i = nextWord(argv, 0); i >= 0; i = nextWord(argv, i + 1)) found.push(argv[i] as string);
  return found;
}

/** Rule words after which the next word is a value (a tag, CIDR, port list, ICMP type or code), whatever it looks like. */
const VALUE_WORDS = new Set(['tag', 'cidr', 'ports', 'type', 'code']);

/**
 * A tag may start with a dash (`from tag -la`), which Commander would read as options (`-l a`, or
 * `-h` for help). For a command whose words may start with one (a spec arg with `dashWords`), the
 * words after the verb are split into its options and its rule words, and a `--` put between, so
 * each value after `tag`, `cidr`, … reaches the rule parser as typed.
 */
function protectDashValues(words: readonly string[]): string[] {
  derived ??= grammar(SPECS);
  const positional: number[] = [];
  for (let i = nextWord(words, 0); i >= 0; i = nextWord(words, i + 1)) positional.push(i);
  const spec = SPECS.find((s) => s.kind === 'command' && s.args?.some((arg) => arg.dashWords) && s.path.every((word, n) => positional[n] !== undefined && words[positional[n] as number] === word));
  const verbAt = spec && positional[spec.path.length - 1];
  if (verbAt === undefined || words.includes('--')) return [...words];
  const options: string[] = [];
  const rest: string[] = [];
  let dashValue = false;
  let valueNext = false;
  for (let i = verbAt + 1; i < words.length; i++) {
    const word = words[i] as string;
    if (valueNext) {
      rest.push(word);
      dashValue ||= word.startsWith('-');
      valueNext = false;
    } else if (word.startsWith('-') && word !== '-') {
      options.push(word);
      if (derived.valueOptions.has(word) && i + 1 < words.length) options.push(words[++i] as string);
    } else {
      rest.push(word);
      valueNext = VALUE_WORDS.has(word);
    }
  }
  return dashValue ? [...words.slice(0, verbAt + 1), ...options, '--', ...rest] : [...words];
}

export function reorderWords(argv: readonly string[]): string[] {
  return protectDashValues(reorderTarget(argv));
}

function reorderTarget(argv: readonly string[]): string[] {
  derived ??= grammar(SPECS);
  const { nouns } = derived;
  const words = [...argv];
  const nounAt = nextWord(words, 0);
  const nounName = nounAt < 0 ? undefined : (words[nounAt] as string);
  const noun = nounName === undefined ? undefined : nouns.get(nounName);
  if (!noun) return words;
  const nameAt = nextWord(words, nounAt + 1);
  if (nameAt < 0) return words;
  const name = words[nameAt] as string;
  if (noun.verbs.has(name)) return words;
  const groupAt = nextWord(words, nameAt + 1);
  const group = groupAt < 0 ? undefined : words[groupAt];
  if (group === undefined || !noun.groups.includes(group)) {
    const expected = noun.groups.map((g) => `'${g}'`).join(' or ');
    const found = group === undefined ? 'nothing' : `'${group}'`;
    throw new UsageError(`Expected ${expected} after '${nounName} ${name}', found ${found}. See 'calicoctl ${nounName} --help'.`);
  }
  const verbAt = nextWord(words, groupAt + 1);
  words.splice(nameAt, 1); // indexes after nameAt shift down by one
  if (verbAt < 0) return words; // `profile P rule`: show the group's help or a missing-verb error
  words.splice(verbAt, 0, name);
  return words;
}
