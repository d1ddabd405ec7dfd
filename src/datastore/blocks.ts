import { CalicoError } from '../errors';
import type { Cidr, IpVersion } from '../policy/ast';
import { addressToBigInt, bigIntToAddress, cidrBounds, cidrContains, cidrNetworkText, parseCidr, parseIp } from '../policy/cidr';
import { CorruptDataError, parseStoredObject } from './errors';
import type { KeyValue, KvOperation, KvStore, RevisionGuard } from './kv';
import { AFFINITY_HOSTS, affinityKey, blockKey, blockPrefix, hostBlocksPrefix, parseAffinityKey } from './keys';
import { type Pool, PoolStore } from './pools';
import { RETRY, untilCommitted } from './retry';

/**
 * Address assignment in blocks with host affinity, in pycalico v0.18's layout, so that each host
 * announces its containers as a few aggregated routes instead of one /32 each:
 *
 * - keys.blockKey, `/calico/ipam/v2/assignment/ipv4/block/<net>-<len>`, holds one block of 64 addresses (/26 for
 *   IPv4, /122 for IPv6): who has affinity to it, and which ordinals are allocated to what.
 * - keys.affinityKey, `/calico/ipam/v2/host/<host>/ipv4/block/<net>-<len>`, marks that the host holds the block.
 *
 * A host takes addresses from its own blocks first, claims a free block when they are full, and
 * borrows a single address from another host's block only when the pool has no free block left.
 * Every change to a block is a transaction guarded by the block's revision, so two hosts (or two
 * `docker run`s) can never be given the same address.
 */

export const BLOCK_BITS = 6;
export const BLOCK_SIZE = 2 ** BLOCK_BITS;
export const BLOCK_PREFIX = { 4: 32 - BLOCK_BITS, 6: 128 - BLOCK_BITS } as const;

export { affinityKey, blockKey, blockPrefix, hostBlocksPrefix, parseAffinityKey } from './keys';
/** Where every host's block affinities are. */
export const HOSTS_PREFIX = AFFINITY_HOSTS;

export interface AllocationAttributes {
  readonly handle_id: string | null;
  readonly secondary: Readonly<Record<string, string>>;
}

export interface Block {
  readonly cidr: string;
  readonly version: IpVersion;
  /** The host that holds the block, or undefined for a block nobody holds. */
  readonly affinity: string | undefined;
  readonly strictAffinity: boolean;
  /** One entry per address: null when free, else an index into `attributes`. */
  readonly allocations: readonly (number | null)[];
  /** Free ordinals, most recently released last, so that an address is not reused at once. */
  readonly unallocated: readonly number[];
  readonly attributes: readonly AllocationAttributes[];
}

export interface BlockAssignment {
  readonly address: string;
  readonly version: IpVersion;
  /** The host the address was assigned for (its owner). */
  readonly host: string;
  readonly pool: string;
  readonly block: string;
  /** The host holding the block, when any: it differs from `host` for a borrowed address. */
  readonly blockHost: string | undefined;
  readonly attributes: Readonly<Record<string, string>>;
}

/** The secondary attribute that records which host an address was assigned for. */
const OWNER = 'hostname';

export class BlockIpamError extends CalicoError {
  readonly code = 'ipam';
  constructor(message: string) {
    super(message);
    this.name = 'IpamError';
  }
}

export function encodeBlock(block: Block): string {
  return JSON.stringify({
    cidr: block.cidr,
    strict_affinity: block.strictAffinity,
    affinity: block.affinity === undefined ? '' : `host:${block.affinity}`,
    allocations: block.allocations,
    attributes: block.attributes,
    unallocated: block.unallocated,
  });
}

