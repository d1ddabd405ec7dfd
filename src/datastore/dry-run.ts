import type { KeyValue, KvOperation, KvStore, RangeResult, RevisionGuard } from './kv';

/**
 * A KvStore for `--dry-run`: reads go to etcd, writes are described instead of made. Each commit
 * "succeeds", so a command runs its normal course and reports what it would have done.
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

  async commit(_guards: readonly RevisionGuard[], operations: readonly KvOperation[]): Promise<boolean> {
    for (const op of operations) {
      if (op.type === 'put') this.describe(`Would set ${op.key} to ${op.value}`);
      else if (op.type === 'delete') this.describe(`Would delete ${op.key}`);
      else this.describe(`Would delete every key under ${op.prefix}`);
    }
    return true;
  }

  serverVersion(): Promise<string> {
    return this.inner.serverVersion();
  }

  close(): void {
    this.inner.close();
  }
}
