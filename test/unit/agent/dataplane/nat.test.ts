import { cleanupDataplane } from '../../../../src/agent/dataplane/cleanup';
import { Dataplane } from '../../../../src/agent/dataplane/driver';
import { ALL_POOLS_SET, isOurSet, MASQ_POOLS_SET, NAT_TOP_CHAINS, tempTagSet } from '../../../../src/agent/dataplane/contract';
import { natOutgoing } from '../../../../src/agent/dataplane/rules';
import { DataplaneState } from '../../../../src/agent/dataplane/state';
import { silentLogger } from '../../../../src/agent/log';
import { dockerNatTable, FakeKernel } from '../../../fakes/fake-kernel';
import { feed, HOST, type KeyUpdate, POOL, RawModel, scenarioSnapshot } from './scenario';

const MASQ_RULE = `-m set --match-set ${MASQ_POOLS_SET} src -m set ! --match-set ${ALL_POOLS_SET} dst -j MASQUERADE`;
const poolKey = (cidr: string, version = 4) => `/calico/v1/ipam/v${version}/pool/${cidr.replace('/', '-')}`;
const pool = (cidr: string, fields: Record<string, unknown> = {}, version = 4): KeyUpdate => ({ key: poolKey(cidr, version), value: JSON.stringify({ cidr, ...fields }) });
const members = (kernel: FakeKernel, name: string) => (kernel.sets.has(name) ? [...kernel.sets.get(name)!.members].sort() : undefined);

const dataplanes: Dataplane[] = [];
afterEach(() => {
  for (const dataplane of dataplanes.splice(0)) dataplane.stop();
});

function start(kernel = new FakeKernel()): { kernel: FakeKernel; dataplane: Dataplane } {
  const dataplane = new Dataplane(HOST, kernel, silentLogger, () => undefined, 30_000, { interfaceExists: () => false, sysctlRoot: '/nonexistent' });
  dataplanes.push(dataplane);
  return { kernel, dataplane };
}

describe('natOutgoing (pure)', () => {
  it('renders an empty chain and no sets without a --nat-outgoing pool', () => {
    expect(natOutgoing([{ cidr: '10.1.0.0/16', masquerade: false }])).toEqual({ chains: new Map([[NAT_TOP_CHAINS.POSTROUTING, []]]), sets: new Map() });
    expect(natOutgoing([])).toEqual({ chains: new Map([[NAT_TOP_CHAINS.POSTROUTING, []]]), sets: new Map() });
  });

  it('masquerades the nat-outgoing pools to everything outside all pools, with Felix 1.4 set names', () => {
    const { chains, sets } = natOutgoing([
      { cidr: '10.1.0.0/16', masquerade: true },
      { cidr: '10.2.0.0/16', masquerade: false },
    ]);
    expect(chains).toEqual(new Map([['cali-POSTROUTING', [MASQ_RULE]]]));
    expect(sets).toEqual(
      new Map([
        ['felix-all-ipam-pools', new Set(['10.1.0.0/16', '10.2.0.0/16'])],
        ['felix-masq-ipam-pools', new Set(['10.1.0.0/16'])],
      ]),
    );
  });

  it('owns the Felix set names and their temporary twins, and no other felix- set', () => {
    expect(tempTagSet(MASQ_POOLS_SET)).toBe('felix-tmp-masq-ipam-pools');
    for (const name of [ALL_POOLS_SET, MASQ_POOLS_SET, tempTagSet(ALL_POOLS_SET), tempTagSet(MASQ_POOLS_SET)]) {
      expect(isOurSet(name)).toBe(true);
      expect(isOurSet(name, 4)).toBe(true);
      expect(isOurSet(name, 6)).toBe(false);
      expect(name.length).toBeLessThanOrEqual(31);
    }
    expect(isOurSet('felix-calico-hosts-4')).toBe(false);
    expect(isOurSet('cali6-t-x', 6)).toBe(true);
  });
});

