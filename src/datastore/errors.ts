/**
 * Errors the datastore adapter speaks. Nothing above this layer sees an HTTP, gRPC or socket error:
 * each is turned into one of these, with a message a user can act on.
 */

/** The etcd settings (environment, flags or config file) are invalid. Names the setting. */
export class DatastoreConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatastoreConfigError';
  }
}

/** etcd could not be reached or refused us (connection, TLS, timeout, authentication). */
export class DatastoreUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatastoreUnavailableError';
  }
}

/** A value in etcd is not what the Calico v1 data model allows. Names the key. */
export class CorruptDataError extends Error {
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
export class ConflictError extends Error {
  constructor(key: string, attempts: number) {
    super(`Gave up updating ${key} after ${attempts} attempts: other clients kept changing it at the same time. Nothing was written; try again.`);
    this.name = 'ConflictError';
  }
}
