import { readFileSync } from 'node:fs';
import { circuitBreaker, ConsecutiveBreaker, ExponentialBackoff, handleWhen, type IBackoff, noop } from 'cockatiel';
import { Etcd3, type IOptions, isRecoverableError } from 'etcd3';
import * as RPC from 'etcd3/lib/rpc';
import type { EtcdSettings } from './config';
import { DatastoreRefusedError, DatastoreUnavailableError } from './errors';
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
 * With several endpoints, the client picks one at random for each call and, without a breaker,
 * fails the call when that one is down. So each endpoint gets a breaker that opens on its first
 * failure (calls then go to the others until it is tried again), and `guard` tries another
 * endpoint when a call certainly did not reach etcd, or when it only read.
 *
 * Watches use etcd's Watch stream directly, not the client's watch manager: that one resumes a
 * lost stream from the revision in the header of the `created` response, so the catch-up events
 * that had not arrived yet when the stream broke were never delivered. Here a watch simply ends,
 * and the syncer resumes from the last revision it really delivered.
 */
export class Etcd3KvStore implements WatchableKvStore {
  private readonly client: Etcd3;

  constructor(private readonly settings: EtcdSettings) {
    const options: IOptions = {
      hosts: [...settings.endpoints],
      dialTimeout: settings.timeoutMs,
      defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + settings.timeoutMs }),
      // The watch reconnects quickly after an etcd restart (the default backoff grows to 30 s).
      faultHandling: { host: () => endpointBreaker(), global: noop, watchBackoff: WATCH_BACKOFF },
      // A page of a prefix read (getPrefix) or a watch batch may hold large values.
      grpcOptions: { 'grpc.max_receive_message_length': 64 << 20 },
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
    const response = await this.guard(() => this.client.get(key).exec(), READ);
    return response.kvs.map(decode)[0];
  }

  /**
   * Read in pages at the first page's revision: one answer for the whole prefix exceeded gRPC's
   * 4 MiB message limit with 10,000 profiles and 5,000 endpoints in etcd, and calico-node could
   * never take its snapshot (test/e2e/faults.test.ts).
   */
  async getPrefix(prefix: string): Promise<RangeResult> {
    const rangeEnd = prefixEnd(prefix);
    const kvs: KeyValue[] = [];
    let from = Buffer.from(prefix, 'utf8');
    let revision: string | undefined;
    for (;;) {
      const request = { key: from, range_end: rangeEnd, limit: RANGE_PAGE, ...(revision !== undefined && { revision }) };
      const response = await this.guard(() => this.client.kv.range(request), READ);
      revision ??= response.header.revision;
      kvs.push(...response.kvs.map(decode));
      const last = response.kvs[response.kvs.length - 1];
      if (!response.more || last === undefined) break;
      from = Buffer.concat([last.key, Buffer.from([0])]);
    }
    return { kvs, revision: Number(revision) };
  }

  async commit(guards: readonly RevisionGuard[], operations: readonly KvOperation[]): Promise<boolean> {
    // The raw Txn call, because the client's builder cannot express a compare over a key range.
    const response = await this.guard(() => this.client.kv.txn(txnRequest(guards, operations, GRPC_ENCODING)));
    return response.succeeded;
  }

  async serverVersion(): Promise<string> {
    const status = await this.guard(() => this.client.maintenance.status(), READ);
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
        opened.on('error', (error) => end(false, describeEtcd3Error(error, this.settings)));
        opened.on('end', () => end(false, new Error('etcd ended the watch stream')));
        opened.write({ create_request: { key: Buffer.from(prefix), range_end: prefixEnd(prefix), start_revision: String(fromRevision) } });
      },
      (error: Error) => end(false, describeEtcd3Error(error, this.settings)),
    );
    return {
      cancel: () => {
        over = true;
        stream?.cancel();
      },
    };
  }

  close(): void {
    this.client.close();
  }

  /**
   * Runs a call, on another endpoint when one fails and that is safe, within one timeout in all;
   * turns the client's errors into ours, naming the endpoints and what to check. A write is tried
   * again only when it never left this process: one that reached etcd may have been applied, and
   * repeating a read-modify-write would apply its edit twice.
   */
  async guard<T>(call: () => Promise<T>, kind: CallKind = WRITE): Promise<T> {
    const deadline = Date.now() + this.settings.timeoutMs;
    for (let attempt = 1; ; attempt++) {
      try {
        return await call();
      } catch (error) {
        const retry = attempt < this.settings.endpoints.length && Date.now() < deadline && isRecoverableError(error as Error) && (kind === READ || neverSent(error as Error));
        if (!retry) throw describeEtcd3Error(error as Error, this.settings);
      }
    }
  }
}

