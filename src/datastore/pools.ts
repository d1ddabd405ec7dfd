import { CalicoError } from '../errors';
import { type Cidr, type IpVersion } from '../policy/ast';
import { cidrNetworkText, cidrsOverlap, parseCidr } from '../policy/cidr';
import { CorruptDataError, type CorruptReporter, decodeEach, NotFoundError, parseStoredObject, warnOnStderr } from './errors';
import { ALL_POOLS, poolKey, poolPrefix } from './keys';
import type { KeyValue, KvStore } from './kv';
import { RETRY, untilCommitted } from './retry';

/** An IP pool as the v1 data model stores it (keys.poolKey). */
export interface Pool {
  readonly cidr: Cidr;
  readonly ipip?: boolean;
  readonly masquerade?: boolean;
  /** False for pools that exist only for NAT and routing, not for address assignment. */
  readonly ipam?: boolean;
  readonly disabled?: boolean;
}

export { poolKey, poolPrefix } from './keys';

/** The smallest pool Calico's IPAM hands addresses from (its block size). */
export const MIN_POOL_PREFIX = { 4: 26, 6: 122 } as const;
export const DEFAULT_IPV4_POOL = '192.168.0.0/16';
export const DEFAULT_IPV6_POOL = 'fd80:24e2:f998:72d6::/64';

/** A pool that cannot be added; nothing was written. */
export class PoolError extends CalicoError {
  readonly code = 'pool';
  constructor(message: string) {
    super(message);
    this.name = 'PoolError';
  }
}

/**
 * Pools that do not decode are reported and skipped, by listings, by address assignment and by the
 * overlap check alike: one bad value must not stop IPAM or the agent's start.
 */
export class PoolStore {
  constructor(
    private readonly kv: KvStore,
    private readonly report: CorruptReporter = warnOnStderr,
  ) {}

  async list(version?: IpVersion): Promise<Pool[]> {
    const versions: IpVersion[] = version === undefined ? [4, 6] : [version];
    const pools: Pool[] = [];
    for (const v of versions) {
      const { kvs } = await this.kv.getPrefix(poolPrefix(v));
      pools.push(...this.decode(kvs));
    }
    return pools;
  }

  /**
   * Adds a pool when its IP version has no pool yet, for the default pools: hosts starting together
   * all find none, and the transaction lets only one of them add it. False when there was one.
   */
  async addIfNone(pool: Pool): Promise<boolean> {
    const prefix = poolPrefix(pool.cidr.version);
    return untilCommitted(ALL_POOLS, async () => {
      const range = await this.kv.getPrefix(prefix);
      if (this.decode(range.kvs).length > 0) return false;
      const put = { type: 'put' as const, key: poolKey(pool.cidr), value: JSON.stringify(encodePool(pool)) };
      return (await this.kv.commit([{ prefix, unchangedSince: range.revision }], [put])) ? true : RETRY;
    });
  }

  /**
   * Adds pools, all or none. Re-adding a pool's exact CIDR updates its ipip and masquerade options
   * (keeping ipam false and disabled); any other overlap is refused. The transaction checks that no pool was added since the overlap check.
   */
  async add(pools: readonly Pool[]): Promise<void> {
    for (const pool of pools) {
      if (pool.cidr.prefixLength > MIN_POOL_PREFIX[pool.cidr.version]) {
        throw new PoolError(
          `An IPv${pool.cidr.version} pool must have a prefix length of ${MIN_POOL_PREFIX[pool.cidr.version]} or lower. Given: ${pool.cidr.text}. No pools added.`,
        );
      }
      if (pool.cidr.prefixLength === 0) throw new PoolError(`A pool cannot be every address (${pool.cidr.text}): each host would blackhole its default route. No pools added.`);
      if (pool.ipip && pool.cidr.version === 6) throw new PoolError('IP in IP not supported for IPv6 pools');
    }
    await untilCommitted(ALL_POOLS, async () => {
      const existing = await Promise.all(([4, 6] as const).map((v) => this.kv.getPrefix(poolPrefix(v))));
      const current = existing.flatMap((range) => this.decode(range.kvs));
      pools.forEach((pool, index) => {
        const clash = [...current, ...pools.slice(0, index)].find(
          (other) => cidrsOverlap(other.cidr, pool.cidr) && cidrNetworkText(other.cidr) !== cidrNetworkText(pool.cidr),
        );
        if (clash) {
          throw new PoolError(`Cannot add IP pool ${cidrNetworkText(pool.cidr)} - pool overlaps with an existing pool ${cidrNetworkText(clash.cidr)}`);
        }
      });
      const guards = ([4, 6] as const).map((v, i) => ({ prefix: poolPrefix(v), unchangedSince: existing[i]?.revision ?? 0 }));
      // Re-adding changes the flags given (--ipip, --nat-outgoing), not what the flags cannot say: a
      // pool Docker's IPAM numbers (ipam false) must not become one Calico assigns from as well.
      const kept = (pool: Pool): Pool => {
        const before = current.find((other) => cidrNetworkText(other.cidr) === cidrNetworkText(pool.cidr));
        return { ...pool, ...(before?.ipam === false && { ipam: false }), ...(before?.disabled && { disabled: true }) };
      };
      const puts = pools.map((pool) => ({ type: 'put' as const, key: poolKey(pool.cidr), value: JSON.stringify(encodePool(kept(pool))) }));
      return (await this.kv.commit(guards, puts)) ? undefined : RETRY;
    });
  }

