import type { KeyValue, KvOperation, RangeResult, RevisionGuard, WatchableKvStore, WatchEvent, WatchHandle, WatchListener } from '../../src/datastore/kv';

interface MemoryWatch {
  readonly prefix: string;
  readonly listener: WatchListener;
  live: boolean;
}

/**
 * An in-memory etcd keyspace with revisions, transactions and watches, for tests that need no
 * server. Watches replay the history from their start revision, then follow new commits; the
 * history can be compacted and every watch dropped, as etcd and a broken stream would.
 */
export class MemoryKvStore implements WatchableKvStore {
  private revision = 1;
  private readonly history: WatchEvent[] = [];
  private compactedTo = 0;
  private readonly watches = new Set<MemoryWatch>();
  readonly data = new Map<string, { value: string; modRevision: number }>();
  /** Set to make every call fail, as an unreachable etcd would. */
  failWith: Error | undefined;
  /** Counts commits, to check that failed commands wrote nothing. */
  commits = 0;

  async get(key: string): Promise<KeyValue | undefined> {
    this.check();
    const entry = this.data.get(key);
    return entry && { key, ...entry };
  }

  async getPrefix(prefix: string): Promise<RangeResult> {
    this.check();
    const kvs = [...this.data.entries()]
      .filter(([key]) => key.startsWith(prefix))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, entry]) => ({ key, ...entry }));
    return { kvs, revision: this.revision };
  }

  async commit(guards: readonly RevisionGuard[], operations: readonly KvOperation[]): Promise<boolean> {
    this.check();
    const holds = (guard: RevisionGuard): boolean =>
      'key' in guard
        ? (this.data.get(guard.key)?.modRevision ?? 0) === guard.modRevision
        : [...this.data.entries()].every(([key, entry]) => !key.startsWith(guard.prefix) || entry.modRevision <= guard.unchangedSince);
    if (!guards.every(holds)) return false;
    this.revision++;
    this.commits++;
    const events: WatchEvent[] = [];
    const remove = (key: string) => {
      if (this.data.delete(key)) events.push({ key, value: undefined, modRevision: this.revision });
    };
    for (const op of operations) {
      if (op.type === 'put') {
        this.data.set(op.key, { value: op.value, modRevision: this.revision });
        events.push({ key: op.key, value: op.value, modRevision: this.revision });
      } else if (op.type === 'delete') remove(op.key);
      else for (const key of [...this.data.keys()]) if (key.startsWith(op.prefix)) remove(key);
    }
    this.publish(events);
    return true;
  }

  watchPrefix(prefix: string, fromRevision: number, listener: WatchListener): WatchHandle {
    const watch: MemoryWatch = { prefix, listener, live: false };
    this.watches.add(watch);
    queueMicrotask(() => {
      if (!this.watches.has(watch)) return;
      if (this.failWith) return this.end(watch, false, this.failWith);
      if (fromRevision <= this.compactedTo) return this.end(watch, true, new Error(`compacted up to revision ${this.compactedTo}`));
      listener.created?.();
      const backlog = this.history.filter((event) => event.modRevision >= fromRevision && event.key.startsWith(prefix));
      watch.live = true;
      if (backlog.length > 0) listener.events(backlog);
    });
    return { cancel: () => void this.watches.delete(watch) };
  }

  /** Forgets history up to and including `revision`, as `etcdctl compact` does. */
  compact(revision = this.revision): void {
    this.compactedTo = revision;
    this.history.splice(0, this.history.length, ...this.history.filter((event) => event.modRevision > revision));
  }

  /** Ends every watch as a lost stream would (they do not resume by themselves). */
  dropWatches(error = new Error('stream lost')): void {
    for (const watch of [...this.watches]) this.end(watch, false, error);
  }

  /** How many watches are open. */
  get watchCount(): number {
    return this.watches.size;
  }

  get currentRevision(): number {
    return this.revision;
  }

  private end(watch: MemoryWatch, compacted: boolean, error: Error): void {
    if (!this.watches.delete(watch)) return;
    watch.listener.ended({ compacted, error });
  }

  private publish(events: readonly WatchEvent[]): void {
    this.history.push(...events);
    for (const watch of this.watches) {
      if (!watch.live) continue;
      const mine = events.filter((event) => event.key.startsWith(watch.prefix));
      if (mine.length > 0) watch.listener.events(mine);
    }
  }

  async serverVersion(): Promise<string> {
    this.check();
    return '3.4.0-memory';
  }

  close(): void {}

  /** Stores a value directly, as another tool writing to etcd would. */
  seed(key: string, value: unknown): void {
    this.revision++;
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    this.data.set(key, { value: text, modRevision: this.revision });
    this.publish([{ key, value: text, modRevision: this.revision }]);
  }

  dump(): Record<string, unknown> {
    return Object.fromEntries([...this.data.entries()].map(([key, { value }]) => [key, safeParse(value)]));
  }

  private check(): void {
    if (this.failWith) throw this.failWith;
  }
}

function safeParse(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}
