import {
  ALL_POOLS_SET,
  CHAIN_PREFIX,
  FROM_ENDPOINT,
  type Family,
  fromEndpointChain,
  IPSET_PREFIXES,
  isValidInterface,
  MASQ_POOLS_SET,
  NAT_TOP_CHAINS,
  profileChain,
  tagSet,
  TO_ENDPOINT,
  TOP_CHAINS,
  toEndpointChain,
} from '../../../agent/dataplane/contract';
import { cidrNetworkText, parseCidr } from '../../../policy/cidr';

/**
 * `calicoctl diags --check`: what etcd, the kernel, BIRD and Docker say about this host, compared.
 * Pure: the readers beside it (sources.ts) fill in the views, and fixes.ts applies the fixes this
 * module proposes. Each finding is one line of stable wording, so tests and scripts can match it.
 *
 * Only what this host owns is judged: its endpoints, the addresses assigned for it, its kernel
 * objects with the agent's prefixes (src/agent/dataplane/contract.ts), so that running the check on
 * every host of a cluster reports each problem once.
 */

export interface EndpointView {
  /** The etcd key and its revision: deleting it is guarded by that revision. */
  readonly key: string;
  readonly modRevision: number;
  readonly hostname: string;
  readonly orchestrator: string;
  readonly endpointId: string;
  readonly iface: string;
  readonly state: string;
  readonly profileIds: readonly string[];
  readonly ipv4Nets: readonly string[];
  readonly ipv6Nets: readonly string[];
}

export interface BlockView {
  readonly key: string;
  readonly modRevision: number;
  readonly cidr: string;
  readonly version: Family;
  readonly affinity: string | undefined;
  /** Every assigned address with the host it was assigned for. */
  readonly assigned: readonly { readonly address: string; readonly owner: string }[];
}

export interface EtcdView {
  /** The revision the endpoints were read at: releasing an address is guarded by no endpoint having been written since. */
  readonly revision: number;
  /** Every host's endpoints: an address used by an endpoint anywhere is not an orphan. */
  readonly endpoints: readonly EndpointView[];
  /** Each profile's ID, its tags and the tags its rules refer to. */
  readonly profiles: readonly { readonly id: string; readonly tags: readonly string[]; readonly ruleTags: readonly string[] }[];
  /** Pools the agent blackholes: every pool whose ipam is not off. */
  readonly poolCidrs: readonly string[];
  readonly blocks: readonly BlockView[];
  /** This host's block affinities. */
  readonly affinities: readonly { readonly version: Family; readonly cidr: string }[];
  /** This host's IpInIpTunnelAddr: assigned for the host's tunl0, not for an endpoint. */
  readonly tunnelAddress?: string;
  /** Every IPv4 pool (whatever its ipam flag) and whether it masquerades: what outgoing NAT is made of. */
  readonly natPools?: readonly { readonly cidr: string; readonly masquerade: boolean }[];
}

export interface KernelRoute {
  readonly family: Family;
  /** The destination as a network: 10.65.0.3/32. */
  readonly net: string;
  /** The device, or undefined for a blackhole route. */
  readonly iface: string | undefined;
}

export interface KernelView {
  /**
   * Per family, every chain of the filter table with its rules as iptables-save writes them
   * (without `-A <chain>`), or undefined when the family could not be read. Only chains with our
   * prefix are judged; the others are there for the jumps into ours.
   */
  readonly chains: Readonly<Record<Family, ReadonlyMap<string, readonly string[]> | undefined>>;
  /** Every ipset name with one of our prefixes. */
  readonly sets: readonly string[];
  /** The routes marked with our protocol. */
  readonly routes: readonly KernelRoute[];
  /** Host interfaces with our prefix. */
  readonly links: readonly string[];
  /** The IPv4 nat table's chains, as `chains` holds the filter table's; undefined when not read. */
  readonly nat?: ReadonlyMap<string, readonly string[]>;
  /** The outgoing-NAT sets that exist (Felix's names), with their members. */
  readonly natSets?: ReadonlyMap<string, readonly string[]>;
}

export interface BirdView {
  /** Per family, the prefixes in BIRD's table, or undefined when that BIRD is not running. */
  readonly routes: Readonly<Record<Family, ReadonlySet<string> | undefined>>;
}

export interface DockerContainerView {
  readonly id: string;
  readonly name: string;
  readonly networks: readonly { readonly networkId: string; readonly endpointId: string; readonly addresses: readonly string[] }[];
}

