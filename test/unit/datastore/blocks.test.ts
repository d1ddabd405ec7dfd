import { affinityKey, BLOCK_SIZE, blockKey, blockOf, decodeBlock } from '../../../src/datastore/blocks';
import { IpamStore } from '../../../src/datastore/ipam';
import { MemoryKvStore } from '../../fakes/memory-kv';

function withPools(...cidrs: string[]) {
  const kv = new MemoryKvStore();
  for (const cidr of cidrs) kv.seed(`/calico/v1/ipam/v${cidr.includes(':') ? 6 : 4}/pool/${cidr.replace('/', '-')}`, { cidr });
  return { kv, ipam: new IpamStore(kv, () => undefined) };
}

const blockAt = (kv: MemoryKvStore, version: 4 | 6, cidr: string) => {
  const key = blockKey(version, cidr);
  const entry = kv.data.get(key);
  return entry && decodeBlock(key, entry.value);
};

describe('block IPAM', () => {
  it('claims a /26 for the host, records its affinity, and skips the pool\'s network address', async () => {
    const { kv, ipam } = withPools('10.1.0.0/16');
    const first = await ipam.assign(4, 'host1');
    expect(first).toMatchObject({ address: '10.1.0.1', block: '10.1.0.0/26', blockHost: 'host1', host: 'host1', pool: '10.1.0.0/16' });
    expect(kv.data.has(affinityKey('host1', 4, '10.1.0.0/26'))).toBe(true);
    // pycalico's JSON shape, so other tools read it.
    expect(JSON.parse(kv.data.get('/calico/ipam/v2/assignment/ipv4/block/10.1.0.0-26')!.value)).toMatchObject({
      cidr: '10.1.0.0/26',
      affinity: 'host:host1',
      strict_affinity: false,
      attributes: [{ handle_id: null, secondary: { hostname: 'host1' } }],
    });
  });

  it('fills its own block before claiming the next, and each host gets its own blocks', async () => {
    const { ipam } = withPools('10.1.0.0/16');
    const mine: string[] = [];
    for (let i = 0; i < 64; i++) mine.push((await ipam.assign(4, 'host1')).address);
    expect(new Set(mine.map((a) => blockOf(a, 4)))).toEqual(new Set(['10.1.0.0/26', '10.1.0.64/26']));
    expect(mine.slice(0, 63).every((a) => blockOf(a, 4) === '10.1.0.0/26')).toBe(true);
    expect((await ipam.assign(4, 'host2')).block).toBe('10.1.0.128/26');
    expect(await ipam.hostBlocks('host1', 4)).toEqual(['10.1.0.0/26', '10.1.0.64/26']);
  });

  it('borrows a single address from another host\'s block only when no block is free', async () => {
    const { ipam } = withPools('10.1.0.0/25');
    for (let i = 0; i < 10; i++) await ipam.assign(4, 'host1');
    await ipam.assign(4, 'host2'); // claims the second (and last) block
    const borrowed = await ipam.assign(4, 'host3');
    expect(borrowed).toMatchObject({ host: 'host3', blockHost: 'host1', block: '10.1.0.0/26' });
    expect(await ipam.hostBlocks('host3', 4)).toEqual([]);
  });

  it('never gives one address twice, with 3 hosts assigning 90 addresses at once', async () => {
    const { ipam } = withPools('10.1.0.0/24');
    const all = await Promise.all(Array.from({ length: 90 }, (_, i) => ipam.assign(4, `host${(i % 3) + 1}`)));
    expect(new Set(all.map((a) => a.address)).size).toBe(90);
    // Mostly from each host's own blocks: nothing is borrowed while a block is free.
    const listed = await ipam.list(4);
    expect(listed).toHaveLength(90);
  });

  it('assigns a chosen address in a block nobody holds, announced on its own', async () => {
    const { kv, ipam } = withPools('10.1.0.0/16');
    const chosen = await ipam.assignAddress('10.1.250.3', 'host2');
    expect(chosen).toMatchObject({ address: '10.1.250.3', block: '10.1.250.0/26', blockHost: undefined, host: 'host2' });
    await expect(ipam.assignAddress('10.1.250.3', 'host1')).rejects.toThrow('10.1.250.3 is already assigned.');
    await expect(ipam.assignAddress('172.16.0.1', 'host1')).rejects.toThrow('172.16.0.1 is not in any Calico IP pool.');
    // Released, the block nobody holds goes away.
    expect(await ipam.release('10.1.250.3')).toBe(true);
    expect(kv.data.has(blockKey(4, '10.1.250.0/26'))).toBe(false);
    expect(await ipam.release('10.1.250.3')).toBe(false);
  });

  it('releases into the back of the free list, so an address is not reused at once', async () => {
    const { kv, ipam } = withPools('10.1.0.0/16');
    const a = await ipam.assign(4, 'host1');
    expect(await ipam.release(a.address)).toBe(true);
    expect((await ipam.assign(4, 'host1')).address).toBe('10.1.0.2');
    const block = blockAt(kv, 4, '10.1.0.0/26')!;
    expect(block.unallocated.at(-1)).toBe(1);
    expect(block.attributes).toHaveLength(1);
    // The host keeps its block while empty.
    await ipam.release('10.1.0.2');
    expect(blockAt(kv, 4, '10.1.0.0/26')?.affinity).toBe('host1');
  });

  it('reports an assignment with its owner, block and the block\'s host', async () => {
    const { ipam } = withPools('10.1.0.0/16');
    await ipam.assign(4, 'host1', undefined, { container: 'c1' });
    expect(await ipam.info('10.1.0.1')).toMatchObject({ host: 'host1', blockHost: 'host1', attributes: { container: 'c1' } });
    await expect(ipam.info('10.1.0.9')).rejects.toThrow('IP 10.1.0.9 is not currently assigned');
    await expect(ipam.info('10.9.0.1')).rejects.toThrow('IP 10.9.0.1 is not currently assigned');
  });

  it('works the same for IPv6 with /122 blocks', async () => {
    const { ipam } = withPools('fd80:24e2:f998:72d6::/64');
    const a = await ipam.assign(6, 'host1');
    expect(a).toMatchObject({ address: 'fd80:24e2:f998:72d6::1', block: 'fd80:24e2:f998:72d6::/122' });
    expect((await ipam.assign(6, 'host2')).block).toBe('fd80:24e2:f998:72d6::40/122');
  });

  it('frees what a removed host had: its addresses, its affinities, its empty blocks', async () => {
    const { kv, ipam } = withPools('10.1.0.0/25');
    const kept = await ipam.assign(4, 'host1');
    for (let i = 0; i < 5; i++) await ipam.assign(4, 'host2');
    await ipam.assign(4, 'host1'); // fills nothing new: host1 still has room in its block
    const borrowedOnHost2 = await ipam.assignAddress('10.1.0.40', 'host2'); // inside host1's block
    const freed = await ipam.releaseHost('host1');
    expect(freed).toEqual({ addresses: 2, blocks: 1 });
    expect([...kv.data.keys()].some((k) => k.includes('/host/host1/'))).toBe(false);
    // host2's address in host1's old block survives; the block now belongs to nobody.
    expect(await ipam.info(borrowedOnHost2.address)).toMatchObject({ host: 'host2', blockHost: undefined });
    await expect(ipam.info(kept.address)).rejects.toThrow(/not currently assigned/);
  });

  it('skips a block that does not decode when listing, and refuses to assign into it', async () => {
    const { kv, ipam } = withPools('10.1.0.0/16');
    kv.seed(blockKey(4, '10.1.0.0/26'), '{"cidr": "nonsense"}');
    await ipam.assign(4, 'host1');
    expect((await ipam.list(4)).map((a) => a.address)).toEqual(['10.1.0.64']);
    await expect(ipam.release('10.1.0.3')).rejects.toThrow(/10.1.0.0-26 is invalid/);
  });

  it('says which pools are full when every address is taken', async () => {
    const { ipam } = withPools('10.1.0.0/26');
    for (let i = 0; i < BLOCK_SIZE - 2; i++) await ipam.assign(4, `host${i % 2}`);
    await expect(ipam.assign(4, 'host1')).rejects.toThrow('No free IPv4 address left in 10.1.0.0/26.');
  });
});
