import { decodeEndpoint } from '../../datastore/endpoints';
import { parseEndpointKey, parseProfileKey, READY } from '../../datastore/keys';
import { decodePool, poolPrefix } from '../../datastore/pools';
import { decodeRules, decodeTags } from '../../datastore/profiles';
import { cidrNetworkText, parseCidr } from '../../policy/cidr';
import type { DataplaneState, EndpointData, ProfileData } from './state';

export interface KeyUpdate {
  readonly key: string;
  /** Undefined for a deletion. */
  readonly value: string | undefined;
}

const MAC = /^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$/;

/**
 * Turns etcd keys under /calico/v1/ into dataplane updates. Keeps the raw values, so that a resync
 * can tell which keys disappeared, and so a profile is re-decoded when either its tags or its
 * rules change. Values that do not decode never crash the agent: a profile with bad rules drops
 * everything, a bad endpoint is ignored (its interface then hits the dispatch chains' DROP).
 */
export class DatastoreModel {
  private readonly raw = new Map<string, string>();
  private readonly pools = new Map<string, string>();
  ready = false;

  constructor(
    private readonly state: DataplaneState,
    private readonly warn: (message: string) => void,
  ) {}

  /** Applies a full snapshot: every key not in it is deleted. */
  reset(snapshot: readonly KeyUpdate[]): void {
    const present = new Set(snapshot.map((update) => update.key));
    for (const key of [...this.raw.keys()]) if (!present.has(key)) this.update({ key, value: undefined });
    if (!present.has(READY)) this.ready = false;
    // Profiles first, each rendered once from its tags and rules together: endpoints (whose keys
    // sort first) then find their profiles in place, instead of being rendered again when each
    // profile appears. At start-up with thousands of both, this halves the work.
    const profiles = new Set<string>();
    const others: KeyUpdate[] = [];
    for (const update of snapshot) {
      const profileKey = parseProfileKey(update.key);
      if (!profileKey || (profileKey.leaf !== 'tags' && profileKey.leaf !== 'rules')) {
        others.push(update);
      } else if (update.value !== undefined && this.raw.get(update.key) !== update.value) {
        this.raw.set(update.key, update.value);
        profiles.add(profileKey.id);
      }
    }
    for (const id of profiles) this.state.setProfile(id, this.profile(id));
    for (const update of others) this.update(update);
  }

  update({ key, value }: KeyUpdate): void {
    if (key === READY) {
      this.ready = value === 'true';
      return;
    }
    if (value === undefined ? !this.raw.has(key) : this.raw.get(key) === value) return;
    if (value === undefined) this.raw.delete(key);
    else this.raw.set(key, value);

    const profileKey = parseProfileKey(key);
    if (profileKey) {
      if (profileKey.leaf === 'tags' || profileKey.leaf === 'rules') this.state.setProfile(profileKey.id, this.profile(profileKey.id));
      return;
    }
    const endpointKey = parseEndpointKey(key);
    if (endpointKey) {
      this.state.setEndpoint(key, value === undefined ? undefined : this.endpoint(key, value));
      return;
    }
    if (key.startsWith(poolPrefix(4)) || key.startsWith(poolPrefix(6))) {
      this.state.markRoutesDirty();
      if (value === undefined) this.pools.delete(key);
      else {
        try {
          const pool = decodePool(key, value);
          if (pool.ipam === false) this.pools.delete(key);
          else this.pools.set(key, cidrNetworkText(pool.cidr));
        } catch (error) {
          this.warn((error as Error).message);
          this.pools.delete(key);
        }
      }
    }
  }

  /** The IPAM pools, for blackhole routes. */
  poolCidrs(): string[] {
    return [...new Set(this.pools.values())].sort();
  }

  profileCount(): number {
    return new Set([...this.raw.keys()].map((key) => parseProfileKey(key)?.id).filter((id) => id !== undefined)).size;
  }

  private profile(id: string): ProfileData | undefined {
    const prefix = `/calico/v1/policy/profile/${id}/`;
    const tags = this.raw.get(`${prefix}tags`);
    const rules = this.raw.get(`${prefix}rules`);
    if (tags === undefined && rules === undefined) return undefined;
    let decodedTags: string[] = [];
    try {
      decodedTags = decodeTags(tags === undefined ? undefined : { key: `${prefix}tags`, value: tags, modRevision: 0 });
    } catch (error) {
      this.warn((error as Error).message);
    }
    try {
      return { tags: decodedTags, rules: decodeRules(rules === undefined ? undefined : { key: `${prefix}rules`, value: rules, modRevision: 0 }) };
    } catch (error) {
      this.warn(`${(error as Error).message}; the profile drops all traffic until it is fixed`);
      return { tags: decodedTags, rules: undefined };
    }
  }

  private endpoint(key: string, value: string): EndpointData | undefined {
    const parsed = parseEndpointKey(key);
    if (!parsed) return undefined;
    try {
      const endpoint = decodeEndpoint(parsed, key, value);
      const nets = (list: readonly string[], version: 4 | 6) =>
        list.map((text) => parseCidr(text)).filter((c) => c !== undefined && c.version === version).map((c) => cidrNetworkText(c!));
      return {
        hostname: endpoint.hostname,
        endpointId: endpoint.endpoint,
        state: endpoint.state,
        iface: endpoint.name,
        mac: MAC.test(endpoint.mac) ? endpoint.mac.toLowerCase() : 'ee:ee:ee:ee:ee:ee',
        profileIds: endpoint.profileIds,
        ipv4Nets: nets(endpoint.ipv4Nets, 4),
        ipv6Nets: nets(endpoint.ipv6Nets, 6),
      };
    } catch (error) {
      this.warn((error as Error).message);
      return undefined;
    }
  }
}