export function decodeBlock(key: string, value: string): Block {
  const data = parseStoredObject(key, value, 'an allocation block');
  const cidr = typeof data.cidr === 'string' ? parseCidr(data.cidr) : undefined;
  if (!cidr || cidr.prefixLength !== BLOCK_PREFIX[cidr.version]) throw new CorruptDataError(key, `"cidr" must be a /${BLOCK_PREFIX[4]} or /${BLOCK_PREFIX[6]} network`);
  const allocations = data.allocations;
  if (!Array.isArray(allocations) || allocations.length !== BLOCK_SIZE || !allocations.every((a) => a === null || (Number.isInteger(a) && a >= 0))) {
    throw new CorruptDataError(key, `"allocations" must be a list of ${BLOCK_SIZE} indexes or nulls`);
  }
  const attributes = Array.isArray(data.attributes) ? data.attributes : [];
  if (allocations.some((a) => a !== null && a >= attributes.length)) throw new CorruptDataError(key, 'an allocation points past "attributes"');
  const affinity = typeof data.affinity === 'string' && data.affinity.startsWith('host:') ? data.affinity.slice(5) : undefined;
  const unallocated = Array.isArray(data.unallocated)
    ? (data.unallocated as unknown[]).filter((o): o is number => Number.isInteger(o) && allocations[o as number] === null)
    : allocations.flatMap((a, ordinal) => (a === null ? [ordinal] : []));
  return {
    cidr: cidrNetworkText(cidr),
    version: cidr.version,
    affinity: affinity === '' ? undefined : affinity,
    strictAffinity: data.strict_affinity === true,
    allocations: allocations as (number | null)[],
    unallocated,
    attributes: attributes.map((a: unknown) => {
      const entry = (typeof a === 'object' && a !== null ? a : {}) as Record<string, unknown>;
      const secondary = typeof entry.secondary === 'object' && entry.secondary !== null ? (entry.secondary as Record<string, string>) : {};
      return { handle_id: typeof entry.handle_id === 'string' ? entry.handle_id : null, secondary };
    }),
  };
}

/** The block that holds an address. */
export function blockOf(address: string, version: IpVersion): string {
  const size = BigInt(BLOCK_SIZE);
  const value = addressToBigInt(address);
  return `${bigIntToAddress(value - (value % size), version)}/${BLOCK_PREFIX[version]}`;
}

function emptyBlock(cidr: string, version: IpVersion, affinity: string | undefined): Block {
  return {
    cidr,
    version,
    affinity,
    strictAffinity: false,
    allocations: new Array<null>(BLOCK_SIZE).fill(null),
    unallocated: Array.from({ length: BLOCK_SIZE }, (_, i) => i),
    attributes: [],
  };
}

/** The block with `ordinal` allocated for `host`; attributes are shared by equal allocations. */
function allocate(block: Block, ordinal: number, host: string, attributes: Readonly<Record<string, string>>): Block {
  const secondary = { ...attributes, [OWNER]: host };
  const wanted = JSON.stringify(secondary);
  let index = block.attributes.findIndex((a) => a.handle_id === null && JSON.stringify(a.secondary) === wanted);
  const list = [...block.attributes];
  if (index < 0) index = list.push({ handle_id: null, secondary }) - 1;
  const allocations = [...block.allocations];
  allocations[ordinal] = index;
  return { ...block, allocations, attributes: list, unallocated: block.unallocated.filter((o) => o !== ordinal) };
}

/** The block with `ordinal` free again, and attributes nothing uses any more dropped. */
function free(block: Block, ordinal: number): Block {
  const allocations = [...block.allocations];
  allocations[ordinal] = null;
  const used = [...new Set(allocations.filter((a): a is number => a !== null))].sort((a, b) => a - b);
  const renumber = new Map(used.map((old, i) => [old, i]));
  return {
    ...block,
    allocations: allocations.map((a) => (a === null ? null : (renumber.get(a) as number))),
    attributes: used.map((old) => block.attributes[old] as AllocationAttributes),
    unallocated: [...block.unallocated, ordinal],
  };
}

const isEmpty = (block: Block): boolean => block.allocations.every((a) => a === null);

function addressAt(block: Block, ordinal: number): string {
  return bigIntToAddress(addressToBigInt(block.cidr.split('/')[0] as string) + BigInt(ordinal), block.version);
}

export class BlockIpam {
  constructor(private readonly kv: KvStore) {}

