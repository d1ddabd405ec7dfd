import type { IpVersion, RuleSet } from '../policy/ast';
import { type BgpUpdate, decodeBgpKey } from './bgp';
import { addressesIgnored, decodeEndpoint, type Endpoint } from './endpoints';
import { CorruptDataError, type CorruptReporter, reportOnce } from './errors';
import { decodeHostIp } from './hosts';
import * as keys from './keys';
import type { WatchableKvStore, WatchEvent, WatchHandle } from './kv';
import { decodePool, type Pool } from './pools';
import { decodeLabels, decodeRules, decodeTags } from './profiles';

/**
 * What the agent learns from the datastore, decoded. `undefined` means the item is gone, or that
 * its stored value does not decode (which is logged once, with its key, and then treated as if
 * the key were absent). The one exception is a profile's rules: rules that do not decode are
 * 'undecodable', so that the dataplane can make the profile drop everything instead.
 */
export type DatastoreUpdate =
  | { readonly kind: 'ready'; readonly ready: boolean }
  | { readonly kind: 'config'; readonly name: string; readonly value: string | undefined }
  | { readonly kind: 'hostConfig'; readonly hostname: string; readonly name: string; readonly value: string | undefined }
  | { readonly kind: 'hostIp'; readonly hostname: string; readonly ipv4: string | undefined }
  | { readonly kind: 'profileTags'; readonly id: string; readonly tags: readonly string[] | undefined }
  | { readonly kind: 'profileRules'; readonly id: string; readonly rules: RuleSet | 'undecodable' | undefined }
  | { readonly kind: 'profileLabels'; readonly id: string; readonly labels: Readonly<Record<string, string>> | undefined }
  | { readonly kind: 'endpoint'; readonly key: keys.EndpointKey; readonly endpoint: Endpoint | undefined }
  | { readonly kind: 'pool'; readonly version: IpVersion; readonly name: string; readonly pool: Pool | undefined }
  | BgpUpdate;

/** The prefixes calico-node follows: the v1 model, BGP settings, and hosts' claims on address blocks. */
export const AGENT_PREFIX = '/calico/';

/** What a key means to the agent: how to decode its value, and what its absence is. */
interface KeyMeaning {
  /** `skipped` hears of parts of a value that were dropped while the rest is used, and what became of them. */
  decode(value: string, skipped: (error: CorruptDataError, consequence: string) => void): DatastoreUpdate;
  absent(): DatastoreUpdate;
  /** Said after the problem when the value does not decode. */
  consequence: string;
  /** For rules: what a value that does not decode becomes (default: absent). */
  undecodable?(): DatastoreUpdate;
}

/** The keys the agent follows; every other key is ignored. BGP settings would be added here. */
function meaning(key: string): KeyMeaning | undefined {
  if (key === keys.READY) return { decode: (value) => ({ kind: 'ready', ready: value === 'true' }), absent: () => ({ kind: 'ready', ready: false }), consequence: '' };
  const config = keys.parseGlobalConfigKey(key);
  if (config !== undefined) {
    return { decode: (value) => ({ kind: 'config', name: config, value }), absent: () => ({ kind: 'config', name: config, value: undefined }), consequence: '' };
  }
  const profile = keys.parseProfileKey(key);
  if (profile) {
    const { id } = profile;
    const kv = (value: string) => ({ key, value, modRevision: 0 });
    switch (profile.leaf) {
      case 'tags':
        return { decode: (value) => ({ kind: 'profileTags', id, tags: decodeTags(kv(value)) }), absent: () => ({ kind: 'profileTags', id, tags: undefined }), consequence: 'the profile has no tags until it is fixed' };
      case 'rules':
        return {
          decode: (value) => ({ kind: 'profileRules', id, rules: decodeRules(kv(value)) }),
          absent: () => ({ kind: 'profileRules', id, rules: undefined }),
          undecodable: () => ({ kind: 'profileRules', id, rules: 'undecodable' }),
          consequence: 'the profile drops all traffic until it is fixed',
        };
      case 'labels':
        return { decode: (value) => ({ kind: 'profileLabels', id, labels: decodeLabels(kv(value)) }), absent: () => ({ kind: 'profileLabels', id, labels: undefined }), consequence: 'the profile has no labels until it is fixed' };
      default:
        return undefined;
    }
  }
  const endpoint = keys.parseEndpointKey(key);
  if (endpoint) {
    return {
      decode: (value, skipped) => ({ kind: 'endpoint', key: endpoint, endpoint: decodeEndpoint(endpoint, key, value, (error, count) => skipped(error, addressesIgnored(count, ' until it is fixed'))) }),
      absent: () => ({ kind: 'endpoint', key: endpoint, endpoint: undefined }),
      consequence: 'the endpoint is ignored until it is fixed',
    };
  }
  const host = keys.parseHostKey(key);
  if (host) {
    const { hostname } = host;
    if ('birdIp' in host) {
      return { decode: (value) => ({ kind: 'hostIp', hostname, ipv4: decodeHostIp(key, value, 4) || undefined }), absent: () => ({ kind: 'hostIp', hostname, ipv4: undefined }), consequence: 'the host has no address until it is fixed' };
    }
    const name = host.config;
    return { decode: (value) => ({ kind: 'hostConfig', hostname, name, value }), absent: () => ({ kind: 'hostConfig', hostname, name, value: undefined }), consequence: '' };
  }
  const bgp = decodeBgpKey(key, undefined);
  if (bgp) {
    return { decode: (value) => decodeBgpValue(key, value), absent: () => bgp, consequence: 'the setting is ignored until it is fixed' };
  }
  const pool = keys.parsePoolKey(key);
  if (pool) {
    const { version, name } = pool;
    return { decode: (value) => ({ kind: 'pool', version, name, pool: decodePool(key, value) }), absent: () => ({ kind: 'pool', version, name, pool: undefined }), consequence: 'the pool is ignored until it is fixed' };
  }
  return undefined;
}