export interface DockerView {
  readonly containers: readonly DockerContainerView[];
  /** IDs of the networks whose driver is Calico's. */
  readonly calicoNetworks: ReadonlySet<string>;
}

export interface CheckInput {
  readonly hostname: string;
  readonly etcd: EtcdView;
  /** Undefined for a source that could not be read (the readers record why in a note). */
  readonly kernel?: KernelView;
  readonly bird?: BirdView;
  readonly docker?: DockerView;
}

/** A fix this module judged safe: one guarded etcd transaction, or one kernel command. */
export type Fix =
  | { readonly kind: 'release-address'; readonly address: string; readonly blockKey: string; readonly blockRevision: number; readonly endpointsRevision: number }
  | { readonly kind: 'delete-endpoint'; readonly key: string; readonly modRevision: number }
  | { readonly kind: 'delete-chain'; readonly family: Family; readonly name: string; readonly references: readonly string[] }
  | { readonly kind: 'destroy-set'; readonly name: string }
  | { readonly kind: 'delete-route'; readonly route: KernelRoute }
  | { readonly kind: 'delete-link'; readonly name: string };

export type FindingKind =
  | 'orphaned-address'
  | 'affinity-without-block'
  | 'block-without-affinity'
  | 'endpoint-without-container'
  | 'container-without-endpoint'
  | 'chain-without-owner'
  | 'missing-chain'
  | 'ipset-without-owner'
  | 'missing-route'
  | 'route-without-endpoint'
  | 'missing-blackhole'
  | 'veth-without-endpoint'
  | 'endpoint-without-veth'
  | 'missing-bird-route'
  | 'missing-nat-rule'
  | 'nat-rule-without-pool'
  | 'missing-ipset'
  | 'ipset-members-differ';

export interface Finding {
  readonly kind: FindingKind;
  readonly message: string;
  /** Present when --fix may repair it. */
  readonly fix?: Fix;
}

/** The order fixes are applied in: a chain that jumps to a set goes before the set, endpoints before their addresses. */
const FIX_ORDER: readonly Fix['kind'][] = ['delete-endpoint', 'delete-chain', 'destroy-set', 'delete-route', 'delete-link', 'release-address'];

export function check(input: CheckInput): Finding[] {
  const local = input.etcd.endpoints.filter((e) => e.hostname === input.hostname);
  const findings: Finding[] = [
    ...ipamFindings(input),
    ...(input.docker ? dockerFindings(local, input.docker) : []),
    ...(input.kernel ? kernelFindings(input, local, input.kernel) : []),
    ...(input.kernel ? natFindings(input, input.kernel) : []),
    ...(input.bird ? birdFindings(input, input.bird) : []),
  ];
  return findings;
}

/** The safe fixes, in the order they must be applied. */
export function fixesOf(findings: readonly Finding[]): { finding: Finding; fix: Fix }[] {
  return findings
    .flatMap((finding) => (finding.fix ? [{ finding, fix: finding.fix }] : []))
    .sort((a, b) => FIX_ORDER.indexOf(a.fix.kind) - FIX_ORDER.indexOf(b.fix.kind));
}

function ipamFindings(input: CheckInput): Finding[] {
  const { etcd, hostname, docker } = input;
  const used = new Set(etcd.endpoints.flatMap((e) => [...e.ipv4Nets, ...e.ipv6Nets].map(hostOf)));
  // The tunnel address is in use by tunl0 (src/agent/ipip/), which no endpoint records.
  if (etcd.tunnelAddress !== undefined) used.add(hostOf(etcd.tunnelAddress));
  // An address a container on a Calico network still has is not free, whatever etcd says.
  const inDocker = new Set(docker?.containers.flatMap((c) => c.networks.filter((n) => docker.calicoNetworks.has(n.networkId)).flatMap((n) => n.addresses.map(hostOf))) ?? []);
  const findings: Finding[] = [];
  for (const block of etcd.blocks) {
    for (const { address, owner } of block.assigned) {
      if (owner !== hostname || used.has(hostOf(address)) || inDocker.has(hostOf(address))) continue;
      findings.push({
        kind: 'orphaned-address',
        message: `orphaned address ${address} in block ${block.cidr} (no endpoint uses it)`,
        // Without Docker's view a container could still hold it: releasing is then not safe.
        ...(docker && { fix: { kind: 'release-address', address, blockKey: block.key, blockRevision: block.modRevision, endpointsRevision: etcd.revision } }),
      });
    }
  }
  const blocks = new Map(etcd.blocks.map((b) => [b.cidr, b]));
  const claimed = new Set(etcd.affinities.map((a) => a.cidr));
  for (const affinity of etcd.affinities) {
    const block = blocks.get(affinity.cidr);
    if (!block) findings.push({ kind: 'affinity-without-block', message: `affinity of host ${hostname} for block ${affinity.cidr} has no block` });
    else if (block.affinity !== hostname) {
      findings.push({ kind: 'affinity-without-block', message: `affinity of host ${hostname} for block ${affinity.cidr}, which host ${block.affinity ?? '(none)'} holds` });
    }
  }
  for (const block of etcd.blocks) {
    if (block.affinity === hostname && !claimed.has(block.cidr)) {
      findings.push({ kind: 'block-without-affinity', message: `block ${block.cidr} is held by host ${hostname}, which has no affinity for it` });
    }
  }
  return findings;
}

