import type { Etcd3, Watcher } from 'etcd3';
import { ROOT } from '../datastore/keys';
import type { Etcd3KvStore } from '../datastore/etcd3-store';
import type { Logger } from './log';
import type { KeyUpdate } from './dataplane/model';

export interface SyncTarget {
  resync(snapshot: readonly KeyUpdate[]): void;
  update(updates: readonly KeyUpdate[]): void;
}

/**
 * Mirrors everything under /calico/v1/ into `target`: read it all at one revision, then watch from
 * the next revision, so every change after the snapshot arrives exactly once and in order. When
 * the watch cannot resume (history compacted, stream cancelled) or etcd is unreachable, it takes a
 * fresh snapshot; meanwhile the dataplane is left as it is (fail static).
 */
export class EtcdSync {
  private watcher: Watcher | undefined;
  private stopped = false;
  private resyncing: Promise<void> | undefined;

  constructor(
    private readonly kv: Etcd3KvStore,
    private readonly target: SyncTarget,
    private readonly log: Logger,
  ) {}

  start(): Promise<void> {
    return this.resync();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.dropWatcher();
  }

  /**
   * Cancels the current watcher, if any, without waiting on it for long: etcd3's cancel() waits
   * for the stream to acknowledge, which a watch etcd has already cancelled never does.
   */
  private async dropWatcher(): Promise<void> {
    const watcher = this.watcher;
    this.watcher = undefined;
    if (!watcher) return;
    watcher.removeAllListeners();
    await Promise.race([watcher.cancel().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
  }

  private resync(): Promise<void> {
    this.resyncing ??= this.snapshotAndWatch().finally(() => {
      this.resyncing = undefined;
    });
    return this.resyncing;
  }

  private async snapshotAndWatch(): Promise<void> {
    await this.dropWatcher();
    for (let attempt = 1; !this.stopped; attempt++) {
      try {
        const snapshot = await this.kv.getPrefix(ROOT);
        this.target.resync(snapshot.kvs.map((kv) => ({ key: kv.key, value: kv.value })));
        this.watcher = await this.watch(this.kv.client, snapshot.revision + 1);
        this.log.info(`Synced ${snapshot.kvs.length} keys at revision ${snapshot.revision}; watching for changes`);
        return;
      } catch (error) {
        this.log.warning(`Reading the datastore failed: ${(error as Error).message} Keeping the dataplane as it is; retrying (attempt ${attempt}).`);
        await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 200 * attempt)));
      }
    }
  }

  private async watch(client: Etcd3, fromRevision: number): Promise<Watcher> {
    const watcher = await client.watch().prefix(ROOT).startRevision(String(fromRevision)).create();
    watcher.on('data', (response) => {
      const updates = response.events.map((event) => ({
        key: event.kv.key.toString('utf8'),
        value: event.type === 'Delete' ? undefined : event.kv.value.toString('utf8'),
      }));
      if (updates.length > 0) this.target.update(updates);
    });
    watcher.on('disconnected', (error) => this.log.warning(`Lost the etcd watch (${error.message}); resuming when etcd is back`));
    watcher.on('connected', () => this.log.debug('etcd watch connected'));
    // A watch etcd cancels (compacted history) cannot resume where it was: start again from a snapshot.
    watcher.on('error', (error) => {
      if (this.stopped || this.watcher !== watcher) return;
      this.log.warning(`The etcd watch ended (${error.message}); taking a fresh snapshot`);
      void this.resync();
    });
    return watcher;
  }
}
