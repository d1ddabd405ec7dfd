import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ApplyReport, Dataplane } from '../../../../src/agent/dataplane/driver';
import { profileChain, shorten, tagSet, TOP_CHAINS } from '../../../../src/agent/dataplane/contract';
import type { Logger } from '../../../../src/agent/log';
import { dockerTable, FakeKernel, type Family, type RecordedCall } from '../../../fakes/fake-kernel';
import {
  A,
  APP1,
  APP2_REMOTE,
  D,
  DB1,
  DB2,
  endpointKey,
  endpointValue,
  feed,
  HOST,
  type KeyUpdate,
  parseRestore,
  profileKey,
  readGolden,
  rulesOfD,
  type ScenarioEndpoint,
  scenarioChains,
  scenarioSnapshot,
} from './scenario';

const FAMILIES = [4, 6] as const;
const sD = shorten(D);
const sA = shorten(A);

interface Harness {
  kernel: FakeKernel;
  dataplane: Dataplane;
  logs: string[];
  reports: ApplyReport[];
  sysctl: string;
}

const dataplanes: Dataplane[] = [];
const dirs: string[] = [];

function recordingLogger(logs: string[]): Logger {
  const at = (level: string) => (message: string) => void logs.push(`${level} ${message}`);
  return { debug: at('DEBUG'), info: at('INFO'), warning: at('WARNING'), error: at('ERROR') };
}

/** A Dataplane on the fake kernel; interfaces "exist" when the kernel has the link, sysctls go to a temp dir. */
function start(kernel = new FakeKernel(), links: readonly ScenarioEndpoint[] = [DB1, DB2, APP1]): Harness {
  for (const e of links) kernel.links.add(e.iface);
  const sysctl = mkdtempSync(join(tmpdir(), 'calico-sysctl-'));
  dirs.push(sysctl);
  for (const e of [DB1, DB2, APP1]) {
    mkdirSync(join(sysctl, 'net/ipv4/conf', e.iface), { recursive: true });
    mkdirSync(join(sysctl, 'net/ipv4/neigh', e.iface), { recursive: true });
  }
  const logs: string[] = [];
  const reports: ApplyReport[] = [];
  const dataplane = new Dataplane(HOST, kernel, recordingLogger(logs), (r) => reports.push(r), 30_000, {
    interfaceExists: (iface) => kernel.links.has(iface),
    sysctlRoot: sysctl,
  });
  dataplanes.push(dataplane);
  return { kernel, dataplane, logs, reports, sysctl };
}

afterEach(() => {
  for (const dataplane of dataplanes.splice(0)) dataplane.stop();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  jest.useRealTimers();
});

const asObject = (chains: ReadonlyMap<string, readonly string[]>) => Object.fromEntries([...chains].map(([k, v]) => [k, [...v]]).sort(([a], [b]) => ((a as string) < (b as string) ? -1 : 1)));
const since = (kernel: FakeKernel, mark: number) => kernel.calls.slice(mark);
const rulesUpdate = (with3306: boolean): KeyUpdate => ({ key: profileKey(D, 'rules'), value: JSON.stringify(rulesOfD(with3306)) });
const setMembers = (kernel: FakeKernel, name: string) => [...(kernel.sets.get(name)?.members ?? ['<missing>'])].sort();

/** Docker's chains are exactly as Docker made them, and the kernel chains hold Docker's rules after our jump. */
function expectDockerUntouched(kernel: FakeKernel, family: Family): void {
  const docker = dockerTable(family);
  for (const [name, rules] of docker) {
    if (['INPUT', 'FORWARD', 'OUTPUT'].includes(name)) {
      expect(kernel.tables[family].get(name)!.filter((r) => !r.startsWith('-j cali-'))).toEqual(rules);
    } else {
      expect(kernel.tables[family].get(name)).toEqual(rules);
    }
  }
  expect(kernel.policies[family].get('FORWARD')).toBe('DROP');
}

function expectJumpsFirst(kernel: FakeKernel, family: Family): void {
  for (const [kernelChain, ours] of Object.entries(TOP_CHAINS)) {
    const rules = kernel.tables[family].get(kernelChain)!;
    expect(rules[0]).toBe(`-j ${ours}`);
    expect(rules.filter((r) => r === `-j ${ours}`)).toHaveLength(1);
  }
}

