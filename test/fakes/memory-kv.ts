import type { KeyValue, KvOperation, KvStore, RangeResult, RevisionGuard } from '../../src/datastore/kv';

/** An in-memory etcd keyspace with revisions and transactions, for tests that need no server. */
export class MemoryKvStore implements KvStore {
  private revision = 1;
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
    for (const op of operations) {
      if (op.type === 'put') this.data.set(op.key, { value: op.value, modRevision: this.revision });
      else if (op.type === 'delete') this.data.delete(op.key);
      else for (const key of [...this.data.keys()]) if (key.startsWith(op.prefix)) this.data.delete(key);
    }
    return true;
  }

  async serverVersion(): Promise<string> {
    this.check();
    return '3.4.0-memory';
  }

  close(): void {}

  /** Stores a value directly, as another tool writing to etcd would. */
  seed(key: string, value: unknown): void {
    this.revision++;
    this.data.set(key, { value: typeof value === 'string' ? value : JSON.stringify(value), modRevision: this.revision });
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
