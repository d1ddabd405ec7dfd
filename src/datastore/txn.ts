import { type KvOperation, prefixEnd, type RevisionGuard } from './kv';

/**
 * The translation of a KvStore commit into etcd's Txn request, for both stores: the JSON gateway
 * wants bytes as base64 strings and enums by name, the gRPC client wants Buffers and enum numbers.
 */
export interface TxnEncoding<B, T, R> {
  readonly bytes: (data: Buffer) => B;
  readonly modTarget: T;
  readonly equal: R;
  readonly less: R;
}

export interface TxnRequest<B, T, R> {
  compare: { key: B; range_end?: B; target: T; result: R; mod_revision: string }[];
  success: ({ request_put: { key: B; value: B } } | { request_delete_range: { key: B; range_end?: B } })[];
  failure: never[];
}

export function txnRequest<B, T, R>(
  guards: readonly RevisionGuard[],
  operations: readonly KvOperation[],
  encoding: TxnEncoding<B, T, R>,
): TxnRequest<B, T, R> {
  const bytes = (text: string): B => encoding.bytes(Buffer.from(text, 'utf8'));
  const end = (prefix: string): B => encoding.bytes(prefixEnd(prefix));
  const compare = guards.map((guard) =>
    'key' in guard
      ? { key: bytes(guard.key), target: encoding.modTarget, result: encoding.equal, mod_revision: String(guard.modRevision) }
      : // No key under the prefix was modified after `unchangedSince`: every mod revision is below the next one.
        { key: bytes(guard.prefix), range_end: end(guard.prefix), target: encoding.modTarget, result: encoding.less, mod_revision: String(guard.unchangedSince + 1) },
  );
  const success = operations.map((op) => {
    switch (op.type) {
      case 'put':
        return { request_put: { key: bytes(op.key), value: bytes(op.value) } };
      case 'delete':
        return { request_delete_range: { key: bytes(op.key) } };
      case 'deletePrefix':
        return { request_delete_range: { key: bytes(op.prefix), range_end: end(op.prefix) } };
    }
  });
  return { compare, success, failure: [] };
}
