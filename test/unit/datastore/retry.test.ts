import { encodeEndpoint, EndpointWriter } from '../../../src/datastore/endpoints';
import { HostStore } from '../../../src/datastore/hosts';
import { ConflictError } from '../../../src/datastore/errors';
import * as keys from '../../../src/datastore/keys';
import type { KeyValue, KvOperation, KvStore, RangeResult, RevisionGuard } from '../../../src/datastore/kv';
import { PoolError, PoolStore } from '../../../src/datastore/pools';
import { ProfileStore } from '../../../src/datastore/profiles';
import { parseCidr } from '../../../src/policy/cidr';
import { MemoryKvStore } from '../../fakes/memory-kv';

/**
 * A store on which the first `losses` guarded commits lose a race: just before each, another
 * writer (`rival`) changes the data, so the commit's guards no longer hold. The compare-and-swap
 * loop must then read again and redo its edit on top of the rival's, losing neither update.
 */
class RacingKv implements KvStore {
  attempts = 0;

  constructor(
    readonly inner: MemoryKvStore,
    private losses: number,
    private readonly rival: (inner: MemoryKvStore, round: number) => Promise<void>,
  ) {}

  get(key: string): Promise<KeyValue | undefined> {
    return this.inner.get(key);
  }

  getPrefix(prefix: string): Promise<RangeResult> {
    return this.inner.getPrefix(prefix);
  }

  async commit(guards: readonly RevisionGuard[], operations: readonly KvOperation[]): Promise<boolean> {
    if (guards.length > 0) {
      this.attempts++;
      if (this.losses > 0) {
        this.losses--;
        await this.rival(this.inner, this.attempts);
      }
    }
    return this.inner.commit(guards, operations);
  }

  serverVersion(): Promise<string> {
    return this.inner.serverVersion();
  }

  close(): void {}
}

/** Each read yields for a moment, so that concurrent writers read the same revision and race. */
class SlowReads extends MemoryKvStore {
  override async getPrefix(prefix: string): Promise<RangeResult> {
    const range = await super.getPrefix(prefix);
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 3));
    return range;
  }
}

const tagsOf = async (kv: MemoryKvStore, id: string) => JSON.parse((await kv.get(keys.profileTags(id)))!.value) as string[];

/** The rival adds a tag of its own, as a concurrent `calicoctl profile p tag add` would. */
const rivalTagger = (id: string) => async (inner: MemoryKvStore, round: number) => {
  await new ProfileStore(inner).editTags(id, (tags) => ({ value: [...tags, `rival${round}`], result: undefined }));
};