function dockerFindings(local: readonly EndpointView[], docker: DockerView): Finding[] {
  const findings: Finding[] = [];
  const joined = new Set(docker.containers.flatMap((c) => c.networks.map((n) => n.endpointId)).filter((id) => id !== ''));
  for (const endpoint of local) {
    // Only the plugin's endpoints are Docker's; another orchestrator's are not for Docker to vouch for.
    if (endpoint.orchestrator !== 'libnetwork' || joined.has(endpoint.endpointId)) continue;
    findings.push({ kind: 'endpoint-without-container', message: `endpoint ${endpoint.endpointId} has no container`, fix: { kind: 'delete-endpoint', key: endpoint.key, modRevision: endpoint.modRevision } });
  }
  const known = new Set(local.map((e) => e.endpointId));
  for (const container of docker.containers) {
    for (const network of container.networks) {
      if (!docker.calicoNetworks.has(network.networkId) || network.endpointId === '' || known.has(network.endpointId)) continue;
      findings.push({ kind: 'container-without-endpoint', message: `container ${container.name} has no endpoint ${network.endpointId} on network ${network.networkId}` });
    }
  }
  return findings;
}

function kernelFindings(input: CheckInput, local: readonly EndpointView[], kernel: KernelView): Finding[] {
  const findings: Finding[] = [];
  const active = local.filter((e) => e.state === 'active' && isValidInterface(e.iface));
  const links = new Set(kernel.links);
  const profiles = new Map(input.etcd.profiles.map((p) => [p.id, p]));

  for (const family of [4, 6] as const) {
    const chains = kernel.chains[family];
    if (!chains) continue;
    const users = active.filter((e) => nets(e, family).length > 0);
    const wanted = new Map<string, string>(); // chain -> what needs it
    const owners = new Map<string, string>(); // profile chain -> its profile, used or not
    for (const profile of input.etcd.profiles) {
      for (const direction of ['inbound', 'outbound'] as const) owners.set(profileChain(profile.id, direction), profile.id);
    }
    for (const endpoint of users) {
      wanted.set(fromEndpointChain(endpoint.iface), `endpoint ${endpoint.endpointId}`);
      wanted.set(toEndpointChain(endpoint.iface), `endpoint ${endpoint.endpointId}`);
      for (const id of endpoint.profileIds) {
        if (!profiles.has(id)) continue;
        for (const direction of ['inbound', 'outbound'] as const) wanted.set(profileChain(id, direction), `profile ${id}`);
      }
    }
    const fixed = new Set<string>([...Object.values(TOP_CHAINS), FROM_ENDPOINT, TO_ENDPOINT]);
    for (const name of [...chains.keys()].filter(isOurChain).sort()) {
      if (fixed.has(name) || wanted.has(name)) continue;
      const fix: Fix = { kind: 'delete-chain', family, name, references: referencesTo(chains, name) };
      const v = family === 6 ? ' (IPv6)' : '';
      const owner = owners.get(name);
      if (owner !== undefined) findings.push({ kind: 'chain-without-owner', message: `chain ${name}${v} is for profile ${owner}, which no endpoint on this host uses`, fix });
      else if (/^cali-p[io]-/.test(name)) findings.push({ kind: 'chain-without-owner', message: `chain ${name}${v} has no profile`, fix });
      else if (/^cali-(from|to)-/.test(name)) findings.push({ kind: 'chain-without-owner', message: `chain ${name}${v} has no endpoint`, fix });
      else findings.push({ kind: 'chain-without-owner', message: `chain ${name}${v} has no owner`, fix });
    }
    for (const [name, needer] of wanted) {
      // An endpoint whose veth is not there yet (or any more) is reported once, below.
      if (chains.has(name) || (needer.startsWith('endpoint ') && !users.some((e) => links.has(e.iface) && `endpoint ${e.endpointId}` === needer))) continue;
      findings.push({ kind: 'missing-chain', message: `missing chain ${name}${family === 6 ? ' (IPv6)' : ''} for ${needer}` });
    }
  }

  // ipsets: a tag's set exists while a rule of a profile in use on this host refers to the tag.
  const allTags = new Map<string, string>();
  const usedTags = new Map<string, string>();
  for (const profile of input.etcd.profiles) {
    for (const tag of [...profile.tags, ...profile.ruleTags]) for (const family of [4, 6] as const) allTags.set(tagSet(family, tag), tag);
  }
  for (const family of [4, 6] as const) {
    for (const endpoint of active.filter((e) => nets(e, family).length > 0)) {
      for (const id of endpoint.profileIds) for (const tag of profiles.get(id)?.ruleTags ?? []) usedTags.set(tagSet(family, tag), tag);
    }
  }
  for (const name of [...kernel.sets].sort()) {
    if (!IPSET_PREFIXES.some((prefix) => name.startsWith(prefix)) || usedTags.has(name)) continue;
    const fix: Fix = { kind: 'destroy-set', name };
    const tag = allTags.get(name);
    if (tag !== undefined) findings.push({ kind: 'ipset-without-owner', message: `ipset ${name} is for tag ${tag}, which no rule on this host uses`, fix });
    else if (/^cali[46]-t-/.test(name)) findings.push({ kind: 'ipset-without-owner', message: `ipset ${name} has no tag`, fix });
    else findings.push({ kind: 'ipset-without-owner', message: `ipset ${name} has no owner`, fix });
  }

  // Routes: one per address of each endpoint through its veth, and a blackhole per pool.
  const routeKey = (r: KernelRoute) => `${r.family} ${normalNet(r.net)} ${r.iface ?? 'blackhole'}`;
  const have = new Set(kernel.routes.map(routeKey));
  const want = new Map<string, KernelRoute>();
  for (const endpoint of active) {
    for (const family of [4, 6] as const) for (const net of nets(endpoint, family)) {
      const route = { family, net: normalNet(net), iface: endpoint.iface };
      want.set(routeKey(route), route);
    }
  }
  for (const pool of input.etcd.poolCidrs) {
    const route = { family: (pool.includes(':') ? 6 : 4) as Family, net: normalNet(pool), iface: undefined };
    want.set(routeKey(route), route);
  }
  for (const route of kernel.routes) {
    if (want.has(routeKey(route))) continue;
    const message = route.iface === undefined ? `blackhole route ${route.net} has no pool` : `route ${route.net} dev ${route.iface} has no endpoint`;
    findings.push({ kind: 'route-without-endpoint', message, fix: { kind: 'delete-route', route } });
  }
  for (const [key, route] of want) {
    if (have.has(key)) continue;
    if (route.iface === undefined) findings.push({ kind: 'missing-blackhole', message: `missing blackhole route ${route.net} for its pool` });
    else if (links.has(route.iface)) findings.push({ kind: 'missing-route', message: `missing route ${route.net} dev ${route.iface}` });
  }

  // Veths: the host end of each endpoint's pair, and no other.
  const ifaces = new Map(local.map((e) => [e.iface, e]));
  const joinedSuffixes = input.docker && new Set(input.docker.containers.flatMap((c) => c.networks.map((n) => `cali${n.endpointId.slice(0, 11)}`)));
  for (const link of [...kernel.links].sort()) {
    if (ifaces.has(link)) continue;
    // A veth Docker still counts as a container's is only deleted once Docker's view was read and disowns it.
    const safe = joinedSuffixes !== undefined && !joinedSuffixes.has(link);
    findings.push({ kind: 'veth-without-endpoint', message: `veth ${link} has no endpoint`, ...(safe && { fix: { kind: 'delete-link', name: link } }) });
  }
  for (const endpoint of active) {
    if (!links.has(endpoint.iface)) findings.push({ kind: 'endpoint-without-veth', message: `endpoint ${endpoint.endpointId} has no veth ${endpoint.iface}` });
  }
  return findings;
}