describe('Dataplane on the fake kernel: the reference scenario', () => {
  it('programs chains, jumps, ipsets, routes and sysctls from a snapshot', async () => {
    const { kernel, dataplane, reports, sysctl } = start();
    feed(dataplane).resync(scenarioSnapshot());
    await dataplane.settle();

    expect(reports.at(-1)).toMatchObject({ ok: true });
    for (const family of FAMILIES) {
      expect(asObject(kernel.chainsWithPrefix(family))).toEqual(asObject(scenarioChains(family, false)));
      expect(asObject(kernel.chainsWithPrefix(family))).toEqual(asObject(dataplane.state.chains[family]));
      expectJumpsFirst(kernel, family);
      expectDockerUntouched(kernel, family);
    }
    // The admin's own INPUT rule is still there, after our jump.
    expect(kernel.tables[4].get('INPUT')).toEqual(['-j cali-INPUT', '-i lo -j ACCEPT']);
    expect(kernel.tables[4].get('FORWARD')![1]).toBe('-j DOCKER-USER');

    expect([...kernel.sets.keys()].sort()).toEqual([tagSet(4, A), tagSet(4, D), tagSet(6, A), tagSet(6, D)].sort());
    expect(setMembers(kernel, `cali4-t-${sD}`)).toEqual(['192.168.0.1', '192.168.0.2']);
    // app2 runs on another host: it has no chains here but is a member of tag A.
    expect(setMembers(kernel, `cali4-t-${sA}`)).toEqual(['192.168.0.3', '192.168.1.7']);
    expect(setMembers(kernel, `cali6-t-${sA}`)).toEqual(['fd00::1:7', 'fd00::3']);
    expect(kernel.sets.get(`cali4-t-${sA}`)!.family).toBe('inet');
    expect(kernel.sets.get(`cali6-t-${sA}`)!.family).toBe('inet6');

    // One /32 and a permanent neighbour per local endpoint, a blackhole for the pool, all proto 157.
    const routes = [...kernel.routes[4].values()].filter((r) => r.proto === '157');
    expect(routes.map((r) => `${r.dst} ${r.dev ?? 'blackhole'}`).sort()).toEqual(
      ['192.168.0.0/16 blackhole', `192.168.0.1/32 ${DB1.iface}`, `192.168.0.2/32 ${DB2.iface}`, `192.168.0.3/32 ${APP1.iface}`].sort(),
    );
    expect(kernel.routes[4].get('0.0.0.0/0')).toMatchObject({ dev: 'eth0', proto: 'boot' });
    expect(kernel.neighbours[4].get('192.168.0.1')).toEqual({ dev: DB1.iface, lladdr: 'ee:ee:ee:ee:ee:ee' });
    expect(readFileSync(join(sysctl, 'net/ipv4/conf', DB1.iface, 'rp_filter'), 'utf8')).toBe('1');
    expect(readFileSync(join(sysctl, 'net/ipv4/conf', DB1.iface, 'proxy_arp'), 'utf8')).toBe('1');
    expect(readFileSync(join(sysctl, 'net/ipv4/neigh', DB1.iface, 'proxy_delay'), 'utf8')).toBe('0');
    // Remote endpoints get nothing on this host.
    expect(routes.some((r) => r.dst.startsWith('192.168.1.7'))).toBe(false);
  });

  it('start-up writes the chains and the jumps to them in one transaction per family, with no iptables -S', async () => {
    const { kernel, dataplane } = start();
    feed(dataplane).resync(scenarioSnapshot());
    await dataplane.settle();
    expect(kernel.callsOf('iptables').concat(kernel.callsOf('ip6tables'))).toEqual([]);
    for (const file of ['iptables-restore', 'ip6tables-restore']) {
      const [first, ...rest] = kernel.callsOf(file).filter((call) => call.input?.startsWith('*filter'));
      expect(first!.input).toContain(`:${TOP_CHAINS.FORWARD} - [0:0]`);
      expect(first!.input).toContain(`-I FORWARD 1 -j ${TOP_CHAINS.FORWARD}`);
      expect(rest).toEqual([]);
    }
    // And one for the IPv4 nat table: outgoing NAT's chain, empty without a --nat-outgoing pool, and its jump.
    expect(kernel.callsOf('iptables-restore').filter((call) => !call.input?.startsWith('*filter'))).toEqual([
      { file: 'iptables-restore', args: ['--noflush'], input: '*nat\n:cali-POSTROUTING - [0:0]\n-I POSTROUTING 1 -j cali-POSTROUTING\nCOMMIT\n' },
    ]);
    expect(kernel.callsOf('ip6tables-restore').filter((call) => !call.input?.startsWith('*filter'))).toEqual([]);
  });

  it('the 3306 rule costs exactly one iptables-restore per family, touching only profile D’s inbound chain', async () => {
    const { kernel, dataplane } = start();
    feed(dataplane).resync(scenarioSnapshot());
    await dataplane.settle();
    const mark = kernel.calls.length;

    feed(dataplane).update([rulesUpdate(true)]);
    await dataplane.settle();

    const calls = since(kernel, mark);
    expect(calls.map((c) => c.file)).toEqual(['iptables-restore', 'ip6tables-restore']);
    for (const [index, family] of FAMILIES.entries()) {
      const call = calls[index]!;
      expect(call.args).toEqual(['--noflush']);
      // An added rule is inserted, not rewritten: no chain is declared (flushed), only -I lines.
      const lines = call.input!.split('\n').filter((l) => /^[-:]/.test(l));
      expect(lines).toEqual([
        `-A ${profileChain(D, 'inbound')} -p tcp -m set --match-set cali${family}-t-${sA} src -m multiport --destination-ports 3306 -m comment --comment r2 -j MARK --set-xmark 0x1000000/0x1000000`,
        `-A ${profileChain(D, 'inbound')} -m mark --mark 0x1000000/0x1000000 -j RETURN`,
      ]);
      // The kernel now holds exactly the golden file of the scenario.
      expect(asObject(kernel.chainsWithPrefix(family))).toEqual(asObject(parseRestore(readGolden(`scenario-e-ipv${family}.txt`))));
      expectJumpsFirst(kernel, family);
    }

    // And removing it again is one call per family as well.
    const again = kernel.calls.length;
    feed(dataplane).update([rulesUpdate(false)]);
    await dataplane.settle();
    expect(since(kernel, again).map((c) => c.file)).toEqual(['iptables-restore', 'ip6tables-restore']);
    expect(asObject(kernel.chainsWithPrefix(4))).toEqual(asObject(scenarioChains(4, false)));
  });

  it('stopping app1 empties tag A’s local members and removes its chains, dispatch entries and route', async () => {
    const { kernel, dataplane } = start();
    feed(dataplane).resync(scenarioSnapshot({ with3306: true, endpoints: [DB1, DB2, APP1] }));
    await dataplane.settle();
    const mark = kernel.calls.length;
    // app1 has an IPv4 flow, none over IPv6: only the listed address's flows are deleted.
    kernel.flows.push({ family: 4, line: 'tcp      6 431999 ESTABLISHED src=192.168.0.3 dst=192.168.0.1 sport=40000 dport=3306 src=192.168.0.1 dst=192.168.0.3 sport=3306 dport=40000 [ASSURED] mark=0 use=1' });

    feed(dataplane).update([{ key: endpointKey(APP1), value: undefined }]);
    await dataplane.settle();

    // Tag A is still referenced (the 3306 rule), so its set stays, now empty.
    expect(setMembers(kernel, `cali4-t-${sA}`)).toEqual([]);
    expect(asObject(kernel.chainsWithPrefix(4))).toEqual(asObject(scenarioChains(4, true, [DB1, DB2])));
    expect(kernel.tables[4].get('cali-FROM-ENDPOINT')!.some((r) => r.includes(APP1.iface))).toBe(false);
    expect(kernel.routes[4].has('192.168.0.3/32')).toBe(false);
    const calls = since(kernel, mark);
    // Sets first, then chains (deleting app1's and profile A's chains in the same transaction), then routes.
    // Per family: sets, then chains; then routes (IPv4, IPv6), then the departed addresses' flows (listed once per family).
    expect(calls.map((c) => c.file)).toEqual(['ipset', 'iptables-restore', 'ipset', 'ip6tables-restore', 'ip', 'ip', 'conntrack', 'conntrack', 'conntrack', 'conntrack']);
    expect(calls[1]!.input).toContain(`-X cali-to-${APP1.iface.slice(4)}`);
    expect(calls[1]!.input).toContain(`-X ${profileChain(A, 'inbound')}`);
    expect(calls[4]!.input).toBe(`route del 192.168.0.3/32 dev ${APP1.iface} proto 157\n`);
    expect(calls.slice(6).map((c) => c.args.join(' '))).toEqual(['-L -f ipv4', '--delete --orig-src 192.168.0.3', '--delete --orig-dst 192.168.0.3', '-L -f ipv6']);
  });

  it('a resync (e.g. after etcd compaction) applies only the difference, without re-reading the kernel', async () => {
    const { kernel, dataplane } = start();
    feed(dataplane).resync(scenarioSnapshot());
    await dataplane.settle();
    const mark = kernel.calls.length;
    feed(dataplane).resync(scenarioSnapshot({ with3306: true, endpoints: [DB1, DB2] }));
    await dataplane.settle();
    const calls = since(kernel, mark);
    expect(calls.some((c) => c.file.endsWith('-save') || c.args[0] === 'list')).toBe(false);
    const input = calls.find((c) => c.file === 'iptables-restore')!.input!;
    expect(input).not.toContain(`:cali-to-${DB1.iface.slice(4)} `); // db1's own chains are not rewritten
    expect(input).toContain(`-A ${profileChain(D, 'inbound')} -p tcp `); // the new rule, appended
    for (const family of FAMILIES) expect(asObject(kernel.chainsWithPrefix(family))).toEqual(asObject(scenarioChains(family, true, [DB1, DB2])));
    expect(setMembers(kernel, tagSet(4, A))).toEqual([]);
  });

  it('batches updates that arrive while an apply runs', async () => {
    const { kernel, dataplane } = start();
    feed(dataplane).resync(scenarioSnapshot());
    await dataplane.settle();
    const mark = kernel.calls.length;
    for (let i = 0; i < 10; i++) feed(dataplane).update([rulesUpdate(i % 2 === 0)]);
    await dataplane.settle();
    expect(since(kernel, mark).filter((c) => c.file === 'iptables-restore').length).toBeLessThanOrEqual(2);
    expect(asObject(kernel.chainsWithPrefix(4))).toEqual(asObject(scenarioChains(4, false)));
  });
});

