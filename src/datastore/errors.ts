/**
 * Errors the datastore adapter speaks. Nothing above this layer sees an HTTP, gRPC or socket error:
 * each is turned into one of these, with a message a user can act on. Each carries a `code` (one
 * word: 'config', 'unavailable', 'corrupt', 'conflict', ...) that callers may map to exit codes;
 * every one is a CalicoError (../errors.ts), so the CLI writes its message as it is.
 */
import { CalicoError, escapeControls } from '../errors';

/** The etcd settings (environment, flags or config file) are invalid. Names the setting. */
export class DatastoreConfigError extends CalicoError {
  readonly code = 'config';
  constructor(message: string) {
    super(message);
    this.name = 'DatastoreConfigError';
  }
}

/** etcd could not be reached or refused us (connection, TLS, timeout, authentication). */
export class DatastoreUnavailableError extends CalicoError {
  readonly code = 'unavailable';
  constructor(message: string) {
    super(message);
    this.name = 'DatastoreUnavailableError';
  }
}

/**
 * etcd answered but will not have us: its certificate is not one our CA signed, it refused our
 * certificate, or it refused the username and password. No retry can fix that, so a daemon stops
 * on it instead of waiting; the message names the setting to fix.
 */
export class DatastoreRefusedError extends DatastoreUnavailableError {
  constructor(message: string) {
    super(message);
    this.name = 'DatastoreRefusedError';
  }
}

/** A value in etcd is not what the Calico v1 data model allows. Names the key. */
export class CorruptDataError extends CalicoError {
  readonly code = 'corrupt';
  constructor(
    readonly key: string,
    problem: string,
  ) {
    // The problem quotes the value with JSON.stringify, which leaves DEL and C1 controls as they are.
    super(escapeControls(`The data stored at ${key} is invalid: ${problem}`));
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
  readonly code = 'conflict';
  constructor(key: string, attempts: number) {
    super(`Gave up updating ${key} after ${attempts} attempts: other clients kept changing it at the same time. Nothing was written; try again.`);
    this.name = 'ConflictError';
  }
}

/**
 * Where a stored value that does not decode is reported; the caller then skips it. `consequence`
 * says what skipping it means, when that is worth saying (e.g. "the profile drops all traffic").
 */
export type CorruptReporter = (error: CorruptDataError, consequence?: string) => void;

/** A reporter that writes each problem (a key and what is wrong with it) once, however often it is met. */
export function reportOnce(write: (message: string) => void): CorruptReporter {
  const seen = new Set<string>();
  return (error, consequence) => {
    if (seen.has(error.message)) return;
    seen.add(error.message);
    write(`${error.message}; skipped${consequence ? `: ${consequence}` : ''}`);
  };
}

/** The default for the stores: a warning on stderr, where the CLI writes its warnings too. */
export const warnOnStderr: CorruptReporter = reportOnce((message) => process.stderr.write(`Warning: ${message}.\n`));

/**
 * Decodes each stored value, reporting and skipping those that do not decode: one bad value never
 * hides the others from a listing. Errors other than CorruptDataError still propagate.
 */
export function decodeEach<K extends { key: string }, T>(items: readonly K[], decode: (item: K) => T | undefined, report: CorruptReporter): T[] {
  const decoded: T[] = [];
  for (const item of items) {
    try {
      const value = decode(item);
      if (value !== undefined) decoded.push(value);
    } catch (error) {
      if (!(error instanceof CorruptDataError)) throw error;
      report(error);
    }
  }
  return decoded;
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
  readonly code = 'not-found';
  override readonly name = 'NotFoundError';
}

/** The record a change would create exists already. */
export class AlreadyExistsError extends RecordError {
  readonly code = 'exists';
  override readonly name = 'AlreadyExistsError';
}
