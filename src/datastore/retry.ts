import { ConflictError } from './errors';

/** What an attempt returns when its transaction lost to another writer and must be tried again. */
export const RETRY = Symbol('retry');

const MAX_ATTEMPTS = 100;

/**
 * Runs an optimistic read-modify-write (read, decide, commit guarded by the revisions read) until
 * it commits. Attempts that lose pause for a random, growing moment, so that many writers racing
 * on one key spread out and all finish; after MAX_ATTEMPTS it gives up, having written nothing.
 */
export async function untilCommitted<T>(key: string, attempt: () => Promise<T | typeof RETRY>): Promise<T> {
  for (let n = 1; n <= MAX_ATTEMPTS; n++) {
    const result = await attempt();
    if (result !== RETRY) return result;
    await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(100, 2 * n)));
  }
  throw new ConflictError(key, MAX_ATTEMPTS);
}