/** A BGP setting's value, or CorruptDataError when it is not what the model allows. */
function decodeBgpValue(key: string, value: string): DatastoreUpdate {
  const update = decodeBgpKey(key, value) as BgpUpdate;
  const bad =
    (update.kind === 'bgpPeer' && update.peer === undefined) ||
    ((update.kind === 'bgpDefaultAs' || update.kind === 'bgpHostAs') && update.asNum === undefined) ||
    (update.kind === 'bgpHostIp' && value !== '' && update.ip === undefined);
  if (bad) throw new CorruptDataError(key, update.kind === 'bgpPeer' ? 'expected {"ip": <address>, "as_num": <AS number>}' : update.kind === 'bgpHostIp' ? 'not an address of that IP version' : 'not an AS number');
  return update;
}

/**
 * Turns raw keys into typed updates, and remembers the raw value of each key it delivered, so that
 * a fresh snapshot yields only what changed (deletions included) and an unchanged value yields
 * nothing. A value that does not decode is reported when it is first met (again only once the key
 * held something else). Pure: no I/O.
 */
export class UpdateDecoder {
  private readonly delivered = new Map<string, string>();
  private readonly reported = new Map<string, string>();

  constructor(private readonly report: CorruptReporter) {}

  /** A full read of the prefix: updates for every key that changed since the last delivery, or vanished. */
  snapshot(kvs: readonly { readonly key: string; readonly value: string }[]): DatastoreUpdate[] {
    const present = new Set<string>();
    const updates: DatastoreUpdate[] = [];
    for (const kv of kvs) {
      present.add(kv.key);
      this.push(updates, kv.key, kv.value);
    }
    for (const key of [...this.delivered.keys()]) if (!present.has(key)) this.push(updates, key, undefined);
    return updates;
  }

  /** Changes from a watch, in order. */
  changes(events: readonly Pick<WatchEvent, 'key' | 'value'>[]): DatastoreUpdate[] {
    const updates: DatastoreUpdate[] = [];
    for (const event of events) this.push(updates, event.key, event.value);
    return updates;
  }

  private push(updates: DatastoreUpdate[], key: string, value: string | undefined): void {
    if (value === undefined ? !this.delivered.has(key) : this.delivered.get(key) === value) return;
    const known = meaning(key);
    if (!known) return;
    if (value === undefined) {
      this.delivered.delete(key);
      this.reported.delete(key);
      updates.push(known.absent());
      return;
    }
    this.delivered.set(key, value);
    const fresh = this.reported.get(key) !== value;
    const problems: { error: CorruptDataError; consequence: string }[] = [];
    try {
      updates.push(known.decode(value, (error, consequence) => problems.push({ error, consequence })));
    } catch (error) {
      if (!(error instanceof CorruptDataError)) throw error;
      if (fresh) this.report(error, known.consequence);
      this.reported.set(key, value);
      updates.push(known.undecodable?.() ?? known.absent());
      return;
    }
    if (problems.length === 0) this.reported.delete(key);
    else {
      if (fresh) for (const { error, consequence } of problems) this.report(error, consequence);
      this.reported.set(key, value);
    }
  }
}