describe('Dataplane: when it must not write', () => {
  it('writes nothing before the first snapshot, nor while Ready is not "true"', async () => {
    const { kernel, dataplane } = start();
    feed(dataplane).update([rulesUpdate(true)]);
    await dataplane.settle();
    expect(kernel.calls).toEqual([]);

    feed(dataplane).resync(scenarioSnapshot({ ready: 'false' }));
    await dataplane.settle();
    expect(kernel.calls).toEqual([]);

    feed(dataplane).update([{ key: '/calico/v1/Ready', value: 'true' }]);
    await dataplane.settle();
    expect(kernel.callsOf('iptables-restore').length).toBeGreaterThan(0);
    expect(asObject(kernel.chainsWithPrefix(4))).toEqual(asObject(scenarioChains(4, false)));

    // Ready goes away: changes wait, the dataplane stays as it is (fail static).
    const before = kernel.calls.length;
    const table = asObject(kernel.tables[4]);
    feed(dataplane).update([{ key: '/calico/v1/Ready', value: 'false' }]);
    feed(dataplane).update([rulesUpdate(true), { key: endpointKey(APP1), value: undefined }]);
    await dataplane.settle();
    expect(kernel.calls.length).toBe(before);
    expect(asObject(kernel.tables[4])).toEqual(table);

    feed(dataplane).update([{ key: '/calico/v1/Ready', value: 'true' }]);
    await dataplane.settle();
    expect(asObject(kernel.chainsWithPrefix(4))).toEqual(asObject(scenarioChains(4, true, [DB1, DB2])));
  });

  it('runs IPv4 only when ip6tables is missing', async () => {
    const kernel = new FakeKernel();
    kernel.ipv6 = false;
    const { dataplane, logs } = start(kernel);
    feed(dataplane).resync(scenarioSnapshot());
    await dataplane.settle();
    expect(logs.some((l) => l.startsWith('WARNING IPv6 filtering is not available'))).toBe(true);
    expect(kernel.callsOf('ip6tables-restore')).toEqual([]);
    expect([...kernel.sets.keys()].every((name) => name.startsWith('cali4-'))).toBe(true);
    expect(asObject(kernel.chainsWithPrefix(4))).toEqual(asObject(scenarioChains(4, false)));
  });

  it('reads the kernel ahead of the snapshot once, without writing, and the first apply uses that read', async () => {
    const { kernel, dataplane } = start();
    const writes = () => kernel.calls.filter((call) => /restore$/.test(call.file) || (call.file === 'ip' && !['show', 'list'].some((verb) => call.args.includes(verb))));
    dataplane.preload();
    await new Promise((resolve) => setTimeout(resolve, 10));
    const reads = kernel.calls.length;
    expect(reads).toBeGreaterThan(0);
    expect(writes()).toEqual([]);

    feed(dataplane).resync(scenarioSnapshot());
    await dataplane.settle();
    // Not one read of the earlier run's state again: the saves and listings all came from the preload.
    const reread = kernel.calls.slice(reads).filter((call) => /save$/.test(call.file) || (call.file === 'ipset' && call.args[0] === 'list'));
    expect(reread).toEqual([]);
    expect(asObject(kernel.chainsWithPrefix(4))).toEqual(asObject(scenarioChains(4, false)));
  });
});

