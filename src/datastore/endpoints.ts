import { hostNetAddress } from '../policy/cidr';
import { CorruptDataError, type CorruptReporter, decodeEach, NotFoundError, parseStoredObject, warnOnStderr } from './errors';
import * as keys from './keys';
import type { KvStore } from './kv';
import { RETRY, untilCommitted } from './retry';

/** A workload endpoint as the v1 data model stores it (keys.endpointKey; ARCHITECTURE.md, "etcd key layout"). */
export interface Endpoint extends keys.EndpointKey {
  readonly state: string;
  readonly name: string;
  readonly mac: string;
  readonly profileIds: readonly string[];
  readonly ipv4Nets: readonly string[];
  readonly ipv6Nets: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
}

export class EndpointStore {
  constructor(
    private readonly kv: KvStore,
    private readonly report: CorruptReporter = warnOnStderr,
  ) {}

  /** Every workload endpoint on every host, or on one host. Values that do not decode are reported and skipped. */
  async list(hostname?: string): Promise<Endpoint[]> {
    const prefix = hostname === undefined ? keys.HOSTS : keys.hostWorkloads(hostname);
    const { kvs } = await this.kv.getPrefix(prefix);
    return decodeEach(
      kvs,
      (kv) => {
        const key = keys.parseEndpointKey(kv.key);
        return key && decodeEndpoint(key, kv.key, kv.value, (error, count) => this.report(error, addressesIgnored(count)));
      },
      this.report,
    );
  }
}

/**
 * An endpoint's value. Only host addresses (/32, /128) of the field's family are kept: each net
 * becomes a set member, a route through the endpoint's interface and its anti-spoofing match, so
 * a wider one (0.0.0.0/0 makes every `ipset restore` fail, routes everything to one container and
 * lets it send from any address) is dropped and handed to `skipped`, the endpoint itself kept.
 */
export function decodeEndpoint(key: keys.EndpointKey, rawKey: string, value: string, skipped: (error: CorruptDataError, count: number) => void = () => undefined): Endpoint {
  const data = parseStoredObject(rawKey, value, 'an endpoint');
  const strings = (field: unknown): string[] => (Array.isArray(field) ? field.filter((x): x is string => typeof x === 'string') : []);
  // One warning per stored value, however many of its addresses are bad: a listing that meets it says so once.
  const bad: string[] = [];
  let badCount = 0;
  const hosts = (field: string, version: 4 | 6): string[] => {
    const rejected: string[] = [];
    const kept: string[] = [];
    for (const text of strings(data[field])) {
      // Kept in one spelling (fd00::01 is fd00::1), so readers can compare and index them as text.
      const address = hostNetAddress(text, version);
      if (address !== undefined) kept.push(`${address}/${version === 4 ? 32 : 128}`);
      else rejected.push(JSON.stringify(text));
    }
    if (rejected.length > 0) {
      const one = rejected.length === 1;
      const list = one ? rejected[0] : `${rejected.slice(0, -1).join(', ')} and ${rejected.at(-1)}`;
      bad.push(`${field} holds ${list}, which ${one ? 'is not an IPv' + version + ' host address' : 'are not IPv' + version + ' host addresses'} (/${version === 4 ? 32 : 128})`);
      badCount += rejected.length;
    }
    return kept;
  };
  const ipv4Nets = hosts('ipv4_nets', 4);
  const ipv6Nets = hosts('ipv6_nets', 6);
  if (bad.length > 0) skipped(new CorruptDataError(rawKey, bad.join('; ')), badCount);
  // Older writers stored a single profile_id; readers have always accepted both.
  const profileIds = data.profile_ids !== undefined ? strings(data.profile_ids) : typeof data.profile_id === 'string' ? [data.profile_id] : [];
  // Field by field: V8 spreads `...key` into a literal that goes on to add more fields through a
  // slow path, which made this ten times slower than the JSON.parse before it.
  return {
    hostname: key.hostname,
    orchestrator: key.orchestrator,
    workload: key.workload,
    endpoint: key.endpoint,
    state: typeof data.state === 'string' ? data.state : 'active',
    name: typeof data.name === 'string' ? data.name : '',
    mac: typeof data.mac === 'string' ? data.mac : '',
    profileIds,
    ipv4Nets,
    ipv6Nets,
    labels: typeof data.labels === 'object' && data.labels !== null ? (data.labels as Record<string, string>) : {},
  };
}

/** What a reader does with an endpoint's bad addresses, in the words of src/datastore/errors.ts's reports. */
export function addressesIgnored(count: number, until = ''): string {
  return `${count === 1 ? 'the address is' : 'those addresses are'} ignored${until}`;
}