  /**
   * The pool of a network that Docker's own IPAM numbers (`ipam: false`): added unless a pool of
   * that exact CIDR exists already, which is then left as it is. Resolves to whether it was added.
   * An overlap with another pool is refused, as `add` refuses it.
   */
  async addUnlessPresent(pool: Pool): Promise<boolean> {
    const existing = await this.kv.get(poolKey(pool.cidr));
    if (existing) return false;
    await this.add([pool]);
    return true;
  }

  /** Removes a pool only while it is one that Calico does not assign from (`ipam: false`); true when it did. */
  async removeUnassigned(cidr: Cidr): Promise<boolean> {
    return untilCommitted(ALL_POOLS, async () => {
      const found = await this.kv.get(poolKey(cidr));
      if (!found) return false;
      let pool: Pool;
      try {
        pool = decodePool(found.key, found.value);
      } catch {
        return false;
      }
      if (pool.ipam !== false) return false;
      return (await this.kv.commit([{ key: found.key, modRevision: found.modRevision }], [{ type: 'delete', key: found.key }])) ? true : RETRY;
    });
  }

  /**
   * Removes pools, all or none: NotFoundError for the first CIDR that is not a pool (its `id` is
   * the CIDR's text), and nothing is removed.
   */
  async remove(cidrs: readonly Cidr[]): Promise<void> {
    await untilCommitted(ALL_POOLS, async () => {
      const found = await Promise.all(cidrs.map((cidr) => this.kv.get(poolKey(cidr))));
      const missing = cidrs.find((_, index) => found[index] === undefined);
      if (missing) throw new NotFoundError('pool', missing.text, `${missing.text} is not a configured pool.`);
      const guards = found.map((kv) => ({ key: (kv as KeyValue).key, modRevision: (kv as KeyValue).modRevision }));
      return (await this.kv.commit(guards, guards.map((guard) => ({ type: 'delete' as const, key: guard.key })))) ? undefined : RETRY;
    });
  }

  private decode(kvs: readonly KeyValue[]): Pool[] {
    return decodeEach(kvs, (kv) => decodePool(kv.key, kv.value), this.report);
  }
}

export function encodePool(pool: Pool): Record<string, unknown> {
  return {
    cidr: cidrNetworkText(pool.cidr),
    ...(pool.ipip && { ipip: 'tunl0' }),
    ...(pool.masquerade && { masquerade: true }),
    ...(pool.ipam === false && { ipam: false }),
    ...(pool.disabled && { disabled: true }),
  };
}

export function decodePool(key: string, value: string): Pool {
  const data = parseStoredObject(key, value, 'a pool');
  const cidr = typeof data.cidr === 'string' ? parseCidr(data.cidr) : undefined;
  if (!cidr) throw new CorruptDataError(key, 'the pool has no valid "cidr"');
  // The agent blackholes each pool on every host: one of every address would replace the default route.
  if (cidr.prefixLength === 0) throw new CorruptDataError(key, `the pool ${cidr.text} is every address`);
  // Addresses come in whole blocks: from a narrower pool they would fall outside it.
  if (cidr.prefixLength > MIN_POOL_PREFIX[cidr.version]) throw new CorruptDataError(key, `the pool ${cidr.text} is smaller than one address block (/${MIN_POOL_PREFIX[cidr.version]})`);
  return {
    cidr,
    ...(typeof data.ipip === 'string' && data.ipip !== '' && { ipip: true }),
    ...(data.masquerade === true && { masquerade: true }),
    ...(data.ipam === false && { ipam: false }),
    ...(data.disabled === true && { disabled: true }),
  };
}
