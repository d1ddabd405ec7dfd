import { UsageError } from './errors';

/**
 * Commander cannot put an argument between command words (`profile <PROFILE> rule add …`), so the
 * words are reordered before parsing: `profile P rule add …` becomes `profile rule add P …`. As in
 * the original, a profile named like a `profile` verb (show, add, remove, …) cannot be addressed.
 */
const PROFILE_VERBS = new Set(['show', 'add', 'remove', 'help', 'rule', 'tag']);
const GROUPS = new Set(['rule', 'tag']);

/** Root options that take a value as the next word, so the scan can step over it. */
const VALUE_OPTIONS = new Set(['--at', '--timeout', '-c', '--config', '-l', '--log-level', '-o', '--output']);

export function reorderProfileWords(argv: readonly string[]): string[] {
  const words = [...argv];
  const profileAt = nextWord(words, 0);
  if (profileAt < 0 || words[profileAt] !== 'profile') return words;
  const nameAt = nextWord(words, profileAt + 1);
  if (nameAt < 0) return words;
  const name = words[nameAt] as string;
  if (PROFILE_VERBS.has(name)) return words;
  const groupAt = nextWord(words, nameAt + 1);
  const group = groupAt < 0 ? undefined : words[groupAt];
  if (group === undefined || !GROUPS.has(group)) {
    const found = group === undefined ? 'nothing' : `'${group}'`;
    throw new UsageError(`Expected 'rule' or 'tag' after 'profile ${name}', found ${found}. See 'calicoctl profile --help'.`);
  }
  const verbAt = nextWord(words, groupAt + 1);
  words.splice(nameAt, 1); // indexes after nameAt shift down by one
  if (verbAt < 0) return words; // `profile P rule`: show the group's help or a missing-verb error
  words.splice(verbAt, 0, name);
  return words;
}

function nextWord(words: readonly string[], from: number): number {
  for (let i = from; i < words.length; i++) {
    const word = words[i] as string;
    if (word === '--') return -1;
    if (!word.startsWith('-') || word === '-') return i;
    if (VALUE_OPTIONS.has(word)) i++;
  }
  return -1;
}
