import type { Endpoint } from '../../datastore/endpoints';
import type { DatastoreUpdate } from '../../datastore/syncer';
import type { RuleSet } from '../../policy/ast';
import { cidrNetworkText } from '../../policy/cidr';
import type { NatPool } from './rules';
import type { DataplaneState, EndpointData, ProfileData } from './state';

/** The datastore's typed updates are the dataplane's input (src/datastore/syncer.ts decodes them). */
export type { DatastoreUpdate } from '../../datastore/syncer';

const MAC = /^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$/;

/** What is known of one profile: each of its keys, as the syncer decoded it. */
interface ProfileParts {
  tags?: readonly string[];
  rules?: RuleSet | 'undecodable';
  labels?: boolean;
}

/**
 * Turns the datastore's typed updates into dataplane state. The syncer has decoded every value,
 * reported the ones that do not decode, and turned a fresh snapshot into the changes since the
 * last one; the model assembles a profile from its tags and rules, and checks what the kernel
 * would refuse (a bad MAC, addresses of the wrong family). Rules that do not decode drop
 * everything; an endpoint that does not decode is absent (its interface hits the dispatch chains' DROP).
 */
export class DatastoreModel {
  private readonly profiles = new Map<string, ProfileParts>();
  private readonly pools = new Map<string, string>();
  /** Every IPv4 pool, Calico-assigned or not, with its nat-outgoing flag. */
  private readonly natPools = new Map<string, NatPool>();
  ready = false;

  constructor(private readonly state: DataplaneState) {}

  /**
   * Applies a snapshot's changes. Profiles first, each rendered once from its tags and rules
   * together: endpoints then find their profiles in place, instead of being rendered again when
   * each profile appears. At start-up with thousands of both, this halves the work.
   */
  reset(updates: readonly DatastoreUpdate[]): void {
    const profiles = new Set<string>();
    for (const update of updates) {
      if (update.kind === 'profileTags' || update.kind === 'profileRules' || update.kind === 'profileLabels') {
        if (this.setPart(update)) profiles.add(update.id);
      }
    }
    for (const id of profiles) this.state.setProfile(id, this.profile(id));
    for (const update of updates) {
      if (update.kind !== 'profileTags' && update.kind !== 'profileRules' && update.kind !== 'profileLabels') this.update(update);
    }
  }

  update(update: DatastoreUpdate): void {
    switch (update.kind) {
      case 'ready':
        this.ready = update.ready;
        return;
      case 'profileTags':
      case 'profileRules':
      case 'profileLabels':
        if (this.setPart(update)) this.state.setProfile(update.id, this.profile(update.id));
        return;
      case 'endpoint': {
        const { hostname, orchestrator, workload, endpoint } = update.key;
        this.state.setEndpoint(`${hostname}/${orchestrator}/${workload}/${endpoint}`, update.endpoint && endpointData(update.endpoint));
        return;
      }
      case 'pool': {
        const id = `${update.version}/${update.name}`;
        this.state.markRoutesDirty();
        if (update.pool === undefined || update.pool.ipam === false) this.pools.delete(id);
        else this.pools.set(id, cidrNetworkText(update.pool.cidr));
        const before = this.natPools.get(id);
        const after = update.pool?.cidr.version === 4 ? { cidr: cidrNetworkText(update.pool.cidr), masquerade: update.pool.masquerade === true } : undefined;
        if (before?.cidr === after?.cidr && before?.masquerade === after?.masquerade) return;
        if (after) this.natPools.set(id, after);
        else this.natPools.delete(id);
        this.state.setNatPools([...this.natPools.values()]);
        return;
      }
      default:
        return; // settings and host addresses do not shape this dataplane
    }
  }

  /** The IPAM pools, for blackhole routes. */
  poolCidrs(): string[] {
    return [...new Set(this.pools.values())].sort();
  }

  profileCount(): number {
    return this.profiles.size;
  }

  /** Records one key of a profile; true when its tags or rules (what the dataplane renders) changed. */
  private setPart(update: Extract<DatastoreUpdate, { kind: 'profileTags' | 'profileRules' | 'profileLabels' }>): boolean {
    const parts: ProfileParts = { ...this.profiles.get(update.id) };
    if (update.kind === 'profileTags') parts.tags = update.tags;
    else if (update.kind === 'profileRules') parts.rules = update.rules;
    else parts.labels = update.labels === undefined ? undefined : true;
    if (parts.tags === undefined) delete parts.tags;
    if (parts.rules === undefined) delete parts.rules;
    if (parts.labels === undefined) delete parts.labels;
    if (Object.keys(parts).length === 0) this.profiles.delete(update.id);
    else this.profiles.set(update.id, parts);
    return update.kind !== 'profileLabels';
  }

  private profile(id: string): ProfileData | undefined {
    const parts = this.profiles.get(id);
    if (!parts || (parts.tags === undefined && parts.rules === undefined)) return undefined;
    const rules = parts.rules ?? { inbound: [], outbound: [] };
    return { tags: parts.tags ?? [], rules: rules === 'undecodable' ? undefined : rules };
  }
}

function endpointData(endpoint: Endpoint): EndpointData {
  // Host addresses only, in one spelling: decodeEndpoint (src/datastore/endpoints.ts), the only
  // source of the syncer's endpoints, has already dropped (and reported) every wider net, since one
  // would be a route for a whole network through one container, and its anti-spoofing match.
  return {
    hostname: endpoint.hostname,
    endpointId: endpoint.endpoint,
    state: endpoint.state,
    iface: endpoint.name,
    mac: MAC.test(endpoint.mac) ? endpoint.mac.toLowerCase() : 'ee:ee:ee:ee:ee:ee',
    profileIds: endpoint.profileIds,
    ipv4Nets: endpoint.ipv4Nets,
    ipv6Nets: endpoint.ipv6Nets,
  };
}
