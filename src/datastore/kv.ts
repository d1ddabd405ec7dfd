/**
 * The part of etcd's v3 key-value API that Calico's data model needs. Two implementations exist:
 * a light one over etcd's JSON gateway for the CLI (fast start-up), and one over the etcd3 gRPC
 * client for the long-running agent (watch streams).
 */

export interface KeyValue {
  readonly key: string;
  readonly value: string;
  readonly modRevision: number;
}

export interface RangeResult {
  readonly kvs: readonly KeyValue[];
  /** The store's revision when the range was read. */
  readonly revision: number;
}

/**
 * A condition of a transaction. `{key, modRevision}` holds when the key was last modified at that
 * revision (0: the key must not exist). `{prefix, unchangedSince}` holds when no key under the
 * prefix was created or modified after that revision: a read of the whole prefix is still current
 * (deletions do not count, which suits checks that deleting can only make easier, such as overlaps).
 */
export type RevisionGuard =
  | { readonly key: string; readonly modRevision: number }
  | { readonly prefix: string; readonly unchangedSince: number };

export type KvOperation =
  | { readonly type: 'put'; readonly key: string; readonly value: string }
  | { readonly type: 'delete'; readonly key: string }
  | { readonly type: 'deletePrefix'; readonly prefix: string };

export interface KvStore {
  get(key: string): Promise<KeyValue | undefined>;
  /** Every key that starts with `prefix`, sorted by key. */
  getPrefix(prefix: string): Promise<RangeResult>;
  /** Applies all operations atomically if every guard holds. Resolves false (and writes nothing) otherwise. */
  commit(guards: readonly RevisionGuard[], operations: readonly KvOperation[]): Promise<boolean>;
  /** The etcd server's version, e.g. "3.4.23". */
  serverVersion(): Promise<string>;
  close(): void;
}

/** One change, as a watch reports it. */
export interface WatchEvent {
  readonly key: string;
  /** Undefined for a deletion. */
  readonly value: string | undefined;
  readonly modRevision: number;
}

export interface WatchListener {
  /** etcd accepted the watch (the catch-up events, if any, follow). */
  created?(): void;
  /** Every event of one or more whole revisions, in revision order. */
  events(events: readonly WatchEvent[]): void;
  /**
   * The watch is over and will not resume by itself: `compacted` when etcd no longer holds the
   * revision it was to start from (only a fresh read can catch up), otherwise the stream was lost.
   */
  ended(reason: { readonly compacted: boolean; readonly error: Error }): void;
}

export interface WatchHandle {
  cancel(): void;
}

/** A store that can also stream changes (the agent's; the CLI never watches). */
export interface WatchableKvStore extends KvStore {
  /** Streams every change under `prefix` from revision `fromRevision` (inclusive) until it ends or is cancelled. */
  watchPrefix(prefix: string, fromRevision: number, listener: WatchListener): WatchHandle;
}

/** The first key after every key that starts with `prefix` (etcd's range_end for a prefix). */
export function prefixEnd(prefix: string): Buffer {
  const bytes = Buffer.from(prefix);
  for (let i = bytes.length - 1; i >= 0; i--) {
    if ((bytes[i] as number) < 0xff) {
      const end = bytes.subarray(0, i + 1);
      end[i] = (end[i] as number) + 1;
      return end;
    }
  }
  return Buffer.from([0]);
}