export function encodeEndpoint(endpoint: Endpoint): string {
  return JSON.stringify({
    state: endpoint.state,
    name: endpoint.name,
    mac: endpoint.mac,
    profile_ids: endpoint.profileIds,
    labels: endpoint.labels,
    ipv4_nets: [...endpoint.ipv4Nets].sort(),
    ipv6_nets: [...endpoint.ipv6Nets].sort(),
  });
}

/** Writes and edits of endpoints; each edit is a compare-and-swap on the endpoint's revision. */
export class EndpointWriter {
  constructor(private readonly kv: KvStore) {}

  /**
   * Writes the whole endpoint (the plugin is its only author, and Docker retries calls), while the
   * key `requires` (its network's record) exists: the check and the write are one transaction, so
   * an endpoint is never written into a network deleted meanwhile. False when `requires` is absent.
   */
  async put(endpoint: Endpoint, requires: string): Promise<boolean> {
    const key = keys.endpointKey(endpoint);
    return untilCommitted(key, async () => {
      const needed = await this.kv.get(requires);
      if (!needed) return false;
      const committed = await this.kv.commit([{ key: requires, modRevision: needed.modRevision }], [{ type: 'put', key, value: encodeEndpoint(endpoint) }]);
      return committed ? true : RETRY;
    });
  }

  async remove(key: keys.EndpointKey): Promise<void> {
    await this.kv.commit([], [{ type: 'delete', key: keys.endpointKey(key) }]);
  }

  /** Deletes an endpoint only if it is still at `modRevision` (`diags --check --fix`); false when it changed or is gone. */
  async removeIfUnchanged(rawKey: string, modRevision: number): Promise<boolean> {
    if (!keys.parseEndpointKey(rawKey)) throw new NotFoundError('endpoint', rawKey, `${rawKey} is not an endpoint key.`);
    return this.kv.commit([{ key: rawKey, modRevision }], [{ type: 'delete', key: rawKey }]);
  }

  /** Read-modify-write of an endpoint's profile list. NotFoundError when it does not exist. */
  async editProfiles<R>(key: keys.EndpointKey, edit: (profiles: readonly string[]) => { value?: readonly string[]; result: R }): Promise<R> {
    return this.edit(key, (endpoint) => {
      const outcome = edit(endpoint.profileIds);
      return { ...(outcome.value !== undefined && { value: { ...endpoint, profileIds: outcome.value } }), result: outcome.result };
    });
  }

  /**
   * Read-modify-write of a whole endpoint (its key stays): `edit` returns the new value, or none
   * to write nothing, and a result. NotFoundError when the endpoint does not exist.
   */
  async edit<R>(key: keys.EndpointKey, edit: (endpoint: Endpoint) => { value?: Endpoint; result: R }): Promise<R> {
    const raw = keys.endpointKey(key);
    const { result } = await untilCommitted(raw, async () => {
      const existing = await this.kv.get(raw);
      if (!existing) throw new NotFoundError('endpoint', key.endpoint, `Endpoint ${key.endpoint} is unknown to Calico.`);
      const outcome = edit(decodeEndpoint(key, raw, existing.value));
      if (outcome.value === undefined) return { result: outcome.result };
      const value = encodeEndpoint(outcome.value);
      const committed = await this.kv.commit([{ key: raw, modRevision: existing.modRevision }], [{ type: 'put', key: raw, value }]);
      return committed ? { result: outcome.result } : RETRY;
    });
    return result;
  }

  /**
   * Writes the first endpoint of a workload (`calicoctl container add`): false, and nothing
   * written, when the workload has one already, also one written by a concurrent add.
   */
  async createFirst(endpoint: Endpoint): Promise<boolean> {
    const prefix = keys.workloadPrefix(endpoint);
    const existing = await this.kv.getPrefix(prefix);
    if (existing.kvs.some((kv) => keys.parseEndpointKey(kv.key) !== undefined)) return false;
    return this.kv.commit(
      [
        { prefix, unchangedSince: existing.revision },
        { key: keys.endpointKey(endpoint), modRevision: 0 },
      ],
      [{ type: 'put', key: keys.endpointKey(endpoint), value: encodeEndpoint(endpoint) }],
    );
  }

  /** Deletes a workload and all its endpoints. */
  async removeWorkload(workload: Omit<keys.EndpointKey, 'endpoint'>): Promise<void> {
    await this.kv.commit([], [{ type: 'deletePrefix', prefix: keys.workloadPrefix(workload) }]);
  }
}
