import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Dataplane } from '../../../../src/agent/dataplane/driver';
import { DatastoreModel } from '../../../../src/agent/dataplane/model';
import type { DataplaneState } from '../../../../src/agent/dataplane/state';
import { reportOnce } from '../../../../src/datastore/errors';
import { UpdateDecoder } from '../../../../src/datastore/syncer';
import type { Family } from '../../../../src/agent/dataplane/contract';
import { buildRestore } from '../../../../src/agent/dataplane/iptables';
import { type Chains, dispatchChains, endpointChains, type LocalEndpoint, profileChains, staticChains } from '../../../../src/agent/dataplane/rules';
import { ruleSetFromV1, type V1Rule, type V1Rules } from '../../../../src/policy/codec';

/**
 * The tutorial's minimal scenario: networks "databases" (profile D, containers db1 and db2)
 * and "applications" (profile A, container app1) on host1, and the rule
 * `calicoctl profile databases rule add inbound allow tcp from tag applications to ports 3306`.
 * Docker network and endpoint IDs are 64 hex characters, so every name derived from them is hashed.
 */
/** A raw etcd key and value (undefined: deleted), as the scenario describes the datastore. */
export interface KeyUpdate {
  readonly key: string;
  readonly value: string | undefined;
}

const hex = (seed: string): string => createHash('sha256').update(seed).digest('hex');

export const HOST = 'host1';
export const D = hex('network databases');
export const A = hex('network applications');
export const POOL = '192.168.0.0/16';

export interface ScenarioEndpoint {
  readonly id: string;
  readonly host: string;
  readonly iface: string;
  readonly profiles: readonly string[];
  readonly ipv4: readonly string[];
  readonly ipv6: readonly string[];
}

/** Dual-stack, so that every chain exists in both families (a single-stack endpoint has chains in one). */
const endpoint = (name: string, profiles: string[], ipv4: string, host = HOST): ScenarioEndpoint => {
  const id = hex(`endpoint ${name}`);
  const [, , third, fourth] = (ipv4.split('/')[0] ?? '').split('.');
  const ipv6 = `fd00::${third === '0' ? fourth : `${third}:${fourth}`}/128`;
  return { id, host, iface: `cali${id.slice(0, 11)}`, profiles, ipv4: [ipv4], ipv6: [ipv6] };
};

export const DB1 = endpoint('db1', [D], '192.168.0.1/32');
export const DB2 = endpoint('db2', [D], '192.168.0.2/32');
export const APP1 = endpoint('app1', [A], '192.168.0.3/32');
/** An application container on another host: feeds tag A's set, gets no chains here. */
export const APP2_REMOTE = endpoint('app2', [A], '192.168.1.7/32', 'host2');

export const MAC = 'EE:EE:EE:EE:EE:EE';
export const RULE_3306: V1Rule = { action: 'allow', protocol: 'tcp', src_tag: A, dst_ports: [3306] };

/** What the plugin writes for a new network: accept from members, send anywhere. */
export const defaultRules = (id: string): V1Rules => ({ inbound_rules: [{ action: 'allow', src_tag: id }], outbound_rules: [{ action: 'allow' }] });

export function rulesOfD(with3306: boolean): V1Rules {
  const rules = defaultRules(D);
  return with3306 ? { ...rules, inbound_rules: [...rules.inbound_rules, RULE_3306] } : rules;
}

export const profileKey = (id: string, leaf: 'tags' | 'rules' | 'labels'): string => `/calico/v1/policy/profile/${id}/${leaf}`;
export const endpointKey = (e: ScenarioEndpoint): string => `/calico/v1/host/${e.host}/workload/libnetwork/libnetwork/endpoint/${e.id}`;

export function endpointValue(e: ScenarioEndpoint, overrides: Record<string, unknown> = {}): string {
  return JSON.stringify({ state: 'active', name: e.iface, mac: MAC, profile_ids: e.profiles, labels: {}, ipv4_nets: e.ipv4, ipv6_nets: e.ipv6, ...overrides });
}

export function profileUpdates(id: string, rules: V1Rules, tags: readonly string[] = [id]): KeyUpdate[] {
  return [
    { key: profileKey(id, 'tags'), value: JSON.stringify(tags) },
    { key: profileKey(id, 'labels'), value: '{}' },
    { key: profileKey(id, 'rules'), value: JSON.stringify(rules) },
  ];
}