/**
 * Outgoing NAT (src/agent/dataplane/rules.ts, natOutgoing): cali-POSTROUTING always exists in the
 * nat table; while some pool masquerades it holds the one MASQUERADE rule and both of Felix's sets
 * hold the pools' CIDRs; otherwise neither the rule nor the sets exist.
 */
function natFindings(input: CheckInput, kernel: KernelView): Finding[] {
  const pools = input.etcd.natPools;
  if (!pools || !kernel.nat || !kernel.natSets) return [];
  const findings: Finding[] = [];
  const sorted = (nets: Iterable<string>) => [...new Set([...nets].map(normalNet))].sort();
  const masq = sorted(pools.filter((p) => p.masquerade).map((p) => p.cidr));
  const chainName = NAT_TOP_CHAINS.POSTROUTING;
  const chain = kernel.nat.get(chainName);
  const masquerades = chain?.some((rule) => /(^|\s)-j MASQUERADE(\s|$)/.test(rule)) ?? false;
  if (!chain) findings.push({ kind: 'missing-chain', message: `missing chain ${chainName} (nat) for outgoing NAT` });
  else if (masq.length > 0 && !masquerades) findings.push({ kind: 'missing-nat-rule', message: `chain ${chainName} (nat) does not masquerade, though ${masq.join(', ')} ${masq.length === 1 ? 'has' : 'have'} nat-outgoing` });
  else if (masq.length === 0 && masquerades) findings.push({ kind: 'nat-rule-without-pool', message: `chain ${chainName} (nat) masquerades, though no pool has nat-outgoing` });
  const wanted = new Map([
    [ALL_POOLS_SET, sorted(pools.map((p) => p.cidr))],
    [MASQ_POOLS_SET, masq],
  ]);
  for (const [name, members] of wanted) {
    const have = kernel.natSets.get(name);
    if (masq.length === 0) {
      // Destroying a set a rule still matches would fail: only once the rule is gone.
      if (have) findings.push({ kind: 'ipset-without-owner', message: `ipset ${name} is for outgoing NAT, which no pool has`, ...(!masquerades && { fix: { kind: 'destroy-set', name } }) });
      continue;
    }
    if (!have) findings.push({ kind: 'missing-ipset', message: `missing ipset ${name} for outgoing NAT` });
    else if (sorted(have).join(' ') !== members.join(' ')) {
      findings.push({ kind: 'ipset-members-differ', message: `ipset ${name} holds ${sorted(have).join(', ') || 'nothing'}; the pools say ${members.join(', ')}` });
    }
  }
  return findings;
}

