/**
 * Errors the datastore adapter speaks. Nothing above this layer sees an HTTP, gRPC or socket error:
 * each is turned into one of these, with a message a user can act on.
 */
import { CalicoError } from '../errors';

/** The etcd settings (environment, flags or config file) are invalid. Names the setting. */
export class DatastoreConfigError extends CalicoError {
  readonly code = 'DATASTORE_CONFIG';
  constructor(message: string) {
    super(message);
    this.name = 'DatastoreConfigError';
  }
}

/** etcd could not be reached or refused us (connection, TLS, timeout, authentication). */
export class DatastoreUnavailableError extends CalicoError {
  readonly code = 'DATASTORE_UNAVAILABLE';
  constructor(message: string) {
    super(message);
    this.name = 'DatastoreUnavailableError';
  }
}

/** A value in etcd is not what the Calico v1 data model allows. Names the key. */
export class CorruptDataError extends CalicoError {
  readonly code = 'CORRUPT_DATA';
  constructor(
    readonly key: string,
    problem: string,
  ) {
    super(`The data stored at ${key} is invalid: ${problem}`);
    this.name = 'CorruptDataError';
  }
}

/** A stored JSON value, or CorruptDataError naming the key. */
export function parseStored(key: string, value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    throw new CorruptDataError(key, 'not valid JSON');
  }
}

/** A stored JSON object (an endpoint, a pool, an assignment), or CorruptDataError naming the key. */
export function parseStoredObject(key: string, value: string, what: string): Record<string, unknown> {
  const data = parseStored(key, value);
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new CorruptDataError(key, `expected ${what} object`);
  return data as Record<string, unknown>;
}

/** A compare-and-swap kept losing to other writers; nothing was written. */
export class ConflictError extends CalicoError {
  readonly code = 'CONFLICT';
  constructor(key: string, attempts: number) {
    super(`Gave up updating ${key} after ${attempts} attempts: other clients kept changing it at the same time. Nothing was written; try again.`);
    this.name = 'ConflictError';
  }
}

/** What a record is, in NotFoundError and AlreadyExistsError. */
export type RecordKind = 'profile' | 'endpoint' | 'pool' | 'address';

/** A change that needs a record to exist, or not to: `id` is the record's stored name. Nothing was written. */
abstract class RecordError extends CalicoError {
  constructor(
    readonly kind: RecordKind,
    readonly id: string,
    message: string,
  ) {
    super(message);
  }
}

/** The record a change needs does not exist. */
export class NotFoundError extends RecordError {
  readonly code = 'NOT_FOUND';
  override readonly name = 'NotFoundError';
}

/** The record a change would create exists already. */
export class AlreadyExistsError extends RecordError {
  readonly code = 'ALREADY_EXISTS';
  override readonly name = 'AlreadyExistsError';
}