/** The whole of /calico/v1/ for the scenario, as a snapshot. */
export function scenarioSnapshot(options: { with3306?: boolean; ready?: string; endpoints?: readonly ScenarioEndpoint[] } = {}): KeyUpdate[] {
  const endpoints = options.endpoints ?? [DB1, DB2, APP1, APP2_REMOTE];
  return [
    { key: '/calico/v1/Ready', value: options.ready ?? 'true' },
    { key: '/calico/v1/config/InterfacePrefix', value: 'cali' },
    { key: `/calico/v1/host/${HOST}/config/DefaultEndpointToHostAction`, value: 'RETURN' },
    { key: `/calico/v1/ipam/v4/pool/${POOL.replace('/', '-')}`, value: JSON.stringify({ cidr: POOL }) },
    ...profileUpdates(D, rulesOfD(options.with3306 ?? false)),
    ...profileUpdates(A, defaultRules(A)),
    ...endpoints.map((e) => ({ key: endpointKey(e), value: endpointValue(e) })),
  ];
}

export const localEndpoint = (e: ScenarioEndpoint): LocalEndpoint => ({
  endpointId: e.id,
  iface: e.iface,
  mac: MAC.toLowerCase(),
  profileIds: e.profiles,
  ipv4Nets: e.ipv4,
  ipv6Nets: e.ipv6,
});

/** Every chain the scenario needs in one family, composed from the pure renderer's parts. */
export function scenarioChains(family: Family, with3306: boolean, local: readonly ScenarioEndpoint[] = [DB1, DB2, APP1]): Chains {
  const chains: Chains = new Map([...staticChains(family), ...dispatchChains(local.map((e) => e.iface))]);
  for (const e of local) for (const [name, rules] of endpointChains(localEndpoint(e), family, () => true)) chains.set(name, rules);
  const profiles = new Map<string, V1Rules>([
    [D, rulesOfD(with3306)],
    [A, defaultRules(A)],
  ]);
  for (const [id, rules] of profiles) {
    if (!local.some((e) => e.profiles.includes(id))) continue;
    for (const [name, list] of profileChains(id, ruleSetFromV1(rules), family).chains) chains.set(name, list);
  }
  return chains;
}

/** The iptables-restore text that creates every chain from nothing. */
export function restoreText(chains: ReadonlyMap<string, readonly string[]>): string {
  return buildRestore(chains, chains.keys(), new Map())?.text ?? '';
}

/** The chains a restore text declares, with their rules (the reverse of restoreText). */
export function parseRestore(text: string): Map<string, string[]> {
  const chains = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const declared = /^:(\S+) /.exec(line);
    if (declared) chains.set(declared[1]!, []);
    const appended = /^-A (\S+) (.*)$/.exec(line);
    if (appended) chains.get(appended[1]!)?.push(appended[2]!);
  }
  return chains;
}

const GOLDEN = join(__dirname, 'golden');

/** Compares `text` with golden/<name>; UPDATE_GOLDEN=1 rewrites the file instead (review the diff). */
export function expectGolden(name: string, text: string): void {
  const path = join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN === '1') {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
    return;
  }
  if (!existsSync(path)) throw new Error(`golden file ${path} is missing: run with UPDATE_GOLDEN=1 and review it`);
  expect(text).toBe(readFileSync(path, 'utf8'));
}

export function readGolden(name: string): string {
  return readFileSync(join(GOLDEN, name), 'utf8');
}

/** Raw keys into a Dataplane, through the datastore's decoder as the syncer delivers them (one decoder per dataplane). */
const feeds = new WeakMap<Dataplane, { resync(kvs: readonly KeyUpdate[]): void; update(kvs: readonly KeyUpdate[]): void }>();
export function feed(dataplane: Dataplane, warn: (message: string) => void = () => undefined) {
  let fed = feeds.get(dataplane);
  if (!fed) {
    const decoder = new UpdateDecoder(reportOnce(warn));
    fed = {
      resync: (kvs) => dataplane.resync(decoder.snapshot(present(kvs))),
      update: (kvs) => dataplane.update(decoder.changes(kvs)),
    };
    feeds.set(dataplane, fed);
  }
  return fed;
}

/** A DatastoreModel fed with raw keys through the datastore's decoder. */
export class RawModel {
  readonly model: DatastoreModel;
  private readonly decoder: UpdateDecoder;

  constructor(state: DataplaneState, warn: (message: string) => void = () => undefined) {
    this.model = new DatastoreModel(state);
    this.decoder = new UpdateDecoder(reportOnce(warn));
  }

  get ready(): boolean {
    return this.model.ready;
  }

  reset(kvs: readonly KeyUpdate[]): void {
    this.model.reset(this.decoder.snapshot(present(kvs)));
  }

  update(kv: KeyUpdate): void {
    for (const update of this.decoder.changes([kv])) this.model.update(update);
  }

  poolCidrs(): string[] {
    return this.model.poolCidrs();
  }

  profileCount(): number {
    return this.model.profileCount();
  }
}

function present(kvs: readonly KeyUpdate[]): { key: string; value: string }[] {
  return kvs.flatMap((kv) => (kv.value === undefined ? [] : [{ key: kv.key, value: kv.value }]));
}
