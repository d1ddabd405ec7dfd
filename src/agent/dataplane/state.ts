import type { RuleSet } from '../../policy/ast';
import { type Chains, dispatchChains, endpointChains, type LocalEndpoint, type NatPool, natOutgoing, profileChains, staticChains } from './rules';
import { type Family, isValidInterface, profileChain, tagSet } from './contract';

/**
 * The desired dataplane, kept up to date incrementally. Each update re-renders only what it
 * affects (one profile's chains, one endpoint's chains, the members of the tags it touches), and
 * records which chains and sets changed, so the applier's work is proportional to the change and
 * not to the number of endpoints or profiles. Pure: no I/O.
 */

export interface ProfileData {
  readonly tags: readonly string[];
  /** Undefined when the stored rules could not be decoded: the profile then drops everything. */
  readonly rules: RuleSet | undefined;
}

export interface EndpointData extends LocalEndpoint {
  readonly hostname: string;
  readonly state: string;
}

export interface Route {
  readonly family: Family;
  readonly iface: string;
  /** The endpoint's network, e.g. 10.65.0.3/32. */
  readonly net: string;
  readonly mac: string;
}

export interface Dirty {
  readonly chains: Record<Family, Set<string>>;
  readonly sets: Record<Family, Set<string>>;
  /** Chains of the IPv4 nat table (outgoing NAT). */
  readonly nat: Set<string>;
  routes: boolean;
}

const FAMILIES: readonly Family[] = [4, 6];
const BROKEN_PROFILE = ['-m comment --comment "ERROR failed to parse rules" -j DROP'];

export class DataplaneState {
  private readonly profiles = new Map<string, ProfileData>();
  private readonly endpoints = new Map<string, EndpointData>();
  /** Every endpoint (any host) by profile: tag membership changes when a profile's tags do. */
  private readonly profileUsers = new Map<string, Set<string>>();
  /** Local endpoints programmed, by etcd key; and how many use each profile. */
  private readonly local = new Map<string, EndpointData>();
  private readonly localIfaces = new Set<string>();
  private dispatchStale = false;
  /** Per family: how many local endpoints with addresses of that family use each profile. */
  private readonly activeProfiles: Record<Family, Map<string, number>> = { 4: new Map(), 6: new Map() };
  /** Per family: tag -> member network -> number of (endpoint) contributions. */
  private readonly members: Record<Family, Map<string, Map<string, number>>> = { 4: new Map(), 6: new Map() };
  private readonly contributions = new Map<string, { tags: ReadonlySet<string>; nets: Record<Family, ReadonlySet<string>> }>();
  /** Per family: tags referenced by programmed profile chains, with reference counts. */
  private readonly tagRefs: Record<Family, Map<string, number>> = { 4: new Map(), 6: new Map() };
  private readonly profileTags: Record<Family, Map<string, Set<string>>> = { 4: new Map(), 6: new Map() };
  /** Per family: set name -> tag, for the sets that exist. */
  private readonly setTags: Record<Family, Map<string, string>> = { 4: new Map(), 6: new Map() };

  private readonly chainMaps: Record<Family, Map<string, readonly string[]>> = { 4: new Map(), 6: new Map() };
  /** The IPv4 nat table's chains, and the pool sets their rule matches (outgoing NAT). */
  private readonly natChainMap = new Map<string, readonly string[]>();
  private poolSets = new Map<string, Set<string>>();
  private dirty: Dirty = freshDirty();

  constructor(readonly hostname: string) {
    for (const family of FAMILIES) {
      this.putChains(family, staticChains(family));
      this.putChains(family, dispatchChains([]));
    }
    this.setNatPools([]);
  }

  /** The IPv4 pools changed: re-render outgoing NAT. Nothing here depends on endpoints. */
  setNatPools(pools: readonly NatPool[]): void {
    const { chains, sets } = natOutgoing(pools);
    for (const name of new Set([...this.poolSets.keys(), ...sets.keys()])) {
      const before = this.poolSets.get(name);
      const after = sets.get(name);
      if (!before || !after || before.size !== after.size || [...after].some((net) => !before.has(net))) this.dirty.sets[4].add(name);
    }
    this.poolSets = sets;
    for (const [name, rules] of chains) {
      if (sameList(this.natChainMap.get(name), rules)) continue;
      this.natChainMap.set(name, rules);
      this.dirty.nat.add(name);
    }
  }