type CallKind = 'read' | 'write';
const READ: CallKind = 'read';
const WRITE: CallKind = 'write';

/** Opens on an endpoint's first failure that another endpoint might not have; half-opens after 2 s. */
function endpointBreaker() {
  return circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: 2000, breaker: new ConsecutiveBreaker(1) });
}

/** gRPC's words for a call that failed before any connection carried it. */
function neverSent(error: Error): boolean {
  return /No connection established|ECONNREFUSED|failed to connect|Broken circuit/i.test(error.message);
}

/** etcd3 types this as a backoff but calls next() on it first, as on cockatiel's backoff factories. */
const WATCH_BACKOFF = new ExponentialBackoff({ initialDelay: 100, maxDelay: 2000 }) as unknown as IBackoff<unknown>;

export function describeEtcd3Error(error: Error, settings: EtcdSettings): Error {
  const where = settings.endpoints.join(',');
  const text = tidyGrpcMessage(error.message);
  if (/auth|permission/i.test(error.name + text)) {
    return new DatastoreRefusedError(`etcd at ${where} refused the request: ${text}. Check ETCD_USERNAME and ETCD_PASSWORD.`);
  }
  // What OpenSSL says when the server's certificate is not signed by our CA (or not for its address).
  const untrusted = /unable to verify[a-z ]*certificate|self[- ]signed|unable to get (local )?issuer|certificate verify failed|certificate has expired|does not match certificate|altname/i.exec(text);
  if (untrusted) {
    return new DatastoreRefusedError(`TLS with etcd at ${where} failed: ${untrusted[0]} (its certificate is not trusted). Check ETCD_CA_CERT_FILE (${settings.caFile ?? 'not set'}).`);
  }
  // A TLS alert from the server: it refused the certificate we presented (expired, unknown CA, none).
  const alert = /alert (bad certificate|certificate expired|certificate revoked|unknown ca|certificate unknown|certificate required|handshake failure|access denied)/i.exec(text);
  if (alert) {
    return new DatastoreRefusedError(`etcd at ${where} refused this client's certificate (TLS ${alert[0]}). Check ETCD_CERT_FILE (${settings.certFile ?? 'not set'}) and ETCD_KEY_FILE.`);
  }
  if (/Unavailable|Deadline|ECONNREFUSED|connect/i.test(error.name + text)) {
    return new DatastoreUnavailableError(`Cannot reach etcd at ${where}: ${text}. Is etcd running? Check ${settings.source}.`);
  }
  return error;
}

/** gRPC's message without OpenSSL's source locations, empty notes and timestamps. */
function tidyGrpcMessage(message: string): string {
  return message
    .replace(/\s+/g, ' ')
    .replace(/[0-9A-F]{8,}:error:[0-9A-F]+:SSL routines:\w+:/g, '')
    .replace(/:\.\.\/deps\/\S+:\d+:SSL alert number \d+/g, '')
    .replace(/ \(\d{4}-\d\d-\d\dT[\d:.]+Z\)/g, '')
    .replace(/\. Resolution note: \./g, '')
    .replace(/\.$/, '');
}

/** Keys per page of a prefix read; with the raised message limit, values up to 64 KiB on average fit. */
const RANGE_PAGE = 1000;

function decode(kv: { key: Buffer; value: Buffer; mod_revision: string }): KeyValue {
  return { key: kv.key.toString('utf8'), value: kv.value.toString('utf8'), modRevision: Number(kv.mod_revision) };
}
