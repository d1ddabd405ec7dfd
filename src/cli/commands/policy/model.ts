import type { DockerContainer } from '../../../docker/engine';
import type { NetworkDirectory } from '../../../docker/networks';
import { LazyEndpoints, readHostAddresses, readModelProfiles, readPolicyModel } from '../../../datastore/policy-model';
import type { KvStore } from '../../../datastore/kv';
import type { Rule } from '../../../policy/ast';
import { endpointAddresses, endpointAt, type ModelEndpoint, type ModelProfile, type PolicyModel } from '../../../policy/evaluate';
import { parseIp } from '../../../policy/cidr';
import { mapRuleTags } from '../../../policy/edits';
import { printRule } from '../../../policy/printer';
import type { CommandContext } from '../../context';
import { CommandError, UsageError } from '../../errors';

/**
 * The policy model of `policy trace`, `policy matrix` and the dry-run previews, read from etcd (so
 * it covers every host), and the names users know things by: Docker network names for profile
 * IDs and tags, container names for endpoints. Docker is asked only when a name needs it, and a
 * Docker that cannot be reached only costs the names.
 */
export class PolicyView {
  private directory: NetworkDirectory | null | undefined;
  private containerList: DockerContainer[] | null | undefined;
  /** Profiles read one by one, when not all of them were read at once. */
  private readonly someProfiles = new Map<string, Promise<ModelProfile | undefined>>();

  private constructor(
    private readonly ctx: CommandContext,
    /** The whole model (every endpoint and profile), or for a trace's view undefined: see `lazy`. */
    private readonly whole: PolicyModel | undefined,
    /** A trace's view: endpoints decoded as asked, profiles read as asked, the hosts' addresses. */
    private readonly lazy?: { readonly kv: KvStore; readonly endpoints: LazyEndpoints; readonly hostAddresses: ReadonlyMap<string, readonly string[]> },
  ) {}

  /**
   * The model as etcd holds it. With `profiles: 'on demand'` (a trace's), the endpoints are read but
   * decoded only as asked, and `modelFor` reads the few profiles a packet's verdict depends on.
   */
  static async read(ctx: CommandContext, kv: KvStore = ctx.kv(), { profiles = 'all' }: { profiles?: 'all' | 'on demand' } = {}): Promise<PolicyView> {
    if (profiles === 'all') return new PolicyView(ctx, await readPolicyModel(kv, ctx.report));
    const [endpoints, hostAddresses] = await Promise.all([LazyEndpoints.read(kv, ctx.report), readHostAddresses(kv)]);
    return new PolicyView(ctx, undefined, { kv, endpoints, hostAddresses });
  }

  /** A view of another state of etcd (a dry run's result), sharing this one's Docker answers. */
  async other(kv: KvStore): Promise<PolicyView> {
    const view = await PolicyView.read(this.ctx, kv);
    view.directory = this.directory;
    view.containerList = this.containerList;
    return view;
  }

  /** The whole model; only a view that read every profile has it. */
  get model(): PolicyModel {
    if (!this.whole) throw new Error('PolicyView.model: this view reads on demand; use modelFor');
    return this.whole;
  }

  /** The first endpoint (in key order) with one of these IDs. */
  findEndpoint(ids: ReadonlySet<string>): ModelEndpoint | undefined {
    return this.whole ? this.whole.endpoints.find((e) => ids.has(e.id)) : this.lazy?.endpoints.find(ids);
  }

  /** The endpoint that holds an address, or undefined for the outside world. */
  endpointAt(address: string): ModelEndpoint | undefined {
    if (this.whole) return endpointAt(this.whole, address);
    const text = parseIp(address)?.text;
    return text === undefined ? undefined : this.lazy?.endpoints.holding([text])[0];
  }

  /**
   * A model that gives packets between these addresses their verdicts. The verdict depends only on
   * the endpoints that hold the two addresses and their profiles (their rules, and their tags,
   * which are the addresses' memberships), so an on-demand view holds just those.
   */
  async modelFor(addresses: readonly string[]): Promise<PolicyModel> {
    if (this.whole) return this.whole;
    const lazy = this.lazy as NonNullable<PolicyView['lazy']>;
    const endpoints = lazy.endpoints.holding(addresses.flatMap((a) => parseIp(a)?.text ?? []));
    const found = await Promise.all([...new Set(endpoints.flatMap((e) => e.profileIds))].map((id) => this.profile(id)));
    const profiles = new Map<string, ModelProfile>();
    for (const profile of found) if (profile) profiles.set(profile.id, profile);
    return { profiles, endpoints, hostAddresses: lazy.hostAddresses };
  }

  private profile(id: string): Promise<ModelProfile | undefined> {
    if (!this.lazy) return Promise.resolve(this.whole?.profiles.get(id));
    let read = this.someProfiles.get(id);
    if (!read) {
      // From the store the endpoints came from, so a view of another state of etcd stays one state.
      read = readModelProfiles(this.lazy.kv, this.ctx.report, [id]).then((map) => map.get(id));
      this.someProfiles.set(id, read);
    }
    return read;
  }

  /** Docker's networks, or null when Docker cannot be asked. */
  async networks(): Promise<NetworkDirectory | null> {
    if (this.directory === undefined) this.directory = await this.ctx.networks().catch(() => null);
    return this.directory;
  }

  /** Docker's containers, or null when Docker cannot be asked. */
  async containers(): Promise<DockerContainer[] | null> {
    if (this.containerList === undefined) this.containerList = await Promise.resolve()
        .then(() => this.ctx.dockerEngine().listContainers())
        .catch(() => null);
    return this.containerList;
  }

