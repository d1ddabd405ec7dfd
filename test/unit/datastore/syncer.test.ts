import { DatastoreModel } from '../../../src/agent/dataplane/model';
import { DataplaneState } from '../../../src/agent/dataplane/state';
import * as keys from '../../../src/datastore/keys';
import { type DatastoreUpdate, Syncer, type SyncTarget } from '../../../src/datastore/syncer';
import { MemoryKvStore } from '../../fakes/memory-kv';

const HOST = 'host1';
const endpoint = (id: string) => ({ hostname: HOST, orchestrator: 'libnetwork', workload: 'libnetwork', endpoint: id });
const endpointValue = (iface: string, profile: string, ip: string) =>
  ({ state: 'active', name: iface, mac: 'EE:EE:EE:EE:EE:EE', profile_ids: [profile], ipv4_nets: [ip], ipv6_nets: [], labels: {} });
const RULES = { inbound_rules: [{ action: 'allow', src_tag: 'web' }], outbound_rules: [{ action: 'allow' }] };

/** A target that records every delivery, and also feeds a real model to check what the dataplane gets. */
class Recorder implements SyncTarget {
  readonly resyncs: DatastoreUpdate[][] = [];
  readonly batches: DatastoreUpdate[][] = [];
  readonly state = new DataplaneState(HOST);
  readonly model = new DatastoreModel(this.state);

  resync(updates: readonly DatastoreUpdate[]): void {
    this.resyncs.push([...updates]);
    this.model.reset(updates);
  }

  update(updates: readonly DatastoreUpdate[]): void {
    this.batches.push([...updates]);
    for (const update of updates) this.model.update(update);
  }

  get all(): DatastoreUpdate[] {
    return [...this.resyncs.flat(), ...this.batches.flat()];
  }
}

function logger() {
  const lines: string[] = [];
  return { lines, log: { debug: () => undefined, info: (m: string) => void lines.push(`INFO ${m}`), warning: (m: string) => void lines.push(`WARNING ${m}`) } };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  if (!check()) throw new Error(`timed out waiting for ${what}`);
}

function seedHealthy(kv: MemoryKvStore): void {
  kv.seed(keys.READY, 'true');
  kv.seed(keys.globalConfigKey('InterfacePrefix'), 'cali');
  kv.seed(keys.hostBirdIp(HOST), '192.0.2.1');
  kv.seed(keys.hostConfigKey(HOST, 'DefaultEndpointToHostAction'), 'RETURN');
  kv.seed(keys.profileTags('web'), ['web']);
  kv.seed(keys.profileRules('web'), RULES);
  kv.seed(keys.profileLabels('web'), {});
  kv.seed(keys.endpointKey(endpoint('e1')), endpointValue('calie1', 'web', '10.0.0.1/32'));
  kv.seed('/calico/v1/ipam/v4/pool/10.0.0.0-16', { cidr: '10.0.0.0/16' });
}

const syncers: Syncer[] = [];
afterEach(() => {
  for (const syncer of syncers.splice(0)) syncer.stop();
});

function startSyncer(kv: MemoryKvStore, target = new Recorder()) {
  const { lines, log } = logger();
  const syncer = new Syncer(kv, target, log, { rewatchDelayMs: () => 1, resnapshotDelayMs: () => 1 });
  syncers.push(syncer);
  return { syncer, target, lines };
}