describe('Dataplane: restart and failures', () => {
  it('a restarted agent adopts the existing chains, rewrites them, and removes orphans only', async () => {
    const first = start();
    const { kernel } = first;
    feed(first.dataplane).resync(scenarioSnapshot({ with3306: true }));
    await first.dataplane.settle();
    first.dataplane.stop(); // kill -9: the dataplane stays as it was

    // Leftovers of ours, and things that are not ours.
    // A temporary set, as a crash between "create" and "swap" of a rebuild leaves it.
    await kernel.run('ipset', ['restore'], `create cali4-t-stale hash:net family inet -exist\ncreate admin-set hash:ip family inet\nadd admin-set 10.0.0.1\ncreate cali4-x-${sD} hash:net family inet\nadd cali4-x-${sD} 10.1.1.1\n`);
    await kernel.run(
      'iptables-restore',
      ['--noflush'],
      '*filter\n:cali-stale - [0:0]\n:cali-stale2 - [0:0]\n:MY-CHAIN - [0:0]\n-A cali-stale -m set --match-set cali4-t-stale src -j DROP\n-A cali-stale2 -j cali-stale\n-A MY-CHAIN -s 10.9.9.9 -j DROP\n-A MY-CHAIN -j RETURN\nCOMMIT\n',
    );
    kernel.links.add('caliold');
    await kernel.run('ip', ['-4', '-force', '-batch', '-'], 'route replace 192.168.0.99 dev caliold proto 157\n');
    const mine = asObject(new Map([['MY-CHAIN', kernel.tables[4].get('MY-CHAIN')!]]));

    // Invariants that must hold after every step of the restart: established flows keep flowing,
    // and the policy of the endpoints that stay never disappears.
    const violations: string[] = [];
    kernel.observers.push((call) => {
      const forward = kernel.tables[4].get('FORWARD')!;
      if (forward[0] !== '-j cali-FORWARD') violations.push(`after ${call.file}: FORWARD starts with ${forward[0]}`);
      if (!kernel.tables[4].get('cali-FORWARD')?.includes('-i cali+ -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT')) violations.push(`after ${call.file}: no conntrack accept`);
      if (!kernel.tables[4].get('cali-TO-ENDPOINT')?.some((r) => r.startsWith(`-o ${DB1.iface} `))) violations.push(`after ${call.file}: db1 lost its dispatch entry`);
    });

    // The new agent, before its first snapshot: reads nothing, writes nothing.
    const second = start(kernel);
    const mark = kernel.calls.length;
    feed(second.dataplane).update([rulesUpdate(false)]);
    await second.dataplane.settle();
    expect(kernel.calls.length).toBe(mark);

    // While it was down, app1 left and the 3306 rule was removed.
    feed(second.dataplane).resync(scenarioSnapshot({ endpoints: [DB1, DB2] }));
    await second.dataplane.settle();

    expect(violations).toEqual([]);
    for (const family of FAMILIES) {
      expect(asObject(kernel.chainsWithPrefix(family))).toEqual(asObject(scenarioChains(family, false, [DB1, DB2])));
      expectJumpsFirst(kernel, family);
      expectDockerUntouched(kernel, family);
    }
    expect(asObject(new Map([['MY-CHAIN', kernel.tables[4].get('MY-CHAIN')!]]))).toEqual(mine);
    expect([...kernel.sets.keys()].sort()).toEqual(['admin-set', tagSet(4, D), tagSet(6, D)].sort());
    expect(setMembers(kernel, tagSet(4, D))).toEqual(['192.168.0.1', '192.168.0.2']);
    expect(setMembers(kernel, 'admin-set')).toEqual(['10.0.0.1']);
    expect(second.reports.every((r) => r.ok)).toBe(true);
    expect(kernel.routes[4].has('192.168.0.99/32')).toBe(false);
    expect(kernel.routes[4].has('192.168.0.3/32')).toBe(false);
    expect(kernel.routes[4].get('192.168.0.1/32')).toMatchObject({ dev: DB1.iface, proto: '157' });

    const restores = since(kernel, mark).filter((c) => c.file === 'iptables-restore');
    // The first restore rewrites every chain we want (their content in the kernel is not trusted)...
    expect([...parseRestore(restores[0]!.input!).keys()].sort()).toEqual([...scenarioChains(4, false, [DB1, DB2]).keys()].sort());
    // ...and no restore moves our jumps, since they are already first.
    expect(restores.some((c) => /^-[DI] (INPUT|FORWARD|OUTPUT)/m.test(c.input!))).toBe(false);
  });

  it('a failed iptables-restore changes nothing, and the retry rewrites everything and removes what was left', async () => {
    jest.useFakeTimers();
    const { kernel, dataplane, logs, reports } = start();
    feed(dataplane).resync(scenarioSnapshot());
    await dataplane.settle();
    const table = asObject(kernel.tables[4]);

    kernel.failOnce((c) => c.file === 'iptables-restore', 'iptables-restore: line 3 failed: Resource temporarily unavailable');
    const mark = kernel.calls.length;
    // app1 leaves: its chains, profile A's chains and tag A's sets must all go.
    feed(dataplane).update([{ key: endpointKey(APP1), value: undefined }]);
    await dataplane.settle();
    expect(reports.at(-1)).toMatchObject({ ok: false });
    expect(logs.some((l) => l.startsWith('ERROR Applying the dataplane failed'))).toBe(true);
    expect(asObject(kernel.tables[4])).toEqual(table); // atomic: nothing changed

    await jest.advanceTimersByTimeAsync(1000);
    await dataplane.settle();
    expect(reports.at(-1)).toMatchObject({ ok: true });

    const restores = since(kernel, mark).filter((c) => c.file === 'iptables-restore');
    expect(restores.length).toBeGreaterThanOrEqual(2);
    const rewritten = new Set(restores.slice(1).flatMap((c) => [...parseRestore(c.input!).keys()]));
    for (const name of scenarioChains(4, false, [DB1, DB2]).keys()) expect(rewritten.has(name)).toBe(true);
    for (const family of FAMILIES) {
      expect(asObject(kernel.chainsWithPrefix(family))).toEqual(asObject(scenarioChains(family, false, [DB1, DB2])));
      expectJumpsFirst(kernel, family);
    }
    expect([...kernel.sets.keys()].sort()).toEqual([tagSet(4, D), tagSet(6, D)].sort());
    expect(kernel.routes[4].has('192.168.0.3/32')).toBe(false);
  });

  it('a failed ip6tables-restore after IPv4 was applied converges both families', async () => {
    jest.useFakeTimers();
    const { kernel, dataplane, reports } = start();
    feed(dataplane).resync(scenarioSnapshot({ with3306: true }));
    await dataplane.settle();
    kernel.failOnce((c) => c.file === 'ip6tables-restore');
    feed(dataplane).update([{ key: endpointKey(DB2), value: undefined }]);
    await dataplane.settle();
    expect(reports.at(-1)).toMatchObject({ ok: false });
    expect(kernel.tables[4].has(`cali-to-${DB2.iface.slice(4)}`)).toBe(false);
    expect(kernel.tables[6].has(`cali-to-${DB2.iface.slice(4)}`)).toBe(true);

    await jest.advanceTimersByTimeAsync(1000);
    await dataplane.settle();
    expect(reports.at(-1)).toMatchObject({ ok: true });
    for (const family of FAMILIES) expect(asObject(kernel.chainsWithPrefix(family))).toEqual(asObject(scenarioChains(family, true, [DB1, APP1])));
    expect(setMembers(kernel, tagSet(4, D))).toEqual(['192.168.0.1']);
  });

  it('a failed ipset restore is retried with a full rewrite too', async () => {
    jest.useFakeTimers();
    const { kernel, dataplane, reports } = start();
    feed(dataplane).resync(scenarioSnapshot({ endpoints: [DB1, DB2] }));
    await dataplane.settle();

    kernel.failOnce((c) => c.file === 'ipset' && c.args[0] === 'restore');
    feed(dataplane).update([{ key: endpointKey(APP1), value: JSON.stringify({ state: 'active', name: APP1.iface, mac: 'ee:ee:ee:ee:ee:ee', profile_ids: [A], ipv4_nets: APP1.ipv4, ipv6_nets: [] }) }]);
    await dataplane.settle();
    expect(reports.at(-1)).toMatchObject({ ok: false });
    // Nothing refers to a set that does not exist: the chains were not written either.
    expect(kernel.tables[4].has(profileChain(A, 'inbound'))).toBe(false);

    await jest.advanceTimersByTimeAsync(1000);
    await dataplane.settle();
    expect(reports.at(-1)).toMatchObject({ ok: true });
    expect(asObject(kernel.chainsWithPrefix(4))).toEqual(asObject(scenarioChains(4, false)));
    expect(setMembers(kernel, tagSet(4, A))).toEqual(['192.168.0.3']);
  });

  it('an endpoint net wider than a host address is skipped and reported once: sets, routes and anti-spoofing hold only host addresses', async () => {
    const { kernel, dataplane, reports } = start();
    const warnings: string[] = [];
    const wideRemote = endpointValue({ ...APP1, id: 'wide', host: 'host2' }, { ipv4_nets: ['0.0.0.0/0', '192.168.1.9/32'], ipv6_nets: ['::/0'] });
    const wideLocal = endpointValue(APP1, { ipv4_nets: ['192.168.0.3/32', '192.168.0.0/24'] });
    const snapshot = scenarioSnapshot({ endpoints: [DB1, DB2] });
    const wideKey = `/calico/v1/host/host2/workload/libnetwork/libnetwork/endpoint/wide`;
    feed(dataplane, (m) => warnings.push(m)).resync([...snapshot, { key: wideKey, value: wideRemote }, { key: endpointKey(APP1), value: wideLocal }]);
    await dataplane.settle();
    expect(reports.at(-1)).toMatchObject({ ok: true });
    expect(setMembers(kernel, tagSet(4, A))).toEqual(['192.168.0.3', '192.168.1.9']);
    expect(setMembers(kernel, tagSet(6, A))).toEqual(['fd00::3']);
    expect(kernel.routes[4].has('192.168.0.0/24')).toBe(false);
    expect(kernel.routes[4].get('0.0.0.0/0')).toMatchObject({ dev: 'eth0', proto: 'boot' });
    expect(kernel.routes[4].get('192.168.0.3/32')).toMatchObject({ dev: APP1.iface });
    const fromChain = [...kernel.chainsWithPrefix(4)].find(([name]) => name.startsWith('cali-from-') && kernel.tables[4].get(name)!.some((r) => r.includes('192.168.0.3')));
    expect(fromChain![1].filter((r) => r.startsWith('-s '))).toEqual([expect.stringMatching(/^-s 192\.168\.0\.3\/32 /)]);
    // One warning per stored value, however many of its addresses are bad.
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/endpoint\/wide is invalid: ipv4_nets holds "0\.0\.0\.0\/0", which is not an IPv4 host address \(\/32\); ipv6_nets holds "::\/0", which is not an IPv6 host address \(\/128\); skipped: those addresses are ignored/);

    // Later changes still reach the kernel, and the same bad value is not reported again.
    feed(dataplane).update([{ key: wideKey, value: wideRemote }, rulesUpdate(true)]);
    await dataplane.settle();
    expect(reports.at(-1)).toMatchObject({ ok: true });
    expect(kernel.tables[4].get(profileChain(D, 'inbound'))!.some((r) => r.includes('3306'))).toBe(true);
    expect(warnings).toHaveLength(2);
  });

  it('a set the kernel keeps refusing is isolated: everything else applies, later changes too, the failure is reported and retried with back-off, logged once', async () => {
    jest.useFakeTimers();
    /** A kernel that refuses, every time, any ipset restore that adds one address. */
    class RefusingKernel extends FakeKernel {
      refuse = true;
      override async run(file: string, args: readonly string[], input?: string): Promise<string> {
        if (this.refuse && file === 'ipset' && input?.includes('add ') && input.includes('192.168.1.99')) throw new Error('ipset v7.17: Error in line 4: Kernel error received: refused');
        return super.run(file, args, input);
      }
    }
    const kernel = new RefusingKernel();
    const { dataplane, reports, logs } = start(kernel);
    const poisoned = { ...APP2_REMOTE, id: 'poison', ipv4: ['192.168.1.99/32'] };
    feed(dataplane).resync([...scenarioSnapshot(), { key: endpointKey(poisoned), value: endpointValue(poisoned) }]);
    await dataplane.settle();
    expect(reports.at(-1)).toMatchObject({ ok: false }); // the first failure: a full rewrite follows
    await jest.advanceTimersByTimeAsync(1000);
    await dataplane.settle();
    expect(reports.at(-1)).toMatchObject({ ok: false, failures: [{ item: `IPv4 set ${tagSet(4, A)}`, error: expect.stringContaining('refused') }] });
    // Everything else is in the kernel: tag D's set and chains, the IPv6 sets, the routes.
    expect(setMembers(kernel, tagSet(4, D))).toEqual(['192.168.0.1', '192.168.0.2']);
    expect(setMembers(kernel, tagSet(6, A))).toEqual(['fd00::1:7', 'fd00::3']);
    expect(kernel.tables[4].get(profileChain(D, 'inbound'))).toBeDefined();
    expect(kernel.routes[4].get('192.168.0.1/32')).toMatchObject({ dev: DB1.iface });

    // A later change still reaches the kernel, while the poisoned set keeps failing.
    feed(dataplane).update([rulesUpdate(true)]);
    await dataplane.settle();
    expect(kernel.tables[4].get(profileChain(D, 'inbound'))!.some((r) => r.includes('3306'))).toBe(true);
    // Retries back off (2 s, 4 s, 8 s ...): over a minute, a handful of attempts, and one log line.
    const attempts = () => kernel.calls.filter((c) => c.file === 'ipset' && c.input?.includes('192.168.1.99')).length;
    const before = attempts();
    await jest.advanceTimersByTimeAsync(60_000);
    await dataplane.settle();
    expect(attempts() - before).toBeLessThan(12);
    expect(logs.filter((l) => l.includes('the kernel refused set'))).toHaveLength(1);

    // Once the kernel accepts it, it is applied and the report is clean again.
    kernel.refuse = false;
    await jest.advanceTimersByTimeAsync(60_000);
    await dataplane.settle();
    expect(reports.at(-1)).toMatchObject({ ok: true });
    expect(reports.at(-1)!.failures).toBeUndefined();
    expect(setMembers(kernel, tagSet(4, A))).toEqual(['192.168.0.3', '192.168.1.7', '192.168.1.99']);
  });

  it('puts its jumps back on top when Docker inserts rules above them', async () => {
    jest.useFakeTimers();
    const { kernel, dataplane } = start();
    feed(dataplane).resync(scenarioSnapshot());
    await dataplane.settle();
    await kernel.run('iptables-restore', ['--noflush'], '*filter\n-D FORWARD -j DOCKER-USER\n-I FORWARD 1 -j DOCKER-USER\nCOMMIT\n');
    expect(kernel.tables[4].get('FORWARD')![0]).toBe('-j DOCKER-USER');
    await jest.advanceTimersByTimeAsync(30_000);
    expectJumpsFirst(kernel, 4);
    expectDockerUntouched(kernel, 4);
  });
});