  /**
   * A function naming profiles and tags as users know them: a network ID by its network's name.
   * Docker is asked only when some ID looks like a Docker network's (64 hex digits).
   */
  async profileNamer(ids: Iterable<string>): Promise<(id: string) => string> {
    const needsDocker = [...ids].some((id) => /^[0-9a-f]{64}$/.test(id));
    const networks = needsDocker ? await this.networks() : null;
    return (id) => networks?.nameForId(id) ?? id;
  }

  /** A function naming endpoints: the container's name where Docker knows it, else the endpoint ID's first 12 characters. */
  async endpointNamer(): Promise<(endpoint: ModelEndpoint) => string> {
    const names = new Map<string, string>();
    for (const container of (await this.containers()) ?? []) for (const net of container.networks) if (net.endpointId !== '') names.set(net.endpointId, container.name);
    return (endpoint) => names.get(endpoint.id) ?? endpoint.id.slice(0, 12);
  }

  /** The endpoints using a profile, by its ID. */
  membersOf(profileId: string): ModelEndpoint[] {
    return (this.whole?.endpoints ?? this.lazy?.endpoints.all() ?? []).filter((e) => e.profileIds.includes(profileId));
  }

  /** The profile ID a network or profile name stands for, or undefined. */
  async profileIdFor(name: string): Promise<string | undefined> {
    if (await this.profile(name)) return name;
    const id = (await this.networks())?.idForName(name);
    return id !== undefined && (await this.profile(id)) ? id : undefined;
  }
}

/** One end of a trace: an endpoint, or an address of the outside world. */
export interface Place {
  /** What was typed. */
  readonly word: string;
  readonly endpoint?: ModelEndpoint;
  /** The address, when one was typed. */
  readonly address?: string;
  /** The container's name, when the word named a container or it is known. */
  readonly label: string;
}

/**
 * Finds what a word of `policy trace` names: an IP address (an endpoint's, or the outside
 * world), an endpoint ID, with --any a network or profile name (any endpoint of it), or a
 * container name or ID. `avoid` is an endpoint to pick only when no other will do.
 */
export async function resolvePlace(view: PolicyView, word: string, any: boolean, avoid?: ModelEndpoint): Promise<Place> {
  const ip = parseIp(word);
  if (ip) {
    const endpoint = view.endpointAt(ip.text);
    return { word, address: ip.text, label: word, ...(endpoint && { endpoint }) };
  }
  const byId = view.findEndpoint(new Set([word]));
  if (byId) return { word, endpoint: byId, label: word.slice(0, 12) };

  const profileId = await view.profileIdFor(word);
  if (profileId !== undefined && any) {
    const members = view.membersOf(profileId).filter(hasAddress);
    const endpoint = members.find((e) => e !== avoid) ?? members[0];
    if (!endpoint) throw new CommandError(`${word} has no endpoint with an address.`);
    return { word, endpoint, label: `${word} (any: ${endpoint.id.slice(0, 12)})` };
  }

  const containers = await view.containers();
  const container = containers && findContainer(containers, word);
  if (container) {
    const ids = new Set(container.networks.map((n) => n.endpointId).filter((id) => id !== ''));
    const endpoint = view.findEndpoint(ids);
    if (!endpoint) throw new CommandError(`Container ${word} has no Calico endpoint.`);
    return { word, endpoint, label: container.name };
  }
  if (profileId !== undefined) throw new UsageError(`${word} is a network or profile: add --any to pick any of its endpoints.`);
  const why = containers === null ? ' (and Docker could not be asked for a container of that name)' : '';
  throw new CommandError(`${word} is no IP address, endpoint, container or network known to Calico${why}.`);
}

function findContainer(containers: readonly DockerContainer[], word: string): DockerContainer | undefined {
  const exact = containers.find((c) => c.name === word || c.id === word);
  if (exact) return exact;
  // Docker takes a unique prefix of an ID, as `docker inspect` does.
  const prefixed = /^[0-9a-f]+$/.test(word) ? containers.filter((c) => c.id.startsWith(word)) : [];
  return prefixed.length === 1 ? prefixed[0] : undefined;
}

function hasAddress(endpoint: ModelEndpoint): boolean {
  return endpointAddresses(endpoint, 4).length > 0 || endpointAddresses(endpoint, 6).length > 0;
}

/** The addresses of both ends in one IP family: the typed addresses' own, else IPv4 when both have it. */
export function addressesOf(from: Place, to: Place, family?: 4 | 6): { src: string; dst: string; family: 4 | 6 } {
  const options = (place: Place, version: 4 | 6): string[] => {
    if (place.address !== undefined) return parseIp(place.address)?.version === version ? [place.address] : [];
    return place.endpoint ? endpointAddresses(place.endpoint, version) : [];
  };
  for (const version of family !== undefined ? [family] : ([4, 6] as const)) {
    const src = options(from, version)[0];
    const dst = options(to, version)[0];
    if (src !== undefined && dst !== undefined) return { src, dst, family: version };
  }
  throw new CommandError(`${from.word} and ${to.word} have no addresses of one IP family${family ? ` (IPv${family})` : ''}.`);
}

/** A rule in `rule show` words, with network IDs in tags shown as network names. */
export function shownRule(rule: Rule, name: (id: string) => string): string {
  const [mapped] = mapRuleTags({ inbound: [rule], outbound: [] }, name).inbound;
  return printRule(mapped ?? rule);
}
