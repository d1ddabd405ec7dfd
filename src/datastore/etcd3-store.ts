import { readFileSync } from 'node:fs';
import { ExponentialBackoff, type IBackoff, noop } from 'cockatiel';
import { Etcd3, type IOptions } from 'etcd3';
import * as RPC from 'etcd3/lib/rpc';
import type { EtcdSettings } from './config';
import { DatastoreUnavailableError } from './errors';
import { type KeyValue, type KvOperation, type KvStore, type RangeResult, type RevisionGuard } from './kv';
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
 */
export class Etcd3KvStore implements KvStore {
  readonly client: Etcd3;

  constructor(private readonly settings: EtcdSettings) {
    const options: IOptions = {
      hosts: [...settings.endpoints],
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
    this.client = new Etcd3(options);
  }

  async get(key: string): Promise<KeyValue | undefined> {
    const response = await this.guard(() => this.client.get(key).exec());
    return response.kvs.map(decode)[0];
  }

  async getPrefix(prefix: string): Promise<RangeResult> {
    const response = await this.guard(() => this.client.getAll().prefix(prefix).exec());
    return { kvs: response.kvs.map(decode), revision: Number(response.header.revision) };
  }

  async commit(guards: readonly RevisionGuard[], operations: readonly KvOperation[]): Promise<boolean> {
    // The raw Txn call, because the client's builder cannot express a compare over a key range.
    const response = await this.guard(() => this.client.kv.txn(txnRequest(guards, operations, GRPC_ENCODING)));
    return response.succeeded;
  }

  async serverVersion(): Promise<string> {
    const status = await this.guard(() => this.client.maintenance.status());
    return status.version;
  }

  close(): void {
    this.client.close();
  }

  /** Turns the client's errors into ours, naming the endpoints and what to check. */
  async guard<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw describeEtcd3Error(error as Error, this.settings);
    }
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

function decode(kv: { key: Buffer; value: Buffer; mod_revision: string }): KeyValue {
  return { key: kv.key.toString('utf8'), value: kv.value.toString('utf8'), modRevision: Number(kv.mod_revision) };
}