  /** The IPv4 nat table's chains that should exist. */
  get natChains(): ReadonlyMap<string, readonly string[]> {
    return this.natChainMap;
  }

  setProfile(id: string, data: ProfileData | undefined): void {
    const old = this.profiles.get(id);
    if (data) this.profiles.set(id, data);
    else this.profiles.delete(id);
    if (!sameList(old?.tags, data?.tags)) {
      for (const key of this.profileUsers.get(id) ?? []) this.recontribute(key);
    }
    if ((old === undefined) !== (data === undefined)) {
      // Endpoint chains jump to a profile's chain only while it exists. Only this profile's users
      // are looked at: a new profile must not cost a pass over every endpoint on the host.
      for (const key of this.profileUsers.get(id) ?? []) {
        const endpoint = this.local.get(key);
        if (endpoint) this.renderEndpoint(endpoint);
      }
    }
    this.renderProfile(id);
  }

  setEndpoint(key: string, data: EndpointData | undefined): void {
    const old = this.endpoints.get(key);
    if (old) for (const id of old.profileIds) this.profileUsers.get(id)?.delete(key);
    if (data) {
      this.endpoints.set(key, data);
      for (const id of data.profileIds) this.profileUsers.set(id, (this.profileUsers.get(id) ?? new Set()).add(key));
    } else {
      this.endpoints.delete(key);
    }
    this.recontribute(key);

    const wasLocal = this.local.get(key);
    const isLocal = data !== undefined && this.isLocal(data) ? data : undefined;
    if (
      wasLocal &&
      isLocal &&
      wasLocal.iface === isLocal.iface &&
      sameList(wasLocal.profileIds, isLocal.profileIds) &&
      FAMILIES.every((family) => hasAddresses(wasLocal, family) === hasAddresses(isLocal, family))
    ) {
      this.local.set(key, isLocal);
      this.renderEndpoint(isLocal);
      this.dirty.routes = true;
      return;
    }
    if (wasLocal) this.deactivate(key, wasLocal);
    if (isLocal) this.activate(key, isLocal);
  }

  /** The chains that should exist, per family. */
  get chains(): Record<Family, Map<string, readonly string[]>> {
    this.flushDispatch();
    return this.chainMaps;
  }

  /** The ipsets that should exist, with their members. */
  sets(family: Family): Map<string, Set<string>> {
    const sets = new Map<string, Set<string>>();
    for (const [name, tag] of this.setTags[family]) sets.set(name, new Set(this.members[family].get(tag)?.keys() ?? []));
    if (family === 4) for (const [name, members] of this.poolSets) sets.set(name, new Set(members));
    return sets;
  }

  /** The members of one set, or undefined when the set should not exist. */
  setMembers(family: Family, name: string): Set<string> | undefined {
    const pools = family === 4 ? this.poolSets.get(name) : undefined;
    if (pools) return new Set(pools);
    const tag = this.setTags[family].get(name);
    return tag === undefined ? undefined : new Set(this.members[family].get(tag)?.keys() ?? []);
  }

  routes(): Route[] {
    return [...this.local.values()].flatMap((e) => [
      ...e.ipv4Nets.map((net) => ({ family: 4 as const, iface: e.iface, net, mac: e.mac })),
      ...e.ipv6Nets.map((net) => ({ family: 6 as const, iface: e.iface, net, mac: e.mac })),
    ]);
  }

  localInterfaces(family?: Family): string[] {
    return [...this.local.values()].filter((e) => family === undefined || hasAddresses(e, family)).map((e) => e.iface);
  }

  /** Pools changed: their blackhole routes need updating. */
  markRoutesDirty(): void {
    this.dirty.routes = true;
  }

  /** What changed since the last call. */
  takeDirty(): Dirty {
    this.flushDispatch();
    const dirty = this.dirty;
    this.dirty = freshDirty();
    return dirty;
  }

