import type { Direction, IpVersion, PortMatch, PortSpec, Rule } from './ast';
import { cidrContains, hostNetAddress, parseIp } from './cidr';
import { printRule } from './printer';

/**
 * The verdict calico-node's chains give a packet, computed from the policy model alone, with the
 * path that produced it. It follows src/agent/dataplane/rules.ts and state.ts (the chain layout in
 * ARCHITECTURE.md) rule for rule:
 *
 * - the source endpoint's outbound profiles, in order, then the destination endpoint's inbound
 *   profiles, in order; within a profile the first matching rule decides: allow ends that
 *   profile's say and the side passes, deny drops; a profile where nothing matched hands on to the
 *   next one, and a side where no profile allowed drops ("Packet did not match any profile");
 * - a profile an endpoint names that does not exist drops at once ("Profile is missing");
 * - an address that belongs to no endpoint is the outside world: its side has no step;
 * - an endpoint that is not active has no chains and no route: its side drops;
 * - with the hosts' addresses: a host's packets to its own workloads are not policed (OUTPUT), and
 *   a workload's to its own host pass its outbound policy only (INPUT), except DHCP, DNS and IPv6
 *   neighbour discovery, which pass before it; to any other host, a host address is outside;
 * - `tag T` matches the addresses of every endpoint (any host) one of whose existing profiles
 *   carries T, of the packet's IP family (the ipsets cali4-t-T / cali6-t-T);
 * - rules for the other IP family (icmp on IPv6, icmpv6 on IPv4, a CIDR of the other family) are
 *   never rendered, so never match;
 * - endpoint nets wider than one host are skipped, as the agent's model skips them;
 * - ICMP type 255 matches every IPv4 ICMP packet (the kernel's ip_tables icmp match), not ICMPv6.
 *
 * Whether both endpoints are on one host or two makes no difference: on one host the packet
 * crosses both endpoint chains in one FORWARD pass; across hosts the sender's host applies the
 * outbound side (the packet leaves by the host's own interface, which the chains accept) and the
 * receiver's host the inbound side. Conntrack is aside: this is the first packet of a flow.
 * Traffic from an endpoint to its own address stays inside the container and is not policed.
 *
 * Pure: the index of endpoints by address is built once per endpoint list and cached, so a matrix
 * of many packets over one model pays for it once.
 */

export interface ModelProfile {
  readonly id: string;
  readonly tags: readonly string[];
  readonly inbound: readonly Rule[];
  readonly outbound: readonly Rule[];
}

export interface ModelEndpoint {
  readonly id: string;
  readonly host: string;
  readonly name?: string;
  readonly profileIds: readonly string[];
  /** Host networks, e.g. 10.65.0.3/32 and fd80::3/128. */
  readonly ipv4Nets: readonly string[];
  readonly ipv6Nets: readonly string[];
  /**
   * False when the stored state is not "active": calico-node then programs neither chains nor
   * routes for it (src/agent/dataplane/state.ts, isLocal), so whatever it sends meets the dispatch
   * chain's "From unknown endpoint" drop and nothing is routed to it. Its addresses still count in
   * its profiles' tags, as they do in the agent's sets. Undefined is active.
   */
  readonly active?: boolean;
}

export interface PolicyModel {
  readonly profiles: ReadonlyMap<string, ModelProfile>;
  readonly endpoints: readonly ModelEndpoint[];
  /**
   * Each host's own addresses, by host name. Between a host and its own workloads packets take the
   * INPUT and OUTPUT chains, not FORWARD (src/agent/dataplane/rules.ts, staticChains); without this,
   * every address that is no endpoint's is the outside world.
   */
  readonly hostAddresses?: ReadonlyMap<string, readonly string[]>;
}

export interface Packet {
  /** Plain IP addresses, both of one family. */
  readonly src: string;
  readonly dst: string;
  /** Undefined: a protocol no rule names (only protocol-less rules match it). */
  readonly protocol?: 'tcp' | 'udp' | 'icmp' | 'icmpv6';
  readonly srcPort?: number;
  readonly dstPort?: number;
  readonly icmpType?: number;
  readonly icmpCode?: number;
}

export interface TraceStep {
  readonly endpoint: string | null;
  readonly direction: 'outbound' | 'inbound';
  readonly profile: string | null;
  /** 1-based index into the profile's rules of that direction; null when no rule matched. */
  readonly rule: number | null;
  /** The matched rule in `rule show` words (printRule). */
  readonly ruleText: string | null;
  /**
   * allow: a rule allowed, this side passes. deny: a rule denied. next: nothing in this profile
   * matched. drop: the side's end (no profile allowed, or a profile is missing). skip: not policed.
   * inactive: the endpoint is not active, so the agent has programmed nothing for it: dropped.
   * host: from the endpoint's own host, which is not policed. service: to its own host's DHCP,
   * DNS or IPv6 neighbour discovery, accepted before any policy.
   */
  readonly verdict: 'allow' | 'deny' | 'next' | 'drop' | 'skip' | 'inactive' | 'host' | 'service';
}

