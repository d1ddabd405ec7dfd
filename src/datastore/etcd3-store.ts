import { readFileSync } from 'node:fs';
import { ExponentialBackoff, type IBackoff, noop } from 'cockatiel';
import { Etcd3, type IOptions } from 'etcd3';
import * as RPC from 'etcd3/lib/rpc';
import type { EtcdSettings } from './config';
import { DatastoreUnavailableError } from './errors';
import { type KeyValue, type KvOperation, prefixEnd, type RangeResult, type RevisionGuard, type WatchableKvStore, type WatchHandle, type WatchListener } from './kv';
import { type TxnEncoding, txnRequest } from './txn';

const GRPC_ENCODING: TxnEncoding<Buffer, RPC.CompareTarget, RPC.CompareResult> = {
  bytes: (data) => data,
  modTarget: RPC.CompareTarget.Mod,
  equal: RPC.CompareResult.Equal,
  less: RPC.CompareResult.Less,
};

/**
 * etcd through the etcd3 gRPC client: used by the long-running agent, which needs watch streams
 * and can afford the client's ~100 ms load time once. The client's own retries are turned off so
 * that every call is bounded by the configured timeout; the agent decides when to retry.
 *
 * Watches use etcd's Watch stream directly, not the client's watch manager: that one resumes a
 * lost stream from the revision in the header of the `created` response, so the catch-up events
 * that had not arrived yet when the stream broke were never delivered. Here a watch simply ends,
 * and the syncer resumes from the last revision it really delivered.
 */
export class Etcd3KvStore implements WatchableKvStore {
  /**
   * One client per endpoint, used in turn: the etcd3 client, given several hosts with its fault
   * handling off, keeps going to a dead one. A call that cannot reach its endpoint moves on to the
   * next, so one member down (the first, say) does not stop the agent while the others are up.
   */
  private readonly clients: Etcd3[];
  private current = 0;