function birdFindings(input: CheckInput, bird: BirdView): Finding[] {
  const findings: Finding[] = [];
  for (const block of input.etcd.blocks) {
    const routes = bird.routes[block.version];
    if (block.affinity !== input.hostname || !routes || routes.has(normalNet(block.cidr))) continue;
    findings.push({ kind: 'missing-bird-route', message: `missing BIRD route ${block.cidr} for a block this host holds` });
  }
  return findings;
}

/** Every rule (as `-A chain …` without the `-A`) that jumps or goes to `name`: they go with it. */
function referencesTo(chains: ReadonlyMap<string, readonly string[]>, name: string): string[] {
  const target = new RegExp(`\\s-[jg] ${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(\\s|$)`);
  return [...chains].flatMap(([chain, rules]) => rules.filter((rule) => target.test(` ${rule}`)).map((rule) => `${chain} ${rule}`));
}

function nets(endpoint: EndpointView, family: Family): readonly string[] {
  return family === 4 ? endpoint.ipv4Nets : endpoint.ipv6Nets;
}

const hostOf = (net: string): string => normalNet(net).split('/')[0] as string;

/** One spelling per network (`10.65.0.3` and `10.65.0.3/32`, and IPv6's many forms, compare equal). */
export function normalNet(net: string): string {
  const text = net.includes('/') ? net : `${net}/${net.includes(':') ? 128 : 32}`;
  const cidr = parseCidr(text);
  return cidr ? cidrNetworkText(cidr) : text;
}

/** Chains, as the readers keep only ours: those starting with the prefix. */
export const isOurChain = (name: string): boolean => name.startsWith(CHAIN_PREFIX);
