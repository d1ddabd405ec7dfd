import fc from 'fast-check';

/**
 * Shared pieces of the property tests that feed hostile input to the CLI, the plugin and the agent.
 *
 * fast-check prints the seed and path of a failing run; `SEED=<n> npx jest …` replays that run
 * (every property of the run uses the same seed, so the failing one sees the same cases), and
 * `FUZZ_RUNS=<factor>` multiplies the number of cases for a longer local hunt.
 *
 * Under CI (`CI=true`, as .ci/run sets it) the seed is fixed unless SEED is given: a run there
 * must pass or fail on the commit alone, not on the cases a clock picked. Local runs draw a fresh
 * seed each time and are where new bugs are found (then pinned as regression tests).
 */
const CI_SEED = 20261202;
const SEED = process.env.SEED !== undefined && process.env.SEED !== '' ? Number(process.env.SEED) : process.env.CI === 'true' ? CI_SEED : undefined;
const FACTOR = Number(process.env.FUZZ_RUNS ?? '1') || 1;

export function fuzzParams<T>(numRuns: number): fc.Parameters<T> {
  return { numRuns: Math.max(1, Math.round(numRuns * FACTOR)), ...(SEED !== undefined && Number.isFinite(SEED) && { seed: SEED }) };
}

/** Characters that break something somewhere: shells, iptables words, JSON, terminals, BIRD's grammar, keys. */
const NASTY_CHARS = [
  ' ', '\t', '\n', '\r', '\0', '\x1b', '\x07', '\x7f', '\u0085', '\u202e', '\u2066', '"', "'", '`', '\\', ';', '&', '|', '$', '(', ')',
  '{', '}', '[', ']', '<', '>', '*', '?', '!', '#', '%', '/', ':', ',', '=', '+', '-', '_', '.', '~', 'é', 'ß', 'Ω', '漢', '🙂',
];

const NASTY_WORDS = [
  '', ' ', '-', '--', '-j', '-j ACCEPT', '-A FORWARD -j ACCEPT', '; rm -rf /', '$(reboot)', '`id`', '"; } protocol bgp x {', '}',
  'a b', 'a;b', 'a\nb', '\x1b[2J\x1b[H', '\x1b]0;pwned\x07', '..', '.', '/', '../..', '0.0.0.0/0', '::/0', '0/0', '::', '0.0.0.0',
  '10.0.0.0/8', '1.2.3.4', 'fd00::1', '__proto__', 'constructor', 'toString', 'null', 'true', '[]', '{}', 'cali', 'cali-FORWARD',
  'cali+', 'caliXXXXXXXXXXXXXXXXX', 'eth0', 'lo', 'EE:EE:EE:EE:EE:EE', 'ÄÖÜ', '\u202eevil', 'x'.repeat(300), 'x'.repeat(10_000),
];

/** A hostile string: plain names, names made of nasty characters, very long ones, non-ASCII, wide prefixes. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...NASTY_WORDS) },
  { weight: 3, arbitrary: fc.string({ unit: fc.oneof(fc.constantFrom(...NASTY_CHARS), fc.constantFrom(...'abcXYZ019')), maxLength: 24 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 12 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
  { weight: 2, arbitrary: fc.stringMatching(/^[a-zA-Z0-9_.-]{1,40}$/) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 12 }).map((n) => 'é🙂'.repeat(n * 100)) },
);

/** A hostile JSON value: a string, a wrong type, or a nested mess. */
export const hostileJson: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: hostileString },
  { weight: 1, arbitrary: fc.constantFrom(null, true, false, 0, -1, 1e308, 1.5, 65536, 2 ** 53, [], {}) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  { weight: 1, arbitrary: fc.array(hostileString, { maxLength: 3 }) },
);

/** Sometimes the value itself, sometimes a hostile replacement. */
export function sometimesHostile<T>(value: fc.Arbitrary<T>): fc.Arbitrary<T | unknown> {
  return fc.oneof({ weight: 2, arbitrary: value }, { weight: 1, arbitrary: hostileJson });
}

/** A JSON object with some fields replaced by hostile values, some removed, and some junk ones added. */
export function mangledObject(base: Record<string, unknown>): fc.Arbitrary<Record<string, unknown>> {
  const fields = Object.keys(base);
  const field = fields.length > 0 ? fc.constantFrom(...fields) : hostileString;
  return fc
    .tuple(
      fc.array(fc.tuple(field, hostileJson), { maxLength: 3 }),
      fc.subarray(fields, { maxLength: Math.min(2, fields.length) }),
      fc.array(fc.tuple(hostileString, hostileJson), { maxLength: 1 }),
    )
    .map(([replace, drop, extra]) => {
      const out: Record<string, unknown> = { ...base };
      for (const [name, value] of replace) if (name !== '__proto__') out[name] = value;
      for (const field of drop) delete out[field];
      for (const [field, value] of extra) if (field !== '__proto__') out[field] = value;
      return out;
    });
}

/** Text for a stored value: the object as JSON, or plain garbage. */
export function storedText(value: fc.Arbitrary<unknown>): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 5, arbitrary: value.map((v) => JSON.stringify(v) ?? 'undefined') },
    { weight: 1, arbitrary: hostileString },
    { weight: 1, arbitrary: fc.constantFrom('{', '{"a":', '[1,', 'nul', '\u0000', '{"cidr": "10.0.0.0/8",}') },
  );
}

/** No C0/C1 control character other than the newline: what a terminal may safely be given. */
// eslint-disable-next-line no-control-regex
export const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;