describe('Dataplane: profiles and endpoints coming and going', () => {
  it('a set the kernel still holds for a moment after its last rule went is destroyed once released, without a rewrite', async () => {
    const { kernel, dataplane, logs } = start();
    feed(dataplane).resync(scenarioSnapshot());
    await dataplane.settle();
    const inUse = 'ipset v7.17: Error in line 1: Set cannot be destroyed: it is in use by a kernel component';
    const destroysA = (call: RecordedCall) => call.file === 'ipset' && (call.input ?? '').includes(`destroy ${tagSet(4, A)}`);
    kernel.failOnce(destroysA, inUse);
    kernel.failOnce(destroysA, inUse);
    feed(dataplane).update((['tags', 'labels', 'rules'] as const).map((leaf) => ({ key: profileKey(A, leaf), value: undefined })));
    await dataplane.settle();
    expect(kernel.sets.has(tagSet(4, A))).toBe(false);
    expect(logs.filter((line) => line.startsWith('ERROR'))).toEqual([]);
  });

  it('deleting a profile in use (one DeleteRange: three events) makes its endpoints drop, and removes its chains and set', async () => {
    const { kernel, dataplane } = start();
    feed(dataplane).resync(scenarioSnapshot());
    await dataplane.settle();
    feed(dataplane).update((['tags', 'labels', 'rules'] as const).map((leaf) => ({ key: profileKey(A, leaf), value: undefined })));
    await dataplane.settle();
    for (const family of FAMILIES) {
      const chains = kernel.chainsWithPrefix(family);
      expect(chains.has(profileChain(A, 'inbound'))).toBe(false);
      expect(chains.get(`cali-to-${APP1.iface.slice(4)}`)).toContain('-m comment --comment "Profile is missing" -j DROP');
      expect(chains.get(`cali-from-${APP1.iface.slice(4)}`)).toContain('-m comment --comment "Profile is missing" -j DROP');
      expect(asObject(chains)).toEqual(asObject(dataplane.state.chains[family]));
    }
    expect(kernel.sets.has(tagSet(4, A))).toBe(false);
    // The profile comes back: back to normal.
    feed(dataplane).update(scenarioSnapshot().filter((u) => u.key.startsWith(`/calico/v1/policy/profile/${A}/`)));
    await dataplane.settle();
    expect(asObject(kernel.chainsWithPrefix(4))).toEqual(asObject(scenarioChains(4, false)));
    expect(setMembers(kernel, tagSet(4, A))).toEqual(['192.168.0.3', '192.168.1.7']);
  });

  it('an endpoint that changes interface moves its chains, dispatch entries and route', async () => {
    const { kernel, dataplane } = start();
    kernel.links.add('calinew');
    feed(dataplane).resync(scenarioSnapshot());
    await dataplane.settle();
    feed(dataplane).update([{ key: endpointKey(DB2), value: JSON.stringify({ state: 'active', name: 'calinew', mac: 'ee:ee:ee:ee:ee:ee', profile_ids: [D], ipv4_nets: DB2.ipv4, ipv6_nets: [] }) }]);
    await dataplane.settle();
    expect(kernel.tables[4].has(`cali-to-${DB2.iface.slice(4)}`)).toBe(false);
    expect(kernel.tables[4].get('cali-to-new')).toBeDefined();
    expect(kernel.tables[4].get('cali-TO-ENDPOINT')).toContain('-o calinew -g cali-to-new');
    expect(kernel.routes[4].get('192.168.0.2/32')).toMatchObject({ dev: 'calinew' });
    expect(asObject(kernel.chainsWithPrefix(6))).toEqual(asObject(dataplane.state.chains[6]));
  });

  it('a container joining a network after the rule exists is reachable on 3306 at once', async () => {
    const { kernel, dataplane } = start();
    feed(dataplane).resync(scenarioSnapshot({ with3306: true, endpoints: [DB1, DB2] }));
    await dataplane.settle();
    expect(kernel.sets.has(tagSet(4, A))).toBe(true); // referenced by D's rule, no member yet
    expect(setMembers(kernel, tagSet(4, A))).toEqual([]);
    feed(dataplane).update([{ key: endpointKey(APP1), value: JSON.stringify({ state: 'active', name: APP1.iface, mac: 'ee:ee:ee:ee:ee:ee', profile_ids: [A], ipv4_nets: APP1.ipv4, ipv6_nets: [] }) }]);
    await dataplane.settle();
    expect(setMembers(kernel, tagSet(4, A))).toEqual(['192.168.0.3']);
    expect(asObject(kernel.chainsWithPrefix(4))).toEqual(asObject(scenarioChains(4, true, [DB1, DB2, APP1])));
  });
});

