import { hostname } from 'os';
import type { EtcdServer } from '../test/e2e/harness/etcd';
import { DataplaneState } from '../src/agent/dataplane/state';
import { etcdSettings } from '../src/datastore/config';
import { GatewayKvStore } from '../src/datastore/gateway';
import { ruleFromV1 } from '../src/policy/codec';

/** The hostname calico-node uses when the harness starts it (no --hostname given). */
export const AGENT_HOSTNAME = process.env.HOSTNAME || hostname();

/** A synthetic profile's rules (v1 JSON): members accept each other, and tcp 5000 from their tag. */
export function syntheticRules(id: string) {
  return {
    inbound_rules: [{ action: 'allow', src_tag: id }, { action: 'allow', protocol: 'tcp', src_tag: id, dst_ports: [5000] }],
    outbound_rules: [{ action: 'allow' }],
  };
}

/** Synthetic endpoint number `e` (v1 JSON), in profile `synthetic-<e mod profiles>`. */
export function syntheticEndpoint(e: number, profiles: number) {
  const id = `${e.toString(16).padStart(11, '0')}${'f'.repeat(53)}`;
  return {
    id,
    value: {
      state: 'active',
      name: `cali${id.slice(0, 11)}`,
      mac: 'EE:EE:EE:EE:EE:EE',
      profile_ids: [`synthetic-${e % profiles}`],
      ipv4_nets: [`10.201.${Math.floor(e / 250)}.${(e % 250) + 1}/32`],
      ipv6_nets: [] as string[],
      labels: {},
    },
  };
}

/**
 * Writes `endpoints` synthetic workload endpoints on this host, spread over `profiles` profiles
 * (each tagged with its own name, accepting tcp 5000 from its own tag), as the plugin would. Their
 * interfaces do not exist, so the agent programs their chains and ipsets but not their routes.
 */
export async function writeSyntheticEndpoints(etcd: EtcdServer, endpoints: number, profiles: number): Promise<void> {
  const kv = new GatewayKvStore(etcdSettings(etcd.env));
  try {
    const puts: { type: 'put'; key: string; value: string }[] = [];
    for (let p = 0; p < profiles; p++) {
      const id = `synthetic-${p}`;
      puts.push({ type: 'put', key: `/calico/v1/policy/profile/${id}/tags`, value: JSON.stringify([id]) });
      puts.push({ type: 'put', key: `/calico/v1/policy/profile/${id}/rules`, value: JSON.stringify(syntheticRules(id)) });
    }
    for (let e = 0; e < endpoints; e++) {
      const endpoint = syntheticEndpoint(e, profiles);
      const key = `/calico/v1/host/${AGENT_HOSTNAME}/workload/libnetwork/libnetwork/endpoint/${endpoint.id}`;
      puts.push({ type: 'put', key, value: JSON.stringify(endpoint.value) });
    }
    // etcd caps a transaction at 128 operations by default.
    for (let i = 0; i < puts.length; i += 100) await kv.commit([], puts.slice(i, i + 100));
  } finally {
    kv.close();
  }
}

const rules = (list: readonly Record<string, unknown>[]) => list.map((v1) => ruleFromV1(v1, 'rule'));

/**
 * The dataplane the agent renders for what writeSyntheticEndpoints stores: the same chains and
 * sets, from the agent's own renderer, without etcd or an agent.
 */
export function syntheticState(endpoints: number, profiles: number): DataplaneState {
  const state = new DataplaneState('bench');
  for (let p = 0; p < profiles; p++) {
    const id = `synthetic-${p}`;
    const v1 = syntheticRules(id);
    state.setProfile(id, { tags: [id], rules: { inbound: rules(v1.inbound_rules), outbound: rules(v1.outbound_rules) } });
  }
  for (let e = 0; e < endpoints; e++) {
    const { id, value } = syntheticEndpoint(e, profiles);
    state.setEndpoint(`/ep${e}`, {
      hostname: 'bench',
      state: value.state,
      endpointId: id,
      iface: value.name,
      mac: value.mac.toLowerCase(),
      profileIds: value.profile_ids,
      ipv4Nets: value.ipv4_nets,
      ipv6Nets: value.ipv6_nets,
    });
  }
  return state;
}