/** Where the syncer delivers: a first (or fresh) snapshot's changes, then each batch of changes. */
export interface SyncTarget {
  resync(updates: readonly DatastoreUpdate[]): void;
  update(updates: readonly DatastoreUpdate[]): void;
}

export interface SyncLog {
  debug(message: string): void;
  info(message: string): void;
  warning(message: string): void;
}

export interface SyncerOptions {
  /** The prefix followed (default: the whole v1 model). */
  readonly prefix?: string;
  /** Pause before re-creating a lost watch, by consecutive failure (default: 100 ms doubling to 2 s). */
  readonly rewatchDelayMs?: (failures: number) => number;
  /** Where values that do not decode are reported (default: the log, once each). */
  readonly report?: CorruptReporter;
  /** Pause before retrying a failed snapshot read, by attempt (default: 200 ms per attempt, at most 5 s). */
  readonly resnapshotDelayMs?: (attempt: number) => number;
}

/**
 * Follows the datastore for the agent: reads everything under the prefix at one revision, then
 * watches from the next one, so that every change after the snapshot arrives once and in order.
 * It tracks the last revision it delivered: a lost stream is re-created from the revision after
 * it, so no revision is ever skipped; when etcd has compacted that revision away (or the snapshot
 * read fails), it takes a fresh snapshot, and meanwhile the target keeps what it has (fail static).
 */
export class Syncer {
  private readonly decoder: UpdateDecoder;
  private readonly prefix: string;
  private watch: WatchHandle | undefined;
  private generation = 0;
  private stopped = false;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  private resyncing: Promise<void> | undefined;
  /** The last revision whose changes reached the target. */
  lastDelivered = 0;

  constructor(
    private readonly kv: WatchableKvStore,
    private readonly target: SyncTarget,
    private readonly log: SyncLog,
    private readonly options: SyncerOptions = {},
  ) {
    this.decoder = new UpdateDecoder(options.report ?? reportOnce((message) => log.warning(message)));
    this.prefix = options.prefix ?? keys.ROOT;
  }

  /** Resolves once the first snapshot was delivered and the watch requested. */
  start(): Promise<void> {
    return this.resync();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.dropWatch();
  }

  private dropWatch(): void {
    this.generation++;
    this.watch?.cancel();
    this.watch = undefined;
  }

  private resync(): Promise<void> {
    this.resyncing ??= this.snapshotAndWatch().finally(() => {
      this.resyncing = undefined;
    });
    return this.resyncing;
  }

  private async snapshotAndWatch(): Promise<void> {
    this.dropWatch();
    clearTimeout(this.timer);
    for (let attempt = 1; !this.stopped; attempt++) {
      try {
        const snapshot = await this.kv.getPrefix(this.prefix);
        if (this.stopped) return;
        this.target.resync(this.decoder.snapshot(snapshot.kvs));
        this.lastDelivered = snapshot.revision;
        this.log.info(`Synced ${snapshot.kvs.length} keys at revision ${snapshot.revision}; watching for changes`);
        this.openWatch();
        return;
      } catch (error) {
        this.log.warning(`Reading the datastore failed: ${(error as Error).message} Keeping the dataplane as it is; retrying (attempt ${attempt}).`);
        const delay = this.options.resnapshotDelayMs?.(attempt) ?? Math.min(5000, 200 * attempt);
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  private openWatch(): void {
    this.dropWatch();
    const generation = this.generation;
    const current = () => !this.stopped && generation === this.generation;
    const from = this.lastDelivered + 1;
    this.watch = this.kv.watchPrefix(this.prefix, from, {
      created: () => {
        if (!current()) return;
        this.failures = 0;
        this.log.debug(`etcd watch connected from revision ${from}`);
      },
      events: (events) => {
        if (!current()) return;
        const updates = this.decoder.changes(events);
        for (const event of events) this.lastDelivered = Math.max(this.lastDelivered, event.modRevision);
        if (updates.length > 0) this.target.update(updates);
      },
      ended: ({ compacted, error }) => {
        if (!current()) return;
        this.watch = undefined;
        if (compacted) {
          this.log.warning(`The etcd watch ended (${error.message}); taking a fresh snapshot`);
          void this.resync();
          return;
        }
        this.failures++;
        const delay = this.options.rewatchDelayMs?.(this.failures) ?? Math.min(2000, 100 * 2 ** (this.failures - 1));
        this.log.warning(`Lost the etcd watch (${error.message}); resuming from revision ${this.lastDelivered + 1} in ${delay} ms`);
        this.timer = setTimeout(() => {
          if (current()) this.openWatch();
        }, delay);
      },
    });
  }
}
