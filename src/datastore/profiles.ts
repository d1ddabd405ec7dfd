import { ruleSetFromV1, RuleDecodeError, ruleSetToV1 } from '../policy/codec';
import type { RuleSet } from '../policy/ast';
import { decodeEndpoint } from './endpoints';
import { CorruptDataError, type CorruptReporter, decodeEach, NotFoundError, parseStored, warnOnStderr } from './errors';
import * as keys from './keys';
import type { KeyValue, KvStore } from './kv';
import { RETRY, untilCommitted } from './retry';

export interface Profile {
  readonly id: string;
  readonly tags: readonly string[];
  readonly rules: RuleSet;
  readonly labels: Readonly<Record<string, string>>;
}

/** What `profile add` and the network driver create: members accept traffic only from each other. */
export function defaultProfileContent(id: string): Omit<Profile, 'id'> {
  return {
    tags: [id],
    rules: { inbound: [{ protocol: 'any', action: 'allow', from: { tag: id }, to: {} }], outbound: [{ protocol: 'any', action: 'allow', from: {}, to: {} }] },
    labels: {},
  };
}

/** The outcome of an edit: the new value to write (omitted: write nothing) and what to report. */
export interface Edit<V, R> {
  readonly value?: V;
  readonly result: R;
}

/**
 * Profiles, each stored as three keys (keys.profileKey: tags, rules, labels). Every change is a
 * compare-and-swap on the revision of the key it read, retried when another writer got there
 * first, so concurrent edits never lose an update.
 */
export class ProfileStore {
  constructor(
    private readonly kv: KvStore,
    private readonly report: CorruptReporter = warnOnStderr,
  ) {}

  async list(): Promise<string[]> {
    const { kvs } = await this.kv.getPrefix(keys.PROFILES);
    const ids = new Set<string>();
    for (const kv of kvs) {
      const parsed = keys.parseProfileKey(kv.key);
      if (parsed) ids.add(parsed.id);
    }
    return [...ids];
  }

  /** Every profile, decoded, from one read. A profile with a value that does not decode is reported and skipped. */
  async listAll(): Promise<Profile[]> {
    const { kvs } = await this.kv.getPrefix(keys.PROFILES);
    const byId = new Map<string, Map<string, KeyValue>>();
    for (const kv of kvs) {
      const parsed = keys.parseProfileKey(kv.key);
      if (parsed) byId.set(parsed.id, (byId.get(parsed.id) ?? new Map()).set(kv.key, kv));
    }
    return decodeEach([...byId].map(([id, snapshot]) => ({ key: keys.profileDir(id), id, snapshot })), ({ id, snapshot }) => decodeProfile(id, snapshot), this.report);
  }

  async get(id: string): Promise<Profile | undefined> {
    const snapshot = await this.read(id);
    return snapshot && decodeProfile(id, snapshot);
  }

  /** Creates the profile unless any key of it exists. Resolves false when it already existed. */
  async create(id: string, content: Omit<Profile, 'id'> = defaultProfileContent(id)): Promise<boolean> {
    const leaves = [keys.profileTags(id), keys.profileRules(id), keys.profileLabels(id)];
    const created = await this.kv.commit(
      leaves.map((key) => ({ key, modRevision: 0 })),
      [
        { type: 'put', key: keys.profileTags(id), value: JSON.stringify(content.tags) },
        { type: 'put', key: keys.profileRules(id), value: JSON.stringify(ruleSetToV1(content.rules)) },
        { type: 'put', key: keys.profileLabels(id), value: JSON.stringify(content.labels) },
      ],
    );
    if (created) return true;
    // A guard failed: either the profile exists, or only some stray key does; both mean "exists".
    return false;
  }

  /** Removes every key of the profile. Resolves false when there was nothing to remove. */
  async remove(id: string): Promise<boolean> {
    const snapshot = await this.read(id);
    if (!snapshot) return false;
    await this.kv.commit([], [{ type: 'deletePrefix', prefix: keys.profileDir(id) }]);
    return true;
  }