export interface Trace {
  readonly verdict: 'allow' | 'deny';
  readonly steps: readonly TraceStep[];
}

/**
 * Address (canonical text) → the endpoints that hold it, in model order. Built once per endpoint
 * list, not per model, so models that share their endpoints and differ in profiles (a trace reads
 * only the profiles it needs, src/cli/commands/policy/model.ts) share it too. Tag membership is
 * asked of an address's holders when a rule names a tag, rather than indexed for every tag and
 * endpoint up front, because a trace asks it of two addresses out of thousands.
 */
const indexes = new WeakMap<readonly ModelEndpoint[], Map<string, ModelEndpoint[]>>();
/** A host's own address (canonical text) → the host, per host-address map. */
const hostIndexes = new WeakMap<ReadonlyMap<string, readonly string[]>, Map<string, string>>();

function hostAt(model: PolicyModel, address: string): string | undefined {
  const hosts = model.hostAddresses;
  if (!hosts) return undefined;
  let index = hostIndexes.get(hosts);
  if (!index) {
    index = new Map();
    for (const [host, addresses] of hosts) {
      for (const text of addresses) {
        const ip = parseIp(text);
        if (ip && !index.has(ip.text)) index.set(ip.text, host);
      }
    }
    hostIndexes.set(hosts, index);
  }
  return index.get(address);
}

/** The endpoint that holds an address, or undefined for the outside world. */
export function endpointAt(model: PolicyModel, address: string): ModelEndpoint | undefined {
  const ip = parseIp(address);
  return ip ? holdersOf(model, ip.text)[0] : undefined;
}

/** The endpoints holding an address (canonical text), first holder first. */
export function holdersOf(model: PolicyModel, address: string): readonly ModelEndpoint[] {
  return indexOf(model.endpoints).get(address) ?? [];
}

/** An endpoint's host addresses of one family, as the agent programs them (wider nets skipped). */
export function endpointAddresses(endpoint: ModelEndpoint, version: IpVersion): string[] {
  const nets = version === 4 ? endpoint.ipv4Nets : endpoint.ipv6Nets;
  const addresses: string[] = [];
  for (const net of nets) {
    const address = hostNetAddress(net, version);
    if (address !== undefined) addresses.push(address);
  }
  return addresses;
}

export function evaluate(model: PolicyModel, packet: Packet): Trace {
  const src = parseIp(packet.src);
  const dst = parseIp(packet.dst);
  if (!src || !dst) throw new TypeError(`not an IP address: ${!src ? packet.src : packet.dst}`);
  if (src.version !== dst.version) throw new TypeError(`${packet.src} and ${packet.dst} are of different IP families`);
  const from = holdersOf(model, src.text)[0];
  const to = holdersOf(model, dst.text)[0];
  const flow: Flow = { ...packet, src: src.text, dst: dst.text, version: src.version };

  if (from && from === to) {
    return { verdict: 'allow', steps: [{ endpoint: from.id, direction: 'outbound', profile: null, rule: null, ruleText: null, verdict: 'skip' }] };
  }
  const step = (endpoint: ModelEndpoint, direction: Direction, verdict: TraceStep['verdict']): TraceStep => ({ endpoint: endpoint.id, direction, profile: null, rule: null, ruleText: null, verdict });
  const srcHost = hostAt(model, src.text);
  const dstHost = hostAt(model, dst.text);
  if (!from && to && srcHost !== undefined && srcHost === to.host && to.active !== false) {
    return { verdict: 'allow', steps: [step(to, 'inbound', 'host')] };
  }
  // An inactive endpoint's DHCP or DNS request passes the INPUT chain too, but without a route to it
  // no answer comes back: it drops below like everything else of it.
  if (from && !to && dstHost !== undefined && dstHost === from.host && from.active !== false && isHostService(flow)) {
    return { verdict: 'allow', steps: [step(from, 'outbound', 'service')] };
  }
  const steps: TraceStep[] = [];
  for (const [endpoint, direction] of [[from, 'outbound'], [to, 'inbound']] as const) {
    if (!endpoint) continue;
    if (endpoint.active === false) {
      steps.push(step(endpoint, direction, 'inactive'));
      return { verdict: 'deny', steps };
    }
    if (!passes(model, endpoint, direction, flow, steps)) return { verdict: 'deny', steps };
  }
  return { verdict: 'allow', steps };
}

