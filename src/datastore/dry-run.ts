import type { KeyValue, KvOperation, KvStore, RangeResult, RevisionGuard } from './kv';

/**
 * A KvStore for `--dry-run`: reads go to etcd, writes are described instead of made. Each commit
 * whose guards hold "succeeds", so a command runs its normal course and reports what it would have done.
 */
export class DryRunKvStore implements KvStore {
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
      if (op.type === 'put') this.describe(`Would set ${op.key} to ${op.value}`);
      else if (op.type === 'delete') this.describe(`Would delete ${op.key}`);
      else this.describe(`Would delete every key under ${op.prefix}`);
    }
    return true;
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