  /**
   * Removes the profile unless an endpoint (on any host) uses it, in one transaction: the endpoints
   * read must still be current when the delete commits, so an endpoint that joins the profile
   * meanwhile makes it check again instead of being left with a profile that is gone.
   */
  async removeUnused(id: string): Promise<'removed' | 'absent' | 'in-use'> {
    const dir = keys.profileDir(id);
    return untilCommitted(dir, async () => {
      const [profile, hosts] = await Promise.all([this.kv.getPrefix(dir), this.kv.getPrefix(keys.HOSTS)]);
      if (profile.kvs.length === 0) return 'absent';
      const endpoints = decodeEach(
        hosts.kvs,
        (kv) => {
          const key = keys.parseEndpointKey(kv.key);
          return key && decodeEndpoint(key, kv.key, kv.value);
        },
        this.report,
      );
      if (endpoints.some((endpoint) => endpoint.profileIds.includes(id))) return 'in-use';
      const committed = await this.kv.commit(
        [
          { prefix: dir, unchangedSince: profile.revision },
          { prefix: keys.HOSTS, unchangedSince: hosts.revision },
        ],
        [{ type: 'deletePrefix', prefix: dir }],
      );
      return committed ? 'removed' : RETRY;
    });
  }

  /** Read-modify-write of the rules. NotFoundError when the profile does not exist. */
  editRules<R>(id: string, edit: (rules: RuleSet, profile: Profile) => Edit<RuleSet, R>): Promise<R> {
    return this.modify(id, keys.profileRules(id), (profile) => {
      const outcome = edit(profile.rules, profile);
      return { result: outcome.result, value: outcome.value && JSON.stringify(ruleSetToV1(outcome.value)) };
    });
  }

  /** Read-modify-write of the tags. NotFoundError when the profile does not exist. */
  editTags<R>(id: string, edit: (tags: readonly string[], profile: Profile) => Edit<readonly string[], R>): Promise<R> {
    return this.modify(id, keys.profileTags(id), (profile) => {
      const outcome = edit(profile.tags, profile);
      return { result: outcome.result, value: outcome.value && JSON.stringify(outcome.value) };
    });
  }

  private async modify<R>(id: string, key: string, edit: (profile: Profile) => Edit<string, R>): Promise<R> {
    const { result } = await untilCommitted(key, async () => {
      const snapshot = await this.read(id);
      if (!snapshot) throw new NotFoundError('profile', id, `Profile ${id} not found.`);
      const outcome = edit(decodeProfile(id, snapshot));
      if (outcome.value === undefined) return { result: outcome.result };
      // Guarding the key we rewrite is enough: deleting the profile changes its revision too.
      const modRevision = snapshot.get(key)?.modRevision ?? 0;
      const committed = await this.kv.commit([{ key, modRevision }], [{ type: 'put', key, value: outcome.value }]);
      return committed ? { result: outcome.result } : RETRY;
    });
    return result;
  }

  private async read(id: string): Promise<Map<string, KeyValue> | undefined> {
    const { kvs } = await this.kv.getPrefix(keys.profileDir(id));
    if (kvs.length === 0) return undefined;
    return new Map(kvs.map((kv) => [kv.key, kv]));
  }
}

function decodeProfile(id: string, snapshot: Map<string, KeyValue>): Profile {
  return {
    id,
    tags: decodeTags(snapshot.get(keys.profileTags(id))),
    rules: decodeRules(snapshot.get(keys.profileRules(id))),
    labels: decodeLabels(snapshot.get(keys.profileLabels(id))),
  };
}

export function decodeRules(kv: KeyValue | undefined): RuleSet {
  if (!kv) return { inbound: [], outbound: [] };
  const document = parseStored(kv.key, kv.value);
  try {
    return ruleSetFromV1(document);
  } catch (error) {
    if (error instanceof RuleDecodeError) throw new CorruptDataError(kv.key, error.message);
    throw error;
  }
}

export function decodeTags(kv: KeyValue | undefined): string[] {
  if (!kv) return [];
  const tags = parseStored(kv.key, kv.value);
  if (!Array.isArray(tags) || !tags.every((tag) => typeof tag === 'string')) {
    throw new CorruptDataError(kv.key, 'expected a JSON list of tag names');
  }
  return tags;
}

export function decodeLabels(kv: KeyValue | undefined): Record<string, string> {
  if (!kv) return {};
  const labels = parseStored(kv.key, kv.value);
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) {
    throw new CorruptDataError(kv.key, 'expected a JSON object of labels');
  }
  return labels as Record<string, string>;
}