describe('Syncer', () => {
  it('delivers a snapshot as typed updates, then each change once, in order', async () => {
    const kv = new MemoryKvStore();
    seedHealthy(kv);
    kv.seed('/calico/ipam/v2/address/ipv4/10.0.0.1', { host: HOST }); // outside the v1 model: not followed
    kv.seed(keys.libnetworkKey('n1'), {});
    const { syncer, target } = startSyncer(kv);
    await syncer.start();

    const kinds = target.resyncs[0]!.map((update) => update.kind).sort();
    expect(kinds).toEqual(['config', 'endpoint', 'hostConfig', 'hostIp', 'pool', 'profileLabels', 'profileRules', 'profileTags', 'ready']);
    expect(target.resyncs[0]).toContainEqual({ kind: 'hostIp', hostname: HOST, ipv4: '192.0.2.1' });
    expect(target.resyncs[0]).toContainEqual({ kind: 'profileTags', id: 'web', tags: ['web'] });
    expect(target.model.ready).toBe(true);
    expect(target.model.poolCidrs()).toEqual(['10.0.0.0/16']);
    expect(target.state.localInterfaces()).toEqual(['calie1']);
    expect(syncer.lastDelivered).toBe(kv.currentRevision);

    await tick();
    await kv.commit([], [{ type: 'put', key: keys.profileTags('web'), value: '["web","db"]' }]);
    await kv.commit([], [{ type: 'delete', key: keys.endpointKey(endpoint('e1')) }]);
    await kv.commit([], [{ type: 'put', key: keys.profileTags('web'), value: '["web","db"]' }]); // same value: no update
    expect(target.batches).toEqual([
      [{ kind: 'profileTags', id: 'web', tags: ['web', 'db'] }],
      [{ kind: 'endpoint', key: endpoint('e1'), endpoint: undefined }],
    ]);
    expect(target.state.localInterfaces()).toEqual([]);
    expect(syncer.lastDelivered).toBe(kv.currentRevision);
  });

  it('skips a malformed profile, endpoint, pool and host value, each with one log line, and applies everything else', async () => {
    const kv = new MemoryKvStore();
    seedHealthy(kv);
    kv.seed(keys.profileRules('broken'), '{"inbound_rules": "nope"');
    kv.seed(keys.profileTags('broken'), ['broken']);
    kv.seed(keys.endpointKey(endpoint('bad')), '{not json');
    kv.seed(keys.endpointKey(endpoint('e2')), endpointValue('calie2', 'broken', '10.0.0.2/32'));
    kv.seed('/calico/v1/ipam/v4/pool/10.9.0.0-16', '{"cidr": "bogus"}');
    kv.seed(keys.hostBirdIp('host2'), 'not-an-address');
    const { syncer, target, lines } = startSyncer(kv);
    await syncer.start();

    const warnings = lines.filter((line) => line.startsWith('WARNING'));
    expect(warnings).toHaveLength(4);
    for (const key of [keys.profileRules('broken'), keys.endpointKey(endpoint('bad')), '/calico/v1/ipam/v4/pool/10.9.0.0-16', keys.hostBirdIp('host2')]) {
      expect(warnings.filter((line) => line.includes(key))).toHaveLength(1);
    }
    // Everything else applied: the good endpoints are programmed, the good pool routed, host1's address known.
    expect(target.state.localInterfaces().sort()).toEqual(['calie1', 'calie2']);
    expect(target.model.poolCidrs()).toEqual(['10.0.0.0/16']);
    expect(target.resyncs[0]).toContainEqual({ kind: 'hostIp', hostname: HOST, ipv4: '192.0.2.1' });
    expect(target.resyncs[0]).toContainEqual({ kind: 'hostIp', hostname: 'host2', ipv4: undefined });
    // The profile whose rules do not decode drops everything.
    expect(target.resyncs[0]).toContainEqual({ kind: 'profileRules', id: 'broken', rules: 'undecodable' });
    expect(target.state.chains[4].get('cali-pi-broken')).toEqual(['-m comment --comment "ERROR failed to parse rules" -j DROP']);

    // The same bad values seen again (a fresh snapshot, or rewritten unchanged) are not logged again...
    kv.dropWatches();
    await kv.commit([], [{ type: 'put', key: keys.globalConfigKey('Other'), value: 'x' }]);
    kv.compact();
    await until(() => target.resyncs.length === 2, 'the fresh snapshot');
    await kv.commit([], [{ type: 'put', key: keys.endpointKey(endpoint('bad')), value: '{not json' }]);
    expect(lines.filter((line) => line.startsWith('WARNING') && !/watch/.test(line))).toHaveLength(4);
    // ...a new bad value is, once; and a good endpoint turned bad is removed (fail closed).
    await tick();
    await kv.commit([], [{ type: 'put', key: keys.endpointKey(endpoint('e1')), value: '[]' }]);
    await kv.commit([], [{ type: 'put', key: keys.endpointKey(endpoint('e1')), value: '[]' }]);
    expect(lines.filter((line) => line.includes(keys.endpointKey(endpoint('e1'))))).toHaveLength(1);
    expect(target.state.localInterfaces()).toEqual(['calie2']);
  });

  it('resumes a lost watch from the revision after the last one delivered: nothing skipped, nothing twice', async () => {
    const kv = new MemoryKvStore();
    seedHealthy(kv);
    const { syncer, target, lines } = startSyncer(kv);
    await syncer.start();
    await tick();
    await kv.commit([], [{ type: 'put', key: keys.globalConfigKey('A'), value: '1' }]);
    kv.dropWatches();
    // Changes while no watch is open: they must all arrive once the watch is back.
    await kv.commit([], [{ type: 'put', key: keys.globalConfigKey('B'), value: '2' }]);
    await kv.commit([], [{ type: 'put', key: keys.globalConfigKey('C'), value: '3' }]);
    await until(() => target.batches.flat().length === 3, 'the changes made while the watch was lost');
    expect(target.batches.flat().map((u) => (u.kind === 'config' ? u.name : u.kind))).toEqual(['A', 'B', 'C']);
    expect(target.resyncs).toHaveLength(1); // resumed, not re-read
    expect(lines.some((line) => line.includes(`resuming from revision ${kv.currentRevision - 1}`))).toBe(true);
    expect(kv.watchCount).toBe(1);
  });

  it('takes a fresh snapshot when the revisions it missed were compacted, and deletes what vanished', async () => {
    const kv = new MemoryKvStore();
    seedHealthy(kv);
    const { syncer, target, lines } = startSyncer(kv);
    await syncer.start();
    await tick();
    kv.dropWatches();
    await kv.commit([], [{ type: 'delete', key: keys.endpointKey(endpoint('e1')) }]);
    await kv.commit([], [{ type: 'put', key: keys.READY, value: 'false' }]);
    kv.compact();
    await until(() => target.resyncs.length === 2, 'the fresh snapshot');
    expect(target.resyncs[1]).toEqual(
      expect.arrayContaining([
        { kind: 'ready', ready: false },
        { kind: 'endpoint', key: endpoint('e1'), endpoint: undefined },
      ]),
    );
    expect(target.resyncs[1]).toHaveLength(2); // only what changed
    expect(lines.some((line) => line.includes('taking a fresh snapshot'))).toBe(true);
    expect(target.model.ready).toBe(false);
  });

  it('keeps retrying the snapshot while etcd is unreachable, delivering nothing meanwhile', async () => {
    const kv = new MemoryKvStore();
    seedHealthy(kv);
    kv.failWith = new Error('etcd is down.');
    const { syncer, target, lines } = startSyncer(kv);
    const started = syncer.start();
    await until(() => lines.filter((line) => line.includes('Reading the datastore failed')).length >= 3, 'retries');
    expect(target.resyncs).toHaveLength(0);
    kv.failWith = undefined;
    await started;
    expect(target.resyncs).toHaveLength(1);
  });

  it('stops: no more deliveries, no watch left open', async () => {
    const kv = new MemoryKvStore();
    seedHealthy(kv);
    const { syncer, target } = startSyncer(kv);
    await syncer.start();
    await tick();
    syncer.stop();
    await kv.commit([], [{ type: 'put', key: keys.globalConfigKey('A'), value: '1' }]);
    expect(target.batches).toHaveLength(0);
    expect(kv.watchCount).toBe(0);
  });
});