  constructor(private readonly settings: EtcdSettings) {
    const options: IOptions = {
      hosts: [],
      dialTimeout: settings.timeoutMs,
      defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + settings.timeoutMs }),
      // The watch reconnects quickly after an etcd restart (the default backoff grows to 30 s).
      faultHandling: { host: () => noop, global: noop, watchBackoff: WATCH_BACKOFF },
    };
    if (settings.caFile !== undefined) {
      options.credentials = {
        rootCertificate: readFileSync(settings.caFile),
        ...(settings.keyFile !== undefined && { privateKey: readFileSync(settings.keyFile) }),
        ...(settings.certFile !== undefined && { certChain: readFileSync(settings.certFile) }),
      };
    }
    if (settings.username !== undefined) options.auth = { username: settings.username, password: settings.password ?? '' };
    this.clients = settings.endpoints.map((host) => new Etcd3({ ...options, hosts: [host] }));
  }

  private get client(): Etcd3 {
    return this.clients[this.current] as Etcd3;
  }

  async get(key: string): Promise<KeyValue | undefined> {
    const response = await this.guard((client) => client.get(key).exec());
    return response.kvs.map(decode)[0];
  }

  async getPrefix(prefix: string): Promise<RangeResult> {
    const response = await this.guard((client) => client.getAll().prefix(prefix).exec());
    return { kvs: response.kvs.map(decode), revision: Number(response.header.revision) };
  }

  async commit(guards: readonly RevisionGuard[], operations: readonly KvOperation[]): Promise<boolean> {
    // The raw Txn call, because the client's builder cannot express a compare over a key range.
    // Moving on after a timeout could apply it twice; a refused connection never reached etcd.
    const response = await this.guard((client) => client.kv.txn(txnRequest(guards, operations, GRPC_ENCODING)), false);
    return response.succeeded;
  }

  async serverVersion(): Promise<string> {
    const status = await this.guard((client) => client.maintenance.status());
    return status.version;
  }

  watchPrefix(prefix: string, fromRevision: number, listener: WatchListener): WatchHandle {
    let stream: RPC.IDuplexStream<RPC.IWatchRequest, RPC.IWatchResponse> | undefined;
    let over = false;
    const end = (compacted: boolean, error: Error) => {
      if (over) return;
      over = true;
      stream?.cancel();
      listener.ended({ compacted, error });
    };
    const index = this.current;
    const failed = (error: Error) => {
      if (unreachable(error, true)) this.moveOn(index);
      end(false, describeEtcd3Error(error, this.settings));
    };
    this.client.watchClient.watch().then(
      (opened) => {
        stream = opened;
        if (over) {
          opened.cancel();
          return;
        }
        opened.on('data', (response) => {
          if (over) return;
          if (response.canceled) {
            const compacted = Number(response.compact_revision) > 0;
            end(compacted, new Error(compacted ? `etcd compacted its history up to revision ${response.compact_revision}` : `etcd cancelled the watch: ${response.cancel_reason || 'no reason given'}`));
            return;
          }
          if (response.created) listener.created?.();
          if (response.events.length === 0) return;
          listener.events(
            response.events.map((event) => ({
              key: event.kv.key.toString('utf8'),
              value: event.type === 'Delete' ? undefined : event.kv.value.toString('utf8'),
              modRevision: Number(event.kv.mod_revision),
            })),
          );
        });
        opened.on('error', failed);
        opened.on('end', () => end(false, new Error('etcd ended the watch stream')));
        opened.write({ create_request: { key: Buffer.from(prefix), range_end: prefixEnd(prefix), start_revision: String(fromRevision) } });
      },
      failed,
    );
    return {
      cancel: () => {
        over = true;
        stream?.cancel();
      },
    };
  }

  close(): void {
    for (const client of this.clients) client.close();
  }

  /**
   * Runs a call on the current endpoint, and on the next ones while it cannot reach them
   * (`afterTimeout`: also when a call timed out); turns the client's errors into ours, naming the
   * endpoints and what to check.
   */
  async guard<T>(call: (client: Etcd3) => Promise<T>, afterTimeout = true): Promise<T> {
    let last: Error | undefined;
    for (let tried = 0; tried < this.clients.length; tried++) {
      const index = this.current;
      try {
        return await call(this.clients[index] as Etcd3);
      } catch (error) {
        last = error as Error;
        if (!unreachable(last, afterTimeout)) break;
        this.moveOn(index);
      }
    }
    throw describeEtcd3Error(last as Error, this.settings);
  }

  /** The endpoint at `index` failed: the next one is current (unless another call moved on already). */
  private moveOn(index: number): void {
    if (this.current === index) this.current = (index + 1) % this.clients.length;
  }
}

/** etcd3 types this as a backoff but calls next() on it first, as on cockatiel's backoff factories. */
const WATCH_BACKOFF = new ExponentialBackoff({ initialDelay: 100, maxDelay: 2000 }) as unknown as IBackoff<unknown>;

export function describeEtcd3Error(error: Error, settings: EtcdSettings): Error {
  const where = settings.endpoints.join(',');
  const text = error.message.replace(/\s+/g, ' ');
  if (/auth|permission/i.test(error.name + text)) {
    return new DatastoreUnavailableError(`etcd at ${where} refused the request: ${text}. Check ETCD_USERNAME and ETCD_PASSWORD.`);
  }
  if (/Unavailable|Deadline|ECONNREFUSED|connect/i.test(error.name + text)) {
    return new DatastoreUnavailableError(`Cannot reach etcd at ${where}: ${text}. Is etcd running? Check ${settings.source}.`);
  }
  return error;
}

/** A connection that could not be made (or, with `timeouts`, a call that timed out): another endpoint may answer. */
function unreachable(error: Error, timeouts: boolean): boolean {
  const text = `${error.name} ${error.message}`;
  return /Unavailable|ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|ECONNRESET/i.test(text) || (timeouts && /Deadline|timed? ?out/i.test(text));
}

function decode(kv: { key: Buffer; value: Buffer; mod_revision: string }): KeyValue {
  return { key: kv.key.toString('utf8'), value: kv.value.toString('utf8'), modRevision: Number(kv.mod_revision) };
}
