import { CalicoError } from '../errors';
import type { IpVersion } from '../policy/ast';
import { addressToBigInt, bigIntToAddress, cidrBounds, cidrContains, parseIp } from '../policy/cidr';
import { AlreadyExistsError, type CorruptReporter, decodeEach, NotFoundError, parseStoredObject, warnOnStderr } from './errors';
import { addressKey, addressOfKey, addressPrefix } from './keys';
import type { KvStore } from './kv';
import { type Pool, PoolStore } from './pools';

/**
 * Address assignment: one key per assigned address, created by a transaction that requires the
 * key to be absent, so two hosts or two concurrent `docker run`s can never get the same address.
 */
export { addressKey, addressPrefix } from './keys';

export interface Assignment {
  readonly address: string;
  readonly version: IpVersion;
  readonly host: string;
  readonly pool: string;
  readonly attributes: Readonly<Record<string, string>>;
}

export class IpamError extends CalicoError {
  readonly code = 'ipam';
  constructor(message: string) {
    super(message);
    this.name = 'IpamError';
  }
}

export class IpamStore {
  constructor(
    private readonly kv: KvStore,
    private readonly report: CorruptReporter = warnOnStderr,
  ) {}

  /** Assigns a free address from the usable pools of that version (or from one pool). */
  async assign(version: IpVersion, host: string, onlyPool?: string, attributes: Record<string, string> = {}): Promise<Assignment> {
    const pools = usable(await new PoolStore(this.kv, this.report).list(version)).filter((p) => onlyPool === undefined || p.cidr.text === onlyPool || `${p.cidr.network}/${p.cidr.prefixLength}` === onlyPool);
    if (pools.length === 0) {
      throw new IpamError(onlyPool === undefined ? `No IPv${version} pool to assign an address from: add one with 'calicoctl pool add'.` : `No usable pool ${onlyPool}.`);
    }
    const { kvs } = await this.kv.getPrefix(addressPrefix(version));
    const taken = new Set(kvs.map((kv) => addressOfKey(version, kv.key)));
    for (const pool of pools) {
      const { first, last } = cidrBounds(pool.cidr);
      // The pool's first and last addresses are left alone: they read as network and broadcast.
      for (let value = first + 1n; value < last; value++) {
        const address = bigIntToAddress(value, version);
        if (taken.has(address)) continue;
        const assignment: Assignment = { address, version, host, pool: `${pool.cidr.network}/${pool.cidr.prefixLength}`, attributes };
        if (await this.create(assignment)) return assignment;
        taken.add(address); // another writer got it first: try the next one
      }
    }
    throw new IpamError(`No free IPv${version} address left in ${pools.map((p) => p.cidr.text).join(', ')}.`);
  }

  /** Assigns one given address, which must lie in a usable pool and be free. */
  async assignAddress(address: string, host: string, attributes: Record<string, string> = {}): Promise<Assignment> {
    const parsed = parseIp(address);
    if (!parsed) throw new IpamError(`'${address}' is not an IP address.`);
    const pool = usable(await new PoolStore(this.kv, this.report).list(parsed.version)).find((p) => cidrContains(p.cidr, parsed.text));
    if (!pool) throw new IpamError(`${parsed.text} is not in any Calico IP pool.`);
    const assignment: Assignment = { address: parsed.text, version: parsed.version, host, pool: `${pool.cidr.network}/${pool.cidr.prefixLength}`, attributes };
    if (!(await this.create(assignment))) throw new AlreadyExistsError('address', parsed.text, `${parsed.text} is already assigned.`);
    return assignment;
  }

  /** Who an address is assigned to; NotFoundError when it is not assigned. */
  async info(address: string): Promise<Assignment> {
    const parsed = parseIp(address);
    if (!parsed) throw new IpamError(`'${address}' is not an IP address.`);
    const kv = await this.kv.get(addressKey(parsed.version, parsed.text));
    if (!kv) throw new NotFoundError('address', parsed.text, `IP ${parsed.text} is not currently assigned`);
    return decodeAssignment(kv.key, kv.value, parsed.text, parsed.version);
  }

  /** Resolves false when the address was not assigned (releasing is idempotent). */
  async release(address: string): Promise<boolean> {
    const parsed = parseIp(address);
    if (!parsed) throw new IpamError(`'${address}' is not an IP address.`);
    const key = addressKey(parsed.version, parsed.text);
    const existing = await this.kv.get(key);
    if (!existing) return false;
    return this.kv.commit([{ key, modRevision: existing.modRevision }], [{ type: 'delete', key }]);
  }

  async list(version: IpVersion): Promise<Assignment[]> {
    const { kvs } = await this.kv.getPrefix(addressPrefix(version));
    return decodeEach(kvs, (kv) => decodeAssignment(kv.key, kv.value, addressOfKey(version, kv.key), version), this.report);
  }

  private create(assignment: Assignment): Promise<boolean> {
    const key = addressKey(assignment.version, assignment.address);
    const value = JSON.stringify({ host: assignment.host, pool: assignment.pool, attributes: assignment.attributes });
    return this.kv.commit([{ key, modRevision: 0 }], [{ type: 'put', key, value }]);
  }
}

function usable(pools: readonly Pool[]): Pool[] {
  return pools
    .filter((pool) => !pool.disabled && pool.ipam !== false)
    .sort((a, b) => (addressToBigInt(a.cidr.network) < addressToBigInt(b.cidr.network) ? -1 : 1));
}

function decodeAssignment(key: string, value: string, address: string, version: IpVersion): Assignment {
  const data = parseStoredObject(key, value, 'an address assignment');
  return {
    address,
    version,
    host: String(data.host ?? ''),
    pool: String(data.pool ?? ''),
    attributes: typeof data.attributes === 'object' && data.attributes !== null ? (data.attributes as Record<string, string>) : {},
  };
}