  /** Assigns a free address for `host` from the usable pools of that version (or from one pool). */
  async assign(version: IpVersion, host: string, onlyPool?: string, attributes: Record<string, string> = {}): Promise<BlockAssignment> {
    const pools = usablePools(await new PoolStore(this.kv).list(version)).filter((p) => onlyPool === undefined || p.cidr.text === onlyPool || cidrNetworkText(p.cidr) === onlyPool);
    if (pools.length === 0) {
      throw new BlockIpamError(onlyPool === undefined ? `No IPv${version} pool to assign an address from: add one with 'calicoctl pool add'.` : `No usable pool ${onlyPool}.`);
    }
    return untilCommitted(hostBlocksPrefix(host, version), async () => {
      const [affine, all] = await Promise.all([this.kv.getPrefix(hostBlocksPrefix(host, version)), this.kv.getPrefix(blockPrefix(version))]);
      const blocks = new Map(all.kvs.map((kv) => [kv.key, kv]));
      const inPool = (cidr: string) => pools.find((p) => cidrContains(p.cidr, cidr.split('/')[0] as string));

      // 1. This host's own blocks, in address order.
      const own = affine.kvs.map((kv) => parseAffinityKey(kv.key)?.cidr).filter((c): c is string => c !== undefined && inPool(c) !== undefined);
      for (const cidr of own.sort(byAddress)) {
        const stored = blocks.get(blockKey(version, cidr));
        if (!stored) continue;
        const result = await this.takeFrom(stored, host, attributes, inPool(cidr) as Pool);
        if (result !== undefined) return result;
      }
      // 2. A block nobody holds yet: claim it and take its first address, in one transaction.
      for (const pool of pools) {
        for (const cidr of blocksOf(pool.cidr)) {
          const key = blockKey(version, cidr);
          const stored = blocks.get(key);
          if (stored && decodeOrUndefined(stored)?.affinity !== undefined) continue;
          const block = stored ? decodeOrUndefined(stored) : emptyBlock(cidr, version, undefined);
          if (!block) continue;
          const claimed: Block = { ...block, affinity: host };
          const ordinal = firstFree(claimed, pool);
          if (ordinal === undefined) continue;
          const next = allocate(claimed, ordinal, host, attributes);
          const committed = await this.kv.commit(
            [{ key, modRevision: stored?.modRevision ?? 0 }],
            [
              { type: 'put', key, value: encodeBlock(next) },
              { type: 'put', key: affinityKey(host, version, cidr), value: '' },
            ],
          );
          if (!committed) return RETRY;
          return assignmentOf(next, ordinal, pool);
        }
      }
      // 3. The pool has no free block: borrow one address from any block that has room.
      for (const stored of [...blocks.values()].sort((a, b) => byAddress(keyCidr(a.key), keyCidr(b.key)))) {
        const pool = inPool(keyCidr(stored.key));
        if (!pool) continue;
        const block = decodeOrUndefined(stored);
        if (!block || (block.strictAffinity && block.affinity !== host)) continue;
        const result = await this.takeFrom(stored, host, attributes, pool);
        if (result !== undefined) return result;
      }
      throw new BlockIpamError(`No free IPv${version} address left in ${pools.map((p) => p.cidr.text).join(', ')}.`);
    });
  }

  /** Assigns one given address for `host`; it must lie in a usable pool and be free. */
  async assignAddress(address: string, host: string, attributes: Record<string, string> = {}): Promise<BlockAssignment> {
    const parsed = parseIp(address);
    if (!parsed) throw new BlockIpamError(`'${address}' is not an IP address.`);
    const pool = usablePools(await new PoolStore(this.kv).list(parsed.version)).find((p) => cidrContains(p.cidr, parsed.text));
    if (!pool) throw new BlockIpamError(`${parsed.text} is not in any Calico IP pool.`);
    const cidr = blockOf(parsed.text, parsed.version);
    const key = blockKey(parsed.version, cidr);
    return untilCommitted(key, async () => {
      const stored = await this.kv.get(key);
      // A block made for one chosen address belongs to nobody: the address is announced on its
      // own, and the block stays free for a host to claim.
      const block = stored ? decodeBlock(key, stored.value) : emptyBlock(cidr, parsed.version, undefined);
      if (block.strictAffinity && block.affinity !== host) throw new BlockIpamError(`${parsed.text} is in a block that host ${block.affinity} holds strictly.`);
      const ordinal = Number(addressToBigInt(parsed.text) - addressToBigInt(cidr.split('/')[0] as string));
      if (block.allocations[ordinal] !== null) throw new BlockIpamError(`${parsed.text} is already assigned.`);
      const next = allocate(block, ordinal, host, attributes);
      if (!(await this.kv.commit([{ key, modRevision: stored?.modRevision ?? 0 }], [{ type: 'put', key, value: encodeBlock(next) }]))) return RETRY;
      return assignmentOf(next, ordinal, pool);
    });
  }

