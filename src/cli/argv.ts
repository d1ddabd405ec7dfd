import { UsageError } from './errors';

/**
 * Commander cannot put an argument between command words (`profile <PROFILE> rule add …`), so the
 * words are reordered before parsing: `profile P rule add …` becomes `profile rule add P …`, and
 * `endpoint E profile append …` becomes `endpoint profile append E …`. As in the original, a
 * profile named like a verb (show, add, remove, …) cannot be addressed this way.
 */
const NOUNS: Record<string, { readonly verbs: ReadonlySet<string>; readonly groups: ReadonlySet<string>; readonly name: string }> = {
  profile: { verbs: new Set(['show', 'add', 'remove', 'help', 'rule', 'tag']), groups: new Set(['rule', 'tag']), name: 'profile' },
  endpoint: { verbs: new Set(['show', 'help', 'profile']), groups: new Set(['profile']), name: 'endpoint' },
};

/** Root options that take a value as the next word, so the scan can step over it. */
const VALUE_OPTIONS = new Set(['--at', '--timeout', '-c', '--config', '-l', '--log-level', '-o', '--output', '--host', '--orchestrator', '--workload']);

export function reorderWords(argv: readonly string[]): string[] {
  const words = [...argv];
  const nounAt = nextWord(words, 0);
  const noun = nounAt < 0 ? undefined : NOUNS[words[nounAt] as string];
  if (!noun) return words;
  const nameAt = nextWord(words, nounAt + 1);
  if (nameAt < 0) return words;
  const name = words[nameAt] as string;
  if (noun.verbs.has(name)) return words;
  const groupAt = nextWord(words, nameAt + 1);
  const group = groupAt < 0 ? undefined : words[groupAt];
  if (group === undefined || !noun.groups.has(group)) {
    const expected = [...noun.groups].map((g) => `'${g}'`).join(' or ');
    const found = group === undefined ? 'nothing' : `'${group}'`;
    throw new UsageError(`Expected ${expected} after '${noun.name} ${name}', found ${found}. See 'calicoctl ${noun.name} --help'.`);
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