  /** Marks some chains or sets dirty again: those whose last write failed, to be retried. */
  markDirty(family: Family, kind: 'chains' | 'sets', names: Iterable<string>): void {
    for (const name of names) this.dirty[kind][family].add(name);
  }

  /** Marks everything dirty, for a full rewrite (start-up, resync, periodic refresh). */
  markAllDirty(): void {
    this.flushDispatch();
    for (const family of FAMILIES) {
      for (const name of this.chainMaps[family].keys()) this.dirty.chains[family].add(name);
      for (const name of this.sets(family).keys()) this.dirty.sets[family].add(name);
    }
    for (const name of this.natChainMap.keys()) this.dirty.nat.add(name);
    this.dirty.routes = true;
  }

  private isLocal(endpoint: EndpointData): boolean {
    return endpoint.hostname === this.hostname && endpoint.state === 'active' && isValidInterface(endpoint.iface);
  }

  /**
   * An endpoint gets chains (and a place in the dispatch chains) only in the IP families it has
   * addresses in: its traffic of another family meets the dispatch chains' final DROP anyway, and
   * a host of IPv4-only containers then programs half the rules.
   */
  private activate(key: string, endpoint: EndpointData): void {
    // Two endpoints claiming one interface: the first keeps it; the dispatch chain has one entry.
    if (this.localIfaces.has(endpoint.iface)) return;
    this.local.set(key, endpoint);
    this.localIfaces.add(endpoint.iface);
    for (const family of FAMILIES) {
      if (!hasAddresses(endpoint, family)) continue;
      for (const id of endpoint.profileIds) {
        const count = (this.activeProfiles[family].get(id) ?? 0) + 1;
        this.activeProfiles[family].set(id, count);
        if (count === 1) this.renderProfileIn(family, id);
      }
    }
    this.renderEndpoint(endpoint);
    this.renderDispatch();
  }

  private deactivate(key: string, endpoint: EndpointData): void {
    this.local.delete(key);
    this.localIfaces.delete(endpoint.iface);
    for (const family of FAMILIES) {
      if (!hasAddresses(endpoint, family)) continue;
      for (const name of endpointChains(endpoint, family, () => false).keys()) this.dropChain(family, name);
      for (const id of endpoint.profileIds) {
        const count = (this.activeProfiles[family].get(id) ?? 1) - 1;
        if (count > 0) {
          this.activeProfiles[family].set(id, count);
          continue;
        }
        this.activeProfiles[family].delete(id);
        this.dropProfileIn(family, id);
      }
    }
    this.renderDispatch();
  }

  private renderEndpoint(endpoint: EndpointData): void {
    for (const family of FAMILIES) {
      if (hasAddresses(endpoint, family)) this.putChains(family, endpointChains(endpoint, family, (id) => this.profiles.has(id)));
    }
    this.dirty.routes = true;
  }

  /** The dispatch chains list every local endpoint: rebuilt once per batch, not once per endpoint. */
  private renderDispatch(): void {
    this.dispatchStale = true;
    this.dirty.routes = true;
  }

  private flushDispatch(): void {
    if (!this.dispatchStale) return;
    this.dispatchStale = false;
    for (const family of FAMILIES) this.putChains(family, dispatchChains(this.localInterfaces(family)));
  }

  /** Re-renders a profile's chains in each family where a local endpoint uses it. */
  private renderProfile(id: string): void {
    for (const family of FAMILIES) if ((this.activeProfiles[family].get(id) ?? 0) > 0) this.renderProfileIn(family, id);
  }

  private renderProfileIn(family: Family, id: string): void {
    const profile = this.profiles.get(id);
    if (!profile) {
      this.dropProfileIn(family, id);
      return;
    }
    if (!profile.rules) {
      this.putChains(family, new Map([[profileChain(id, 'inbound'), BROKEN_PROFILE], [profileChain(id, 'outbound'), BROKEN_PROFILE]]));
      this.updateTagRefs(family, id, new Set());
      return;
    }
    const { chains, tags } = profileChains(id, profile.rules, family);
    // Sets before the chains that match on them: the applier creates sets first.
    this.updateTagRefs(family, id, tags);
    this.putChains(family, chains);
  }