describe('compare-and-swap retries', () => {
  afterEach(() => jest.restoreAllMocks());

  it('an edit that loses N races is redone on top of each rival write: no update is lost', async () => {
    const inner = new MemoryKvStore();
    await new ProfileStore(inner).create('p', { tags: ['p'], rules: { inbound: [], outbound: [] }, labels: {} });
    const racing = new RacingKv(inner, 5, rivalTagger('p'));
    const outcome = await new ProfileStore(racing).editTags('p', (tags) => ({ value: [...tags, 'mine'], result: tags.length }));
    expect(racing.attempts).toBe(6);
    expect(outcome).toBe(6); // the edit saw all five rival tags on its last read
    expect(await tagsOf(inner, 'p')).toEqual(['p', 'rival1', 'rival2', 'rival3', 'rival4', 'rival5', 'mine']);
  });

  it('many concurrent edits of one key all land', async () => {
    const kv = new SlowReads();
    await new ProfileStore(kv).create('p', { tags: [], rules: { inbound: [], outbound: [] }, labels: {} });
    const writers = Array.from({ length: 20 }, (_, i) => new ProfileStore(kv).editTags('p', (tags) => ({ value: [...tags, `t${i}`], result: undefined })));
    await Promise.all(writers);
    expect((await tagsOf(kv, 'p')).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `t${i}`).sort());
  });

  it('an endpoint edit redone after a rival changed the endpoint keeps both changes', async () => {
    const inner = new MemoryKvStore();
    const key = { hostname: 'h', orchestrator: 'libnetwork', workload: 'libnetwork', endpoint: 'e' };
    const base = { ...key, state: 'active', name: 'calie', mac: '', profileIds: ['a'], ipv4Nets: [], ipv6Nets: [], labels: {} };
    await inner.commit([], [{ type: 'put', key: keys.endpointKey(base), value: encodeEndpoint(base) }]);
    const racing = new RacingKv(inner, 2, async (kv, round) => {
      await new EndpointWriter(kv).editProfiles(key, (ids) => ({ value: [...ids, `rival${round}`], result: undefined }));
    });
    await new EndpointWriter(racing).editProfiles(key, (ids) => ({ value: [...ids, 'mine'], result: undefined }));
    expect(JSON.parse((await inner.get(keys.endpointKey(key)))!.value).profile_ids).toEqual(['a', 'rival1', 'rival2', 'mine']);
  });

  it('a pool added while another host adds an overlapping one is refused on the retry, not written over it', async () => {
    const inner = new MemoryKvStore();
    const racing = new RacingKv(inner, 1, async (kv) => {
      await new PoolStore(kv).add([{ cidr: parseCidr('10.0.0.0/16')! }]);
    });
    await expect(new PoolStore(racing).add([{ cidr: parseCidr('10.0.0.0/8')! }])).rejects.toThrow(PoolError);
    expect(Object.keys(inner.dump())).toEqual([keys.poolKey(parseCidr('10.0.0.0/16')!)]);
  });

  it('gives up with ConflictError after losing every attempt, having written nothing', async () => {
    jest.spyOn(Math, 'random').mockReturnValue(0); // no pauses between attempts
    const inner = new MemoryKvStore();
    await new ProfileStore(inner).create('p', { tags: ['p'], rules: { inbound: [], outbound: [] }, labels: {} });
    const racing = new RacingKv(inner, Infinity, async () => {
      await inner.commit([], [{ type: 'put', key: keys.profileLabels('p'), value: '{}' }]); // bumps nothing we guard...
      await inner.commit([], [{ type: 'put', key: keys.profileTags('p'), value: '["p"]' }]); // ...this does
    });
    const error = await new ProfileStore(racing).editTags('p', (tags) => ({ value: [...tags, 'mine'], result: undefined })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConflictError);
    expect((error as ConflictError).code).toBe('conflict');
    expect(racing.attempts).toBe(100);
    expect(await tagsOf(inner, 'p')).toEqual(['p']);
  });

  const endpointOf = (id: string, profileIds: string[]) => ({
    hostname: 'h', orchestrator: 'libnetwork', workload: 'libnetwork', endpoint: id, state: 'active', name: `cali${id}`, mac: '', profileIds, ipv4Nets: [], ipv6Nets: [], labels: {},
  });

  it('profile remove: an endpoint that joins the profile between the check and the delete makes it check again and refuse', async () => {
    const inner = new MemoryKvStore();
    await new ProfileStore(inner).create('p', { tags: ['p'], rules: { inbound: [], outbound: [] }, labels: {} });
    const racing = new RacingKv(inner, 1, async (kv) => {
      await kv.commit([], [{ type: 'put', key: keys.endpointKey(endpointOf('e1', ['p'])), value: encodeEndpoint(endpointOf('e1', ['p'])) }]);
    });
    expect(await new ProfileStore(racing).removeUnused('p')).toBe('in-use');
    expect(racing.attempts).toBe(1);
    expect(await new ProfileStore(inner).get('p')).toBeDefined();
    // Unused (the endpoint moved on), it goes, in one guarded commit.
    await new EndpointWriter(inner).editProfiles(endpointOf('e1', []), () => ({ value: [], result: undefined }));
    expect(await new ProfileStore(inner).removeUnused('p')).toBe('removed');
    expect(await new ProfileStore(inner).removeUnused('p')).toBe('absent');
  });

  it('the plugin\'s endpoint put: a network deleted between the check and the write leaves no endpoint behind', async () => {
    const inner = new MemoryKvStore();
    const network = keys.libnetworkKey('n1');
    await inner.commit([], [{ type: 'put', key: network, value: '{}' }]);
    const racing = new RacingKv(inner, 1, async (kv) => {
      await kv.commit([], [{ type: 'delete', key: network }]);
    });
    expect(await new EndpointWriter(racing).put(endpointOf('e1', ['n1']), network)).toBe(false);
    expect(Object.keys(inner.dump())).toEqual([]);
    await inner.commit([], [{ type: 'put', key: network, value: '{}' }]);
    expect(await new EndpointWriter(inner).put(endpointOf('e1', ['n1']), network)).toBe(true);
  });

  it('host registration: two hosts registering one address at the same moment cannot both win', async () => {
    const inner = new MemoryKvStore();
    const racing = new RacingKv(inner, 1, async (kv) => {
      expect(await new HostStore(kv).register({ hostname: 'other', ipv4: '10.0.0.1' })).toBeUndefined();
    });
    expect(await new HostStore(racing).register({ hostname: 'me', ipv4: '10.0.0.1' })).toEqual({ address: '10.0.0.1', host: 'other' });
    expect(Object.keys(inner.dump()).filter((key) => key.includes('/me/') && !key.includes('DefaultEndpointToHostAction'))).toEqual([]);
  });
});