describe('Dataplane: routes', () => {
  it('leaves routes of interfaces that do not exist yet pending, and programs them when they appear', async () => {
    jest.useFakeTimers();
    const kernel = new FakeKernel();
    const { dataplane } = start(kernel, [DB1, DB2]);
    feed(dataplane).resync(scenarioSnapshot());
    await dataplane.settle();
    expect(kernel.routes[4].has('192.168.0.1/32')).toBe(true);
    expect(kernel.routes[4].has('192.168.0.3/32')).toBe(false);
    // The chains do not wait for the interface: its traffic is policed as soon as it exists.
    expect(kernel.tables[4].has(`cali-to-${APP1.iface.slice(4)}`)).toBe(true);

    const mark = kernel.calls.length;
    await jest.advanceTimersByTimeAsync(200);
    await dataplane.settle();
    expect(since(kernel, mark)).toEqual([]); // still missing: nothing to do

    kernel.links.add(APP1.iface);
    await jest.advanceTimersByTimeAsync(200);
    await dataplane.settle();
    expect(kernel.routes[4].get('192.168.0.3/32')).toMatchObject({ dev: APP1.iface, proto: '157' });
    expect(kernel.neighbours[4].get('192.168.0.3')).toEqual({ dev: APP1.iface, lladdr: 'ee:ee:ee:ee:ee:ee' });
    // Before writing a prefix that is not ours yet, the agent lists the table (another owner's route
    // to it is left alone); then one batch per family.
    const batches = since(kernel, mark).filter((c: RecordedCall) => c.file === 'ip' && c.args.includes('-batch'));
    expect(batches).toHaveLength(2); // one per family
    expect(batches[0]!.input).toBe(`route replace 192.168.0.3/32 dev ${APP1.iface} proto 157\nneigh replace 192.168.0.3 lladdr ee:ee:ee:ee:ee:ee dev ${APP1.iface} nud permanent\n`);
  });

  it('programs a route whose interface appears while the agent is looking at routes (Docker’s Join racing a retry)', async () => {
    jest.useFakeTimers();
    const kernel = new FakeKernel();
    const { dataplane, sysctl } = start(kernel, [DB1, DB2]);
    // The interface is created (by the plugin's `ip link add`, another process) just after the
    // agent first looked for it and found nothing, in the same pass.
    const has = kernel.links.has.bind(kernel.links);
    let looks = 0;
    kernel.links.has = (name: string) => {
      if (name !== APP1.iface || has(name)) return has(name);
      if (++looks === 1) kernel.links.add(name);
      return false;
    };
    feed(dataplane).resync(scenarioSnapshot());
    await dataplane.settle();
    expect(has(APP1.iface)).toBe(true);
    await jest.advanceTimersByTimeAsync(1000);
    await dataplane.settle();
    expect(kernel.routes[4].get('192.168.0.3/32')).toMatchObject({ dev: APP1.iface, proto: '157' });
    expect(kernel.neighbours[4].get('192.168.0.3')).toEqual({ dev: APP1.iface, lladdr: 'ee:ee:ee:ee:ee:ee' });
    expect(readFileSync(join(sysctl, 'net/ipv4/conf', APP1.iface, 'proxy_arp'), 'utf8')).toBe('1');
  });

  it('a rule change does not restart the back-off of routes still waiting for their interface', async () => {
    jest.useFakeTimers();
    const kernel = new FakeKernel();
    const { dataplane } = start(kernel, [DB1, DB2]);
    const has = kernel.links.has.bind(kernel.links);
    let looks = 0;
    kernel.links.has = (name: string) => {
      if (name === APP1.iface) looks++;
      return has(name);
    };
    feed(dataplane).resync(scenarioSnapshot());
    await dataplane.settle();
    await jest.advanceTimersByTimeAsync(30_000); // the back-off has reached its 5 s ceiling
    for (const with3306 of [true, false, true]) {
      feed(dataplane).update([rulesUpdate(with3306)]);
      await dataplane.settle();
      await jest.advanceTimersByTimeAsync(100);
    }
    looks = 0;
    await jest.advanceTimersByTimeAsync(10_000);
    // Every 5 s (one look per family's route), as before the rule changes; they used to restart it
    // at 100 ms, 200 ms, 400 ms...
    expect(looks).toBeLessThanOrEqual(4);
  });

  it('adds and removes the blackhole route of a pool', async () => {
    const { kernel, dataplane } = start();
    feed(dataplane).resync(scenarioSnapshot());
    await dataplane.settle();
    feed(dataplane).update([{ key: '/calico/v1/ipam/v4/pool/10.20.0.0-16', value: '{"cidr": "10.20.0.0/16"}' }]);
    await dataplane.settle();
    expect(kernel.routes[4].get('10.20.0.0/16')).toMatchObject({ blackhole: true, proto: '157' });
    feed(dataplane).update([{ key: '/calico/v1/ipam/v4/pool/192.168.0.0-16', value: undefined }]);
    await dataplane.settle();
    expect(kernel.routes[4].has('192.168.0.0/16')).toBe(false);
    expect(kernel.routes[4].get('192.168.0.1/32')).toMatchObject({ dev: DB1.iface });
  });
});