  private dropProfileIn(family: Family, id: string): void {
    this.dropChain(family, profileChain(id, 'inbound'));
    this.dropChain(family, profileChain(id, 'outbound'));
    this.updateTagRefs(family, id, new Set());
  }

  private updateTagRefs(family: Family, profileId: string, tags: Set<string>): void {
    const before = this.profileTags[family].get(profileId) ?? new Set<string>();
    for (const tag of tags) {
      if (before.has(tag)) continue;
      const count = (this.tagRefs[family].get(tag) ?? 0) + 1;
      this.tagRefs[family].set(tag, count);
      if (count === 1) {
        this.setTags[family].set(tagSet(family, tag), tag);
        this.dirty.sets[family].add(tagSet(family, tag));
      }
    }
    for (const tag of before) {
      if (tags.has(tag)) continue;
      const count = (this.tagRefs[family].get(tag) ?? 1) - 1;
      if (count > 0) this.tagRefs[family].set(tag, count);
      else {
        this.tagRefs[family].delete(tag);
        this.setTags[family].delete(tagSet(family, tag));
        this.dirty.sets[family].add(tagSet(family, tag));
      }
    }
    if (tags.size > 0) this.profileTags[family].set(profileId, tags);
    else this.profileTags[family].delete(profileId);
  }

  /** Recomputes one endpoint's contribution to tag membership, and marks the sets that changed. */
  private recontribute(key: string): void {
    const endpoint = this.endpoints.get(key);
    const tags = new Set<string>();
    if (endpoint) for (const id of endpoint.profileIds) for (const tag of this.profiles.get(id)?.tags ?? []) tags.add(tag);
    const next = { tags, nets: { 4: new Set(endpoint?.ipv4Nets), 6: new Set(endpoint?.ipv6Nets) } };
    const previous = this.contributions.get(key);
    // Tag x net pairs, compared without building them: this runs for each of thousands of endpoints at start-up.
    for (const family of FAMILIES) {
      if (previous) {
        for (const tag of previous.tags) for (const net of previous.nets[family]) if (!(next.tags.has(tag) && next.nets[family].has(net))) this.adjustMember(family, tag, net, -1);
      }
      for (const tag of next.tags) for (const net of next.nets[family]) if (!(previous?.tags.has(tag) && previous.nets[family].has(net))) this.adjustMember(family, tag, net, +1);
    }
    if (endpoint) this.contributions.set(key, next);
    else this.contributions.delete(key);
  }

  private adjustMember(family: Family, tag: string, net: string, delta: number): void {
    const nets = this.members[family].get(tag) ?? new Map<string, number>();
    const count = (nets.get(net) ?? 0) + delta;
    const changedPresence = (count > 0) !== ((nets.get(net) ?? 0) > 0);
    if (count > 0) nets.set(net, count);
    else nets.delete(net);
    if (nets.size > 0) this.members[family].set(tag, nets);
    else this.members[family].delete(tag);
    if (changedPresence && this.tagRefs[family].has(tag)) this.dirty.sets[family].add(tagSet(family, tag));
  }

  private putChains(family: Family, chains: Chains): void {
    for (const [name, rules] of chains) {
      if (sameList(this.chainMaps[family].get(name), rules)) continue;
      this.chainMaps[family].set(name, rules);
      this.dirty.chains[family].add(name);
    }
  }

  private dropChain(family: Family, name: string): void {
    if (this.chainMaps[family].delete(name)) this.dirty.chains[family].add(name);
  }
}

function hasAddresses(endpoint: EndpointData, family: Family): boolean {
  return (family === 4 ? endpoint.ipv4Nets : endpoint.ipv6Nets).length > 0;
}

function freshDirty(): Dirty {
  return { chains: { 4: new Set(), 6: new Set() }, sets: { 4: new Set(), 6: new Set() }, nat: new Set(), routes: false };
}

function sameList(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (a === b) return true;
  if (!a || !b || a.length !== b.length) return false;
  return a.every((item, index) => item === b[index]);
}
