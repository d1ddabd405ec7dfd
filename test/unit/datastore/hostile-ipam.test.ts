import fc from 'fast-check';
import { CalicoError } from '../../../src/errors';
import { IpamStore } from '../../../src/datastore/ipam';
import { cidrContains, parseCidr } from '../../../src/policy/cidr';
import { fuzzParams, hostileString, mangledObject, storedText } from '../../fakes/fuzz';
import { MemoryKvStore } from '../../fakes/memory-kv';

/**
 * Hostile IPAM blocks, affinities and pools in etcd: assigning and releasing addresses either works,
 * from a valid pool, or fails with one of our errors; nothing else is thrown, and each bad value is
 * reported once.
 */
const POOL = '10.65.0.0/16';
const blockSegArb = fc.oneof(fc.constantFrom('10.65.0.0-26', '10.65.0.64-26', '0.0.0.0-0', '10.65.0.0-33'), hostileString.filter((s) => !s.includes('/')));
const seedArb = fc.oneof(
  fc.tuple(blockSegArb, storedText(mangledObject({ cidr: '10.65.0.0/26', affinity: 'host:host1', allocations: [0, null, null], unallocated: [1, 2], attributes: [{ handle_id: null, secondary: { host: 'host1' } }] }))).map(([seg, value]) => ({ key: `/calico/ipam/v2/assignment/ipv4/block/${seg}`, value })),
  fc.tuple(fc.oneof(fc.constant('host1'), hostileString.filter((s) => s !== '' && !s.includes('/'))), blockSegArb, hostileString).map(([host, seg, value]) => ({ key: `/calico/ipam/v2/host/${host}/ipv4/block/${seg}`, value })),
  fc.tuple(fc.constantFrom('10.65.0.0-16', '0.0.0.0-0'), storedText(mangledObject({ cidr: POOL }))).map(([name, value]) => ({ key: `/calico/v1/ipam/v4/pool/${name}`, value })),
);

describe('IPAM with hostile blocks, affinities and pools', () => {
  it('assigns from a valid pool or fails with our own error, reporting each bad value once', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(seedArb, { maxLength: 8 }), fc.array(fc.oneof(fc.constant('assign'), fc.constantFrom('10.65.0.1', '10.65.0.2', '10.65.0.70'), hostileString), { minLength: 1, maxLength: 5 }), async (seeds, actions) => {
        const kv = new MemoryKvStore();
        kv.seed('/calico/v1/ipam/v4/pool/10.65.0.0-16', { cidr: POOL });
        for (const { key, value } of seeds) kv.seed(key, value);
        const reported: string[] = [];
        const ipam = new IpamStore(kv, (error) => void reported.push(error.message));
        for (const action of actions) {
          try {
            if (action === 'assign') {
              const { address } = await ipam.assign(4, 'host1');
              const pools = (await kv.getPrefix('/calico/v1/ipam/v4/pool/')).kvs.map((kv) => { try { return parseCidr(String(JSON.parse(kv.value).cidr)); } catch { return undefined; } });
              expect(pools.some((pool) => pool !== undefined && cidrContains(pool, address))).toBe(true);
            } else await ipam.release(action);
            await ipam.list(4);
          } catch (error) {
            if (error instanceof Error && error.name === 'JestAssertionError') throw error;
            expect(error).toBeInstanceOf(CalicoError);
            expect((error as Error).message).toMatch(/^[^\n]+$/);
          }
        }
        for (const message of reported) expect(message).toMatch(/^[^\n]+$/);
      }),
      fuzzParams(400),
    );
  }, 120_000);
});

describe('regressions the properties found', () => {
  it('a stored pool narrower than a block is reported and never assigned from (seed 1325555425)', async () => {
    const kv = new MemoryKvStore();
    kv.seed('/calico/v1/ipam/v4/pool/1.2.3.4-32', { cidr: '1.2.3.4/32' });
    const reported: string[] = [];
    await expect(new IpamStore(kv, (error) => void reported.push(error.message)).assign(4, 'host1')).rejects.toBeInstanceOf(CalicoError);
    expect(reported).toEqual(['The data stored at /calico/v1/ipam/v4/pool/1.2.3.4-32 is invalid: the pool 1.2.3.4/32 is smaller than one address block (/26)']);
  });
});
