import type { KeyValue, KvOperation, KvStore, RangeResult, RevisionGuard } from './kv';

/**
 * A KvStore for `--dry-run`: reads go to etcd, writes are described instead of made. Each commit
 * whose guards hold "succeeds", so a command runs its normal course and reports what it would have done.
 */
export class DryRunKvStore implements KvStore {
  /** Every write described so far, in order: what etcd would hold is etcd as it is, plus these. */
  private readonly described: KvOperation[] = [];

  constructor(
    private readonly inner: KvStore,
    private readonly describe: (line: string) => void,
  ) {}

  get(key: string): Promise<KeyValue | undefined> {
    return this.inner.get(key);
  }

  getPrefix(prefix: string): Promise<RangeResult> {
    return this.inner.getPrefix(prefix);
  }

  async commit(guards: readonly RevisionGuard[], operations: readonly KvOperation[]): Promise<boolean> {
    // The guards are checked against etcd as it is, so that a write that would be refused (a
    // profile that exists already, a lost race) is reported as refused, and not described.
    for (const guard of guards) if (!(await this.holds(guard))) return false;
    for (const op of operations) {
      this.described.push(op);
      if (op.type === 'put') this.describe(`Would set ${op.key} to ${op.value}`);
      else if (op.type === 'delete') this.describe(`Would delete ${op.key}`);
      else this.describe(`Would delete every key under ${op.prefix}`);
    }
    return true;
  }

  /** Whether any write was described. */
  get wrote(): boolean {
    return this.described.length > 0;
  }

  /** etcd as it is, untouched by the described writes (what a preview compares against). */
  get current(): KvStore {
    return this.inner;
  }

  /** A read-only view of etcd as it would be after the writes described so far. */
  afterWrites(): KvStore {
    const writes = [...this.described];
    const inner = this.inner;
    const view: KvStore = {
      get: async (key) => (await view.getPrefix(key)).kvs.find((kv) => kv.key === key),
      getPrefix: async (prefix) => {
        const range = await inner.getPrefix(prefix);
        return { revision: range.revision, kvs: applyWrites(range.kvs, writes, prefix) };
      },
      commit: () => Promise.reject(new Error('the view of a dry run is read-only')),
      serverVersion: () => inner.serverVersion(),
      close: () => undefined,
    };
    return view;
  }

  private async holds(guard: RevisionGuard): Promise<boolean> {
    if ('key' in guard) return ((await this.inner.get(guard.key))?.modRevision ?? 0) === guard.modRevision;
    const { kvs } = await this.inner.getPrefix(guard.prefix);
    return kvs.every((kv) => kv.modRevision <= guard.unchangedSince);
  }

  serverVersion(): Promise<string> {
    return this.inner.serverVersion();
  }

  close(): void {
    this.inner.close();
  }
}

/** The keys under `prefix` after the writes, sorted by key as etcd returns them. */
export function applyWrites(kvs: readonly KeyValue[], writes: readonly KvOperation[], prefix: string): KeyValue[] {
  const byKey = new Map(kvs.map((kv) => [kv.key, kv]));
  for (const op of writes) {
    if (op.type === 'put') {
      if (op.key.startsWith(prefix)) byKey.set(op.key, { key: op.key, value: op.value, modRevision: (byKey.get(op.key)?.modRevision ?? 0) + 1 });
    } else if (op.type === 'delete') byKey.delete(op.key);
    else for (const key of [...byKey.keys()]) if (key.startsWith(op.prefix)) byKey.delete(key);
  }
  return [...byKey.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}