interface Flow extends Packet {
  readonly version: IpVersion;
}

/** IPv6 neighbour discovery (router and neighbour solicitations and adverts, redirects, MLD): ICMPv6 types. */
const NEIGHBOUR_DISCOVERY = [130, 131, 132, 133, 135, 136];

/**
 * What a workload's own host accepts from it before its outbound policy (the cali-INPUT chain of
 * src/agent/dataplane/rules.ts, staticChains): DHCP or DHCPv6 from the client port to the server
 * port, DNS on udp 53, and IPv6 neighbour discovery.
 */
function isHostService(flow: Flow): boolean {
  if (flow.protocol === 'icmpv6') return flow.version === 6 && flow.icmpType !== undefined && NEIGHBOUR_DISCOVERY.includes(flow.icmpType);
  if (flow.protocol !== 'udp') return false;
  const [client, server] = flow.version === 4 ? [68, 67] : [546, 547];
  return flow.dstPort === 53 || (flow.srcPort === client && flow.dstPort === server);
}

/** One endpoint's chain (cali-from-X or cali-to-X): true when a profile allowed the packet. */
function passes(model: PolicyModel, endpoint: ModelEndpoint, direction: Direction, flow: Flow, steps: TraceStep[]): boolean {
  const step = (profile: string | null, rule: Rule | undefined, position: number | null, verdict: TraceStep['verdict']) =>
    steps.push({ endpoint: endpoint.id, direction, profile, rule: position, ruleText: rule ? printRule(rule) : null, verdict });
  for (const id of endpoint.profileIds) {
    const profile = model.profiles.get(id);
    if (!profile) {
      step(id, undefined, null, 'drop');
      return false;
    }
    const rules = direction === 'inbound' ? profile.inbound : profile.outbound;
    const position = rules.findIndex((rule) => ruleMatches(rule, flow, model));
    if (position < 0) {
      step(id, undefined, null, 'next');
      continue;
    }
    const rule = rules[position]!;
    step(id, rule, position + 1, rule.action);
    if (rule.action === 'deny') return false;
    return true;
  }
  step(null, undefined, null, 'drop');
  return false;
}

/** Whether one rule's iptables rules (src/agent/dataplane/rules.ts, ruleMatches) match the packet. */
function ruleMatches(rule: Rule, flow: Flow, model: PolicyModel): boolean {
  if ((rule.protocol === 'icmp' && flow.version === 6) || (rule.protocol === 'icmpv6' && flow.version === 4)) return false;
  if (rule.protocol !== 'any' && rule.protocol !== flow.protocol) return false;
  for (const [side, address] of [[rule.from, flow.src], [rule.to, flow.dst]] as const) {
    if (side.cidr && (side.cidr.version !== flow.version || !cidrContains(side.cidr, address))) return false;
    if (side.tag !== undefined && !tagged(model, address, side.tag)) return false;
  }
  if (rule.protocol === 'tcp' || rule.protocol === 'udp') {
    return portsMatch(rule.from, flow.srcPort) && portsMatch(rule.to, flow.dstPort);
  }
  if ((rule.protocol === 'icmp' || rule.protocol === 'icmpv6') && rule.icmp) {
    if (rule.protocol === 'icmp' && rule.icmp.type === 255) return true;
    if (flow.icmpType !== rule.icmp.type) return false;
    if (rule.icmp.code !== undefined && flow.icmpCode !== rule.icmp.code) return false;
  }
  return true;
}

function portsMatch(side: PortMatch, port: number | undefined): boolean {
  if (!side.ports) return true;
  if (port === undefined) return false;
  return side.ports.some((spec: PortSpec) => (spec.kind === 'port' ? spec.port === port : spec.low <= port && port <= spec.high));
}

/** Whether an address is in a tag's set: one of its endpoints has an existing profile carrying the tag. */
function tagged(model: PolicyModel, address: string, tag: string): boolean {
  for (const endpoint of holdersOf(model, address)) {
    for (const id of endpoint.profileIds) if (model.profiles.get(id)?.tags.includes(tag)) return true;
  }
  return false;
}

function indexOf(endpoints: readonly ModelEndpoint[]): Map<string, ModelEndpoint[]> {
  const cached = indexes.get(endpoints);
  if (cached) return cached;
  const index = new Map<string, ModelEndpoint[]>();
  for (const endpoint of endpoints) {
    for (const version of [4, 6] as const) {
      for (const address of endpointAddresses(endpoint, version)) {
        const holders = index.get(address);
        // An endpoint listing one address twice holds it once.
        if (!holders) index.set(address, [endpoint]);
        else if (holders.at(-1) !== endpoint) holders.push(endpoint);
      }
    }
  }
  indexes.set(endpoints, index);
  return index;
}
