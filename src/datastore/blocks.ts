import type { Cidr, IpVersion } from '../policy/ast';
import { addressToBigInt, bigIntToAddress, cidrBounds, cidrNetworkText, parseCidr } from '../policy/cidr';
import { CorruptDataError, parseStoredObject } from './errors';
import type { KeyValue } from './kv';
import { AFFINITY_HOSTS } from './keys';
import type { Pool } from './pools';

/**
 * Allocation blocks, in pycalico v0.18's layout: one block of 64 addresses (/26 for IPv4, /122 for
 * IPv6) per key `/calico/ipam/v2/assignment/ipv<N>/block/<net>-<len>`, saying which host holds it
 * and which ordinals are allocated to what. Pure: the codec and the edits; src/datastore/ipam.ts
 * reads and writes them.
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

export interface Assignment {
  readonly address: string;
  readonly version: IpVersion;
  /** The host the address was assigned for (its owner). */
  readonly host: string;
  readonly pool: string;
  readonly block: string;
  /** The host holding the block, when any: it differs from `host` for a borrowed address. */
  readonly blockHost: string | undefined;
  readonly attributes: Readonly<Record<string, string>>;
  /**
   * Who asked for the address, when the asker said (the block's `handle_id`): the plugin gives each
   * of Docker's RequestAddress calls its own, so that an address whose reply was lost (no endpoint
   * ever holds it) can be found and freed later by its handle.
   */
  readonly handle?: string;
}

/** The secondary attribute that records which host an address was assigned for. */
export const OWNER = 'hostname';

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

export function emptyBlock(cidr: string, version: IpVersion, affinity: string | undefined): Block {
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
export function allocate(block: Block, ordinal: number, host: string, attributes: Readonly<Record<string, string>>, handle: string | null = null): Block {
  const secondary = { ...attributes, [OWNER]: host };
  const wanted = JSON.stringify(secondary);
  let index = block.attributes.findIndex((a) => a.handle_id === handle && JSON.stringify(a.secondary) === wanted);
  const list = [...block.attributes];
  if (index < 0) index = list.push({ handle_id: handle, secondary }) - 1;
  const allocations = [...block.allocations];
  allocations[ordinal] = index;
  return { ...block, allocations, attributes: list, unallocated: block.unallocated.filter((o) => o !== ordinal) };
}

/** The block with `ordinal` free again, and attributes nothing uses any more dropped. */
export function free(block: Block, ordinal: number): Block {
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

export const isEmpty = (block: Block): boolean => block.allocations.every((a) => a === null);

export function addressAt(block: Block, ordinal: number): string {
  return bigIntToAddress(addressToBigInt(block.cidr.split('/')[0] as string) + BigInt(ordinal), block.version);
}

export function assignmentOf(block: Block, ordinal: number, pool: Pool | undefined): Assignment {
  const index = block.allocations[ordinal] as number;
  const { [OWNER]: owner, ...attributes } = block.attributes[index]?.secondary ?? {};
  const handle = block.attributes[index]?.handle_id;
  return {
    ...(typeof handle === 'string' && { handle }),
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
export function firstFree(block: Block, pool: Pool): number | undefined {
  const { first, last } = cidrBounds(pool.cidr);
  const base = addressToBigInt(block.cidr.split('/')[0] as string);
  return block.unallocated.find((ordinal) => {
    const value = base + BigInt(ordinal);
    return value !== first && value !== last;
  });
}

/** The blocks of a pool, in address order (a pool smaller than a block is one partial block). */
export function* blocksOf(pool: Cidr): Generator<string> {
  const { first, last } = cidrBounds(pool);
  const size = BigInt(BLOCK_SIZE);
  for (let value = first - (first % size); value <= last; value += size) yield `${bigIntToAddress(value, pool.version)}/${BLOCK_PREFIX[pool.version]}`;
}

export function usablePools(pools: readonly Pool[]): Pool[] {
  return pools.filter((pool) => !pool.disabled && pool.ipam !== false).sort((a, b) => byAddress(a.cidr.text, b.cidr.text));
}

export function decodeOrUndefined(kv: KeyValue): Block | undefined {
  try {
    return decodeBlock(kv.key, kv.value);
  } catch {
    return undefined;
  }
}

export const keyCidr = (key: string): string => key.slice(key.lastIndexOf('/') + 1).replace(/-(\d+)$/, '/$1');

export function byAddress(a: string, b: string): number {
  const x = addressToBigInt(a.split('/')[0] as string);
  const y = addressToBigInt(b.split('/')[0] as string);
  return x < y ? -1 : x > y ? 1 : 0;
}