describe('outgoing NAT in the model: only pools matter, never endpoints', () => {
  it('counts every IPv4 pool (ipam false or disabled too) and ignores IPv6 pools', () => {
    const state = new DataplaneState(HOST);
    const model = new RawModel(state);
    model.reset([
      pool('10.1.0.0/16', { masquerade: true }),
      pool('10.2.0.0/24', { ipam: false, masquerade: true }),
      pool('10.3.0.0/16', { disabled: true }),
      pool('fd00::/64', { masquerade: true }, 6),
    ]);
    expect(state.setMembers(4, ALL_POOLS_SET)).toEqual(new Set(['10.1.0.0/16', '10.2.0.0/24', '10.3.0.0/16']));
    expect(state.setMembers(4, MASQ_POOLS_SET)).toEqual(new Set(['10.1.0.0/16', '10.2.0.0/24']));
    expect(state.setMembers(6, ALL_POOLS_SET)).toBeUndefined();
    expect(state.natChains.get('cali-POSTROUTING')).toEqual([MASQ_RULE]);
    // Blackhole routes stay for the pools Calico assigns from only.
    expect(model.poolCidrs()).toEqual(['10.1.0.0/16', '10.3.0.0/16', 'fd00::/64']);
  });
});

describe('outgoing NAT on the fake kernel', () => {
  it('follows pools: a flag turned on, a pool added, the flag turned off, the pool removed', async () => {
    const { kernel, dataplane } = start();
    feed(dataplane).resync(scenarioSnapshot());
    await dataplane.settle();
    // No --nat-outgoing pool: an empty chain hung first from POSTROUTING, and no sets.
    expect(kernel.natTables[4].get('cali-POSTROUTING')).toEqual([]);
    expect(kernel.natTables[4].get('POSTROUTING')).toEqual(['-j cali-POSTROUTING', ...dockerNatTable(4).get('POSTROUTING')!]);
    expect(members(kernel, MASQ_POOLS_SET)).toBeUndefined();
    expect(kernel.natTables[6].has('cali-POSTROUTING')).toBe(false);

    feed(dataplane).update([pool(POOL, { masquerade: true })]);
    await dataplane.settle();
    expect(kernel.natTables[4].get('cali-POSTROUTING')).toEqual([MASQ_RULE]);
    expect(members(kernel, ALL_POOLS_SET)).toEqual([POOL]);
    expect(members(kernel, MASQ_POOLS_SET)).toEqual([POOL]);

    // A second pool is "inside" too: traffic to it is never masqueraded.
    let mark = kernel.calls.length;
    feed(dataplane).update([pool('10.9.0.0/16')]);
    await dataplane.settle();
    expect(members(kernel, ALL_POOLS_SET)).toEqual(['10.9.0.0/16', POOL]);
    expect(members(kernel, MASQ_POOLS_SET)).toEqual([POOL]);
    // The rule did not change: only the one set was rewritten (swapped in whole), no iptables at all
    // (the routes pass reads and writes with `ip`).
    expect(kernel.calls.slice(mark).map((c) => c.file).filter((file) => file !== 'ip')).toEqual(['ipset']);
    expect(kernel.calls.slice(mark)[0]!.input).toContain(`swap felix-tmp-all-ipam-pools ${ALL_POOLS_SET}`);

    // A profile change costs no NAT work.
    mark = kernel.calls.length;
    feed(dataplane).update([{ key: '/calico/v1/policy/profile/p/tags', value: '["p"]' }]);
    await dataplane.settle();
    expect(kernel.calls.slice(mark).filter((c) => c.input?.includes('nat') || c.input?.includes('felix-'))).toEqual([]);

    // The flag off: the rule goes, then the sets.
    feed(dataplane).update([pool(POOL)]);
    await dataplane.settle();
    expect(kernel.natTables[4].get('cali-POSTROUTING')).toEqual([]);
    expect(members(kernel, MASQ_POOLS_SET)).toBeUndefined();
    expect(members(kernel, ALL_POOLS_SET)).toBeUndefined();

    // On again, then the pool removed.
    feed(dataplane).update([pool(POOL, { masquerade: true })]);
    await dataplane.settle();
    expect(kernel.natTables[4].get('cali-POSTROUTING')).toEqual([MASQ_RULE]);
    feed(dataplane).update([{ key: poolKey(POOL), value: undefined }]);
    await dataplane.settle();
    expect(kernel.natTables[4].get('cali-POSTROUTING')).toEqual([]);
    expect(members(kernel, MASQ_POOLS_SET)).toBeUndefined();
    // Docker's own nat rules were never touched.
    for (const [name, rules] of dockerNatTable(4)) expect(kernel.natTables[4].get(name)!.filter((r) => r !== '-j cali-POSTROUTING')).toEqual(rules);
  });

  it('a restarted agent empties a stale rule and removes stale sets, and puts a moved jump back first', async () => {
    const kernel = new FakeKernel();
    await kernel.run('ipset', ['restore'], `create ${ALL_POOLS_SET} hash:net family inet\ncreate ${MASQ_POOLS_SET} hash:net family inet\nadd ${MASQ_POOLS_SET} 10.7.0.0/16\n`);
    await kernel.run('iptables-restore', ['--noflush'], `*nat\n:cali-POSTROUTING - [0:0]\n-A cali-POSTROUTING ${MASQ_RULE}\n-A POSTROUTING -j cali-POSTROUTING\nCOMMIT\n`);
    const { dataplane } = start(kernel);
    feed(dataplane).resync(scenarioSnapshot());
    await dataplane.settle();
    expect(kernel.natTables[4].get('cali-POSTROUTING')).toEqual([]);
    expect(kernel.natTables[4].get('POSTROUTING')!.filter((r) => r === '-j cali-POSTROUTING')).toHaveLength(1);
    expect(kernel.natTables[4].get('POSTROUTING')![0]).toBe('-j cali-POSTROUTING');
    expect(kernel.sets.has(ALL_POOLS_SET)).toBe(false);
    expect(kernel.sets.has(MASQ_POOLS_SET)).toBe(false);
  });

  it('a host without a nat table still gets its filter chains, and says outgoing NAT is off', async () => {
    const kernel = new FakeKernel();
    kernel.nat = false;
    const logs: string[] = [];
    const dataplane = new Dataplane(
      HOST,
      kernel,
      { ...silentLogger, warning: (m: string) => void logs.push(m) },
      () => undefined,
      30_000,
      { interfaceExists: () => false, sysctlRoot: '/nonexistent' },
    );
    dataplanes.push(dataplane);
    feed(dataplane).resync([...scenarioSnapshot(), pool('10.9.0.0/16', { masquerade: true })]);
    await dataplane.settle();
    expect(dataplane.lastApply).toMatchObject({ ok: true });
    expect(kernel.chainsWithPrefix(4).size).toBeGreaterThan(5);
    expect(logs.some((m) => /Outgoing NAT is not available/.test(m))).toBe(true);
  });

  it('cleanup removes the nat chain, its jump and the Felix sets, and leaves Docker’s nat rules', async () => {
    const { kernel, dataplane } = start();
    feed(dataplane).resync([...scenarioSnapshot(), pool('10.9.0.0/16', { masquerade: true })]);
    await dataplane.settle();
    dataplane.stop();
    expect(members(kernel, MASQ_POOLS_SET)).toEqual(['10.9.0.0/16']);
    await cleanupDataplane(kernel, silentLogger);
    expect(Object.fromEntries(kernel.natTables[4])).toEqual(Object.fromEntries(dockerNatTable(4)));
    expect(kernel.sets.has(MASQ_POOLS_SET)).toBe(false);
    expect(kernel.sets.has(ALL_POOLS_SET)).toBe(false);
  });
});
