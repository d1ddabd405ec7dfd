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

export function reorderWords(argv: readonly string[]): string[] {
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
