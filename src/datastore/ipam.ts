import { CalicoError, quoted } from '../errors';
import type { Cidr, IpVersion } from '../policy/ast';
import { addressToBigInt, cidrContains, cidrNetworkText, parseIp } from '../policy/cidr';
import {
  allocate,
  type Assignment,
  type Block,
  assignmentOf,
  blockOf,
  blocksOf,
  byAddress,
  decodeBlock,
  decodeOrUndefined,
  emptyBlock,
  encodeBlock,
  firstFree,
  free,
  isEmpty,
  keyCidr,
  OWNER,
  usablePools,
} from './blocks';
import { AlreadyExistsError, type CorruptReporter, decodeEach, NotFoundError, warnOnStderr } from './errors';
import { AFFINITY_HOSTS as HOSTS_PREFIX, affinityKey, blockKey, blockPrefix, hostBlocksPrefix, parseAffinityKey } from './keys';
import type { KeyValue, KvOperation, KvStore, RevisionGuard } from './kv';
import { type Pool, PoolStore } from './pools';
import { RETRY, untilCommitted } from './retry';

export type { Assignment } from './blocks';

/**
 * Address assignment in blocks with host affinity, so that each host announces its containers as
 * a few aggregated routes instead of one /32 each (src/datastore/blocks.ts has the layout):
 *
 * - a host takes addresses from its own blocks first (`/calico/ipam/v2/host/<host>/ipv<N>/block/…`
 *   marks that it holds one), claims a free block when they are full, and borrows a single address
 *   from another host's block only when the pool has no free block left;
 * - every change to a block is a transaction guarded by the block's revision, so two hosts (or two
 *   concurrent `docker run`s) are never given the same address.
 */

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

  /**
   * Assigns a free address for `host` from the usable pools of that version (or from one pool),
   * recording `attributes` and the asker's `handle` with it (Assignment.handle).
   */
  async assign(version: IpVersion, host: string, onlyPool?: string, attributes: Record<string, string> = {}, handle: string | null = null): Promise<Assignment> {
    const pools = usablePools(await new PoolStore(this.kv, this.report).list(version)).filter((p) => onlyPool === undefined || p.cidr.text === onlyPool || cidrNetworkText(p.cidr) === onlyPool);
    if (pools.length === 0) {
      throw new IpamError(onlyPool === undefined ? `No IPv${version} pool to assign an address from: add one with 'calicoctl pool add'.` : `No usable pool ${quoted(onlyPool)}.`);
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
        const result = await this.takeFrom(stored, host, attributes, handle, inPool(cidr) as Pool);
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
          const next = allocate(claimed, ordinal, host, attributes, handle);
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
        const result = await this.takeFrom(stored, host, attributes, handle, pool);
        if (result !== undefined) return result;
      }
      throw new IpamError(`No free IPv${version} address left in ${pools.map((p) => p.cidr.text).join(', ')}.`);
    });
  }

  /** Assigns one given address for `host`; it must lie in a usable pool and be free. */
  async assignAddress(address: string, host: string, attributes: Record<string, string> = {}, handle: string | null = null): Promise<Assignment> {
    const parsed = parseIp(address);
    if (!parsed) throw new IpamError(`${quoted(address)} is not an IP address.`);
    const pool = usablePools(await new PoolStore(this.kv, this.report).list(parsed.version)).find((p) => cidrContains(p.cidr, parsed.text));
    if (!pool) throw new IpamError(`${parsed.text} is not in any Calico IP pool.`);
    const cidr = blockOf(parsed.text, parsed.version);
    const key = blockKey(parsed.version, cidr);
    return untilCommitted(key, async () => {
      const stored = await this.kv.get(key);
      // A block made for one chosen address belongs to nobody: the address is announced on its
      // own, and the block stays free for a host to claim.
      const block = stored ? decodeBlock(key, stored.value) : emptyBlock(cidr, parsed.version, undefined);
      if (block.strictAffinity && block.affinity !== host) throw new IpamError(`${parsed.text} is in a block that host ${block.affinity} holds strictly.`);
      const ordinal = Number(addressToBigInt(parsed.text) - addressToBigInt(cidr.split('/')[0] as string));
      if (block.allocations[ordinal] !== null) throw new AlreadyExistsError('address', parsed.text, `${parsed.text} is already assigned.`);
      const next = allocate(block, ordinal, host, attributes, handle);
      if (!(await this.kv.commit([{ key, modRevision: stored?.modRevision ?? 0 }], [{ type: 'put', key, value: encodeBlock(next) }]))) return RETRY;
      return assignmentOf(next, ordinal, pool);
    });
  }

  /** Who an address is assigned for, in which block; NotFoundError when it is not assigned. */
  async info(address: string): Promise<Assignment> {
    const parsed = parseIp(address);
    if (!parsed) throw new IpamError(`${quoted(address)} is not an IP address.`);
    const cidr = blockOf(parsed.text, parsed.version);
    const stored = await this.kv.get(blockKey(parsed.version, cidr));
    const block = stored && decodeBlock(stored.key, stored.value);
    const ordinal = Number(addressToBigInt(parsed.text) - addressToBigInt(cidr.split('/')[0] as string));
    if (!block || block.allocations[ordinal] === null) throw new NotFoundError('address', parsed.text, `IP ${parsed.text} is not currently assigned`);
    const pool = usablePools(await new PoolStore(this.kv, this.report).list(parsed.version)).find((p) => cidrContains(p.cidr, parsed.text));
    return assignmentOf(block, ordinal, pool);
  }

  /**
   * Frees an address. Resolves false when it was not assigned (releasing is idempotent). A block
   * that nobody holds is deleted once it is empty; a host keeps its blocks until it is removed.
   */
  async release(address: string): Promise<boolean> {
    const { key, ordinal } = this.locate(address);
    return untilCommitted(key, async () => {
      const stored = await this.kv.get(key);
      const operation = stored && freeing(key, stored.value, ordinal);
      if (!stored || !operation) return false;
      return (await this.kv.commit([{ key, modRevision: stored.modRevision }], [operation])) ? true : RETRY;
    });
  }

  /**
   * Frees an address only if its block is still at `blockRevision` and nothing under each
   * `unchangedSince` prefix was written after that revision: for `diags --check --fix`, which
   * judged the address unused from a read at those revisions. One transaction, never retried:
   * resolves false when anything moved, and the caller checks again.
   */
  async releaseIfUnchanged(address: string, blockRevision: number, unchanged: readonly { prefix: string; since: number }[]): Promise<boolean> {
    const { key, ordinal } = this.locate(address);
    const stored = await this.kv.get(key);
    const operation = stored && stored.modRevision === blockRevision && freeing(key, stored.value, ordinal);
    if (!operation) return false;
    const guards: RevisionGuard[] = [{ key, modRevision: blockRevision }, ...unchanged.map((u) => ({ prefix: u.prefix, unchangedSince: u.since }))];
    return this.kv.commit(guards, [operation]);
  }

  /** The block key and ordinal of an address. */
  private locate(address: string): { key: string; ordinal: number } {
    const parsed = parseIp(address);
    if (!parsed) throw new IpamError(`${quoted(address)} is not an IP address.`);
    const cidr = blockOf(parsed.text, parsed.version);
    return { key: blockKey(parsed.version, cidr), ordinal: Number(addressToBigInt(parsed.text) - addressToBigInt(cidr.split('/')[0] as string)) };
  }

  /** Every assigned address of that version. A block that does not decode is reported and skipped. */
  async list(version: IpVersion): Promise<Assignment[]> {
    const [blocks, pools] = await Promise.all([this.blocks(version), new PoolStore(this.kv, this.report).list(version)]);
    return blocks.flatMap((block) => {
      const pool = pools.find((p) => cidrContains(p.cidr, block.cidr.split('/')[0] as string));
      return block.allocations.flatMap((a, ordinal) => (a === null ? [] : [assignmentOf(block, ordinal, pool)]));
    });
  }

  /** Every block, decoded; one that does not decode is reported and skipped. */
  async blocks(version: IpVersion): Promise<Block[]> {
    const { kvs } = await this.kv.getPrefix(blockPrefix(version));
    return decodeEach(kvs, (kv) => decodeBlock(kv.key, kv.value), this.report);
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
    const claims = await this.kv.getPrefix(`${HOSTS_PREFIX}${host}/`);
    if (claims.kvs.length > 0) await this.kv.commit([], [{ type: 'deletePrefix', prefix: `${HOSTS_PREFIX}${host}/` }]);
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
  private async takeFrom(stored: KeyValue, host: string, attributes: Readonly<Record<string, string>>, handle: string | null, pool: Pool): Promise<Assignment | typeof RETRY | undefined> {
    const block = decodeOrUndefined(stored);
    if (!block) return undefined;
    const ordinal = firstFree(block, pool);
    if (ordinal === undefined) return undefined;
    const next = allocate(block, ordinal, host, attributes, handle);
    if (!(await this.kv.commit([{ key: stored.key, modRevision: stored.modRevision }], [{ type: 'put', key: stored.key, value: encodeBlock(next) }]))) return RETRY;
    return assignmentOf(next, ordinal, pool);
  }
}

/**
 * The write that frees one ordinal of a stored block, or undefined when it is free already. A block
 * that nobody holds is deleted once it is empty; a host keeps its blocks until it is removed.
 */
function freeing(key: string, value: string, ordinal: number): KvOperation | undefined {
  const block = decodeBlock(key, value);
  if (block.allocations[ordinal] === null) return undefined;
  const next = free(block, ordinal);
  return isEmpty(next) && next.affinity === undefined ? { type: 'delete', key } : { type: 'put', key, value: encodeBlock(next) };
}