  async info(address: string): Promise<BlockAssignment | undefined> {
    const parsed = parseIp(address);
    if (!parsed) throw new BlockIpamError(`'${address}' is not an IP address.`);
    const cidr = blockOf(parsed.text, parsed.version);
    const stored = await this.kv.get(blockKey(parsed.version, cidr));
    if (!stored) return undefined;
    const block = decodeBlock(stored.key, stored.value);
    const ordinal = Number(addressToBigInt(parsed.text) - addressToBigInt(cidr.split('/')[0] as string));
    if (block.allocations[ordinal] === null) return undefined;
    const pool = usablePools(await new PoolStore(this.kv).list(parsed.version)).find((p) => cidrContains(p.cidr, parsed.text));
    return assignmentOf(block, ordinal, pool);
  }

  /**
   * Frees an address. Resolves false when it was not assigned (releasing is idempotent). A block
   * that nobody holds is deleted once it is empty; a host keeps its blocks until it is removed.
   */
  async release(address: string): Promise<boolean> {
    const parsed = parseIp(address);
    if (!parsed) throw new BlockIpamError(`'${address}' is not an IP address.`);
    const cidr = blockOf(parsed.text, parsed.version);
    const key = blockKey(parsed.version, cidr);
    return untilCommitted(key, async () => {
      const stored = await this.kv.get(key);
      if (!stored) return false;
      const block = decodeBlock(key, stored.value);
      const ordinal = Number(addressToBigInt(parsed.text) - addressToBigInt(cidr.split('/')[0] as string));
      if (block.allocations[ordinal] === null) return false;
      const next = free(block, ordinal);
      const operation: KvOperation = isEmpty(next) && next.affinity === undefined ? { type: 'delete', key } : { type: 'put', key, value: encodeBlock(next) };
      return (await this.kv.commit([{ key, modRevision: stored.modRevision }], [operation])) ? true : RETRY;
    });
  }

  /** Every assigned address of that version. A block that does not decode is skipped. */
  async list(version: IpVersion): Promise<BlockAssignment[]> {
    const [{ kvs }, pools] = await Promise.all([this.kv.getPrefix(blockPrefix(version)), new PoolStore(this.kv).list(version)]);
    return kvs.flatMap((kv) => {
      const block = decodeOrUndefined(kv);
      if (!block) return [];
      const pool = pools.find((p) => cidrContains(p.cidr, block.cidr.split('/')[0] as string));
      return block.allocations.flatMap((a, ordinal) => (a === null ? [] : [assignmentOf(block, ordinal, pool)]));
    });
  }

  /** Every block, decoded; one that does not decode is skipped. */
  async blocks(version: IpVersion): Promise<Block[]> {
    const { kvs } = await this.kv.getPrefix(blockPrefix(version));
    return kvs.flatMap((kv) => decodeOrUndefined(kv) ?? []);
  }

  /** The blocks a host holds, e.g. for BIRD's blackhole routes. */
  async hostBlocks(host: string, version: IpVersion): Promise<string[]> {
    const { kvs } = await this.kv.getPrefix(hostBlocksPrefix(host, version));
    return kvs.map((kv) => parseAffinityKey(kv.key)?.cidr).filter((c): c is string => c !== undefined).sort(byAddress);
  }

  /**
   * Gives up everything a removed host had: the addresses assigned for it are freed, its affinities
   * are deleted, and each of its blocks is deleted when empty or left to nobody otherwise.
   */
  async releaseHost(host: string): Promise<{ addresses: number; blocks: number }> {
    let addresses = 0;
    let blocks = 0;
    for (const version of [4, 6] as const) {
      for (const block of await this.blocks(version)) {
        const owned = block.allocations.flatMap((a, ordinal) => (a !== null && block.attributes[a]?.secondary[OWNER] === host ? [ordinal] : []));
        if (owned.length === 0 && block.affinity !== host) continue;
        const key = blockKey(version, block.cidr);
        const freed = await untilCommitted(key, async () => {
          const stored = await this.kv.get(key);
          if (!stored) return 0;
          let next = decodeBlock(key, stored.value);
          let count = 0;
          for (const [ordinal, a] of next.allocations.entries()) {
            if (a !== null && next.attributes[a]?.secondary[OWNER] === host) {
              next = free(next, ordinal);
              count++;
            }
          }
          if (next.affinity === host) next = { ...next, affinity: undefined };
          const operation: KvOperation = isEmpty(next) && next.affinity === undefined ? { type: 'delete', key } : { type: 'put', key, value: encodeBlock(next) };
          return (await this.kv.commit([{ key, modRevision: stored.modRevision }], [operation])) ? count : RETRY;
        });
        addresses += freed;
        if (block.affinity === host) blocks++;
      }
    }
    await this.kv.commit([], [{ type: 'deletePrefix', prefix: `${HOSTS_PREFIX}${host}/` }]);
    return { addresses, blocks };
  }

  /** Deletes every block inside a pool, and the affinities to them: for `pool remove`. */
  async releasePool(cidr: Cidr): Promise<void> {
    const { kvs } = await this.kv.getPrefix(HOSTS_PREFIX);
    const blocks = await this.kv.getPrefix(blockPrefix(cidr.version));
    const inside = (blockCidr: string) => cidrContains(cidr, blockCidr.split('/')[0] as string);
    const operations: KvOperation[] = [
      ...blocks.kvs.filter((kv) => inside(keyCidr(kv.key))).map((kv): KvOperation => ({ type: 'delete', key: kv.key })),
      ...kvs.filter((kv) => {
        const parsed = parseAffinityKey(kv.key);
        return parsed !== undefined && parsed.version === cidr.version && inside(parsed.cidr);
      }).map((kv): KvOperation => ({ type: 'delete', key: kv.key })),
    ];
    const guards: RevisionGuard[] = blocks.kvs.filter((kv) => inside(keyCidr(kv.key))).map((kv) => ({ key: kv.key, modRevision: kv.modRevision }));
    if (operations.length > 0) await this.kv.commit(guards, operations);
  }

  /** One address from a stored block, committed; undefined when the block is full. */
  private async takeFrom(stored: KeyValue, host: string, attributes: Readonly<Record<string, string>>, pool: Pool): Promise<BlockAssignment | typeof RETRY | undefined> {
    const block = decodeOrUndefined(stored);
    if (!block) return undefined;
    const ordinal = firstFree(block, pool);
    if (ordinal === undefined) return undefined;
    const next = allocate(block, ordinal, host, attributes);
    if (!(await this.kv.commit([{ key: stored.key, modRevision: stored.modRevision }], [{ type: 'put', key: stored.key, value: encodeBlock(next) }]))) return RETRY;
    return assignmentOf(next, ordinal, pool);
  }
}

function assignmentOf(block: Block, ordinal: number, pool: Pool | undefined): BlockAssignment {
  const index = block.allocations[ordinal] as number;
  const { [OWNER]: owner, ...attributes } = block.attributes[index]?.secondary ?? {};
  return {
    address: addressAt(block, ordinal),
    version: block.version,
    host: owner ?? block.affinity ?? '',
    pool: pool ? cidrNetworkText(pool.cidr) : '',
    block: block.cidr,
    blockHost: block.affinity,
    attributes,
  };
}

/**
 * The first free ordinal in the block's order. The pool's own first and last addresses are never
 * handed out: they read as a network and a broadcast address.
 */
function firstFree(block: Block, pool: Pool): number | undefined {
  const { first, last } = cidrBounds(pool.cidr);
  const base = addressToBigInt(block.cidr.split('/')[0] as string);
  return block.unallocated.find((ordinal) => {
    const value = base + BigInt(ordinal);
    return value !== first && value !== last;
  });
}

/** The blocks of a pool, in address order (a pool smaller than a block is one partial block). */
function* blocksOf(pool: Cidr): Generator<string> {
  const { first, last } = cidrBounds(pool);
  const size = BigInt(BLOCK_SIZE);
  for (let value = first - (first % size); value <= last; value += size) yield `${bigIntToAddress(value, pool.version)}/${BLOCK_PREFIX[pool.version]}`;
}

function usablePools(pools: readonly Pool[]): Pool[] {
  return pools.filter((pool) => !pool.disabled && pool.ipam !== false).sort((a, b) => byAddress(a.cidr.text, b.cidr.text));
}

function decodeOrUndefined(kv: KeyValue): Block | undefined {
  try {
    return decodeBlock(kv.key, kv.value);
  } catch {
    return undefined;
  }
}

const keyCidr = (key: string): string => key.slice(key.lastIndexOf('/') + 1).replace(/-(\d+)$/, '/$1');

function byAddress(a: string, b: string): number {
  const x = addressToBigInt(a.split('/')[0] as string);
  const y = addressToBigInt(b.split('/')[0] as string);
  return x < y ? -1 : x > y ? 1 : 0;
}
