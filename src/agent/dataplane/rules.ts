import type { Direction, PortSpec, Rule, RuleSet } from '../../policy/ast';
import { cidrNetworkText } from '../../policy/cidr';
import {
  ALL_POOLS_SET,
  type Family,
  FROM_ENDPOINT,
  fromEndpointChain,
  MARK_ACCEPT,
  MARK_SOURCE_OK,
  MASQ_POOLS_SET,
  MASQUERADE_RULE,
  NAT_TOP_CHAINS,
  profileChain,
  ruleComment,
  tagSet,
  TO_ENDPOINT,
  toEndpointChain,
  TOP_CHAINS,
} from './contract';

/**
 * Pure rendering of Calico's filter chains (Felix 1.4's layout; ARCHITECTURE.md, "The chain layout") as iptables-restore rule
 * specifications: each string is what follows `-A <chain> `. No I/O, no kernel: the applier writes
 * them, and tests compare them with golden files.
 */
export type Chains = Map<string, readonly string[]>;

/** A workload endpoint on this host, as the dataplane needs it. */
export interface LocalEndpoint {
  readonly endpointId: string;
  readonly iface: string;
  readonly mac: string;
  readonly profileIds: readonly string[];
  /** Networks from the endpoint's ipv4_nets / ipv6_nets, e.g. 10.65.0.3/32. */
  readonly ipv4Nets: readonly string[];
  readonly ipv6Nets: readonly string[];
}

const ACCEPTED = `-m mark --mark ${MARK_ACCEPT}/${MARK_ACCEPT}`;
const SET_ACCEPT = `-j MARK --set-xmark ${MARK_ACCEPT}/${MARK_ACCEPT}`;

/** The chains jumped to from the kernel's INPUT, FORWARD and OUTPUT chains. */
export function staticChains(family: Family): Chains {
  const ndp = family === 6 ? [130, 131, 132, 133, 135, 136].map((type) => `-i cali+ -p ipv6-icmp -m icmp6 --icmpv6-type ${type} -j ACCEPT`) : [];
  const dhcp = family === 4 ? ['-i cali+ -p udp -m udp --sport 68 --dport 67 -j ACCEPT'] : ['-i cali+ -p udp -m udp --sport 546 --dport 547 -j ACCEPT'];
  return new Map<string, readonly string[]>([
    [
      TOP_CHAINS.FORWARD,
      [
        '-i cali+ -m conntrack --ctstate INVALID -j DROP',
        '-o cali+ -m conntrack --ctstate INVALID -j DROP',
        '-i cali+ -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
        '-o cali+ -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
        // The sender's outbound policy, then the receiver's inbound policy; each drops or returns.
        `-i cali+ -j ${FROM_ENDPOINT}`,
        `-o cali+ -j ${TO_ENDPOINT}`,
        '-i cali+ -j ACCEPT',
        '-o cali+ -j ACCEPT',
      ],
    ],
    [
      TOP_CHAINS.INPUT,
      [
        '-i cali+ -m conntrack --ctstate INVALID -j DROP',
        '-i cali+ -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
        ...ndp,
        ...dhcp,
        '-i cali+ -p udp -m udp --dport 53 -j ACCEPT',
        // Workload to host: the workload's outbound policy, then the host's own INPUT rules
        // (DefaultEndpointToHostAction RETURN, as the Docker integration configured it).
        `-i cali+ -j ${FROM_ENDPOINT}`,
      ],
    ],
    // Host to workload is not policed (Felix 1.x); only broken connections are dropped.
    [TOP_CHAINS.OUTPUT, ['-o cali+ -m conntrack --ctstate INVALID -j DROP']],
  ]);
}

/** Dispatch by interface to each endpoint's chains; an unknown cali interface is dropped. */
export function dispatchChains(ifaces: readonly string[]): Chains {
  const sorted = [...ifaces].sort();
  return new Map<string, readonly string[]>([
    [FROM_ENDPOINT, [...sorted.map((i) => `-i ${i} -g ${fromEndpointChain(i)}`), '-m comment --comment "From unknown endpoint" -j DROP']],
    [TO_ENDPOINT, [...sorted.map((i) => `-o ${i} -g ${toEndpointChain(i)}`), '-m comment --comment "To unknown endpoint" -j DROP']],
  ]);
}

/**
 * An endpoint's two chains. Each profile either accepts (sets the accept mark, and the endpoint
 * chain returns) or has no opinion; a packet no profile accepted is dropped. The from-chain first
 * checks the source MAC and source address, so a container cannot spoof another's traffic.
 */
export function endpointChains(endpoint: LocalEndpoint, family: Family, profileExists: (id: string) => boolean): Chains {
  const nets = family === 4 ? endpoint.ipv4Nets : endpoint.ipv6Nets;
  const profiles = (direction: Direction) =>
    endpoint.profileIds.flatMap((id) =>
      profileExists(id)
        ? [`-j ${profileChain(id, direction)}`, `${ACCEPTED} -m comment --comment "Profile accepted packet" -j RETURN`]
        : ['-m comment --comment "Profile is missing" -j DROP'],
    );
  const unmatched = '-m comment --comment "Packet did not match any profile" -j DROP';
  return new Map<string, readonly string[]>([
    [
      fromEndpointChain(endpoint.iface),
      [
        `-j MARK --set-xmark 0x0/${markBits(MARK_ACCEPT, MARK_SOURCE_OK)}`,
        `-m mac ! --mac-source ${endpoint.mac.toUpperCase()} -m comment --comment "Incorrect source MAC" -j DROP`,
        ...nets.map((net) => `-s ${net} -j MARK --set-xmark ${MARK_SOURCE_OK}/${MARK_SOURCE_OK}`),
        `-m mark ! --mark ${MARK_SOURCE_OK}/${MARK_SOURCE_OK} -m comment --comment "Incorrect source IP" -j DROP`,
        ...profiles('outbound'),
        unmatched,
      ],
    ],
    [toEndpointChain(endpoint.iface), [`-j MARK --set-xmark 0x0/${MARK_ACCEPT}`, ...profiles('inbound'), unmatched]],
  ]);
}

/** An IPv4 pool as outgoing NAT needs it: every pool counts as "inside", whether Calico assigns from it or not. */
export interface NatPool {
  /** The pool's network, e.g. 10.65.0.0/16. */
  readonly cidr: string;
  readonly masquerade: boolean;
}

/**
 * Outgoing NAT as Felix 1.4 did it: traffic from a `--nat-outgoing` pool to anywhere outside every
 * pool leaves with the host's address; traffic between pools (whatever their flags) keeps its
 * source. The sets and the rule exist only while some pool masquerades; the chain (nat table)
 * always exists, so its jump from POSTROUTING never has to come and go.
 */
export function natOutgoing(pools: readonly NatPool[]): { chains: Chains; sets: Map<string, Set<string>> } {
  const masq = new Set(pools.filter((pool) => pool.masquerade).map((pool) => pool.cidr));
  if (masq.size === 0) return { chains: new Map([[NAT_TOP_CHAINS.POSTROUTING, []]]), sets: new Map() };
  return {
    chains: new Map([[NAT_TOP_CHAINS.POSTROUTING, [MASQUERADE_RULE]]]),
    sets: new Map([
      [ALL_POOLS_SET, new Set(pools.map((pool) => pool.cidr))],
      [MASQ_POOLS_SET, masq],
    ]),
  };
}

/** A profile's inbound and outbound chains, and the tags its rules refer to (their ipsets must exist). */
export function profileChains(profileId: string, rules: RuleSet, family: Family): { chains: Chains; tags: Set<string> } {
  const tags = new Set<string>();
  const render = (list: readonly Rule[]) => list.flatMap((rule, index) => renderRule(rule, family, tags, index + 1));
  return {
    chains: new Map([
      [profileChain(profileId, 'inbound'), render(rules.inbound)],
      [profileChain(profileId, 'outbound'), render(rules.outbound)],
    ]),
    tags,
  };
}

/**
 * One rule as iptables rules: allow sets the accept mark and returns, deny drops. With `number`,
 * each rule that matches carries the comment naming it (names.ts, ruleComment), so its counters
 * can be read back; the RETURN after an allow is not counted, as it sees the same packets.
 */
export function renderRule(rule: Rule, family: Family, tags: Set<string>, number?: number): string[] {
  const matches = ruleMatches(rule, family);
  if (!matches) return [];
  if (rule.from.tag !== undefined) tags.add(rule.from.tag);
  if (rule.to.tag !== undefined) tags.add(rule.to.tag);
  const comment = number === undefined ? '' : `-m comment --comment ${ruleComment(number)}`;
  if (rule.action === 'deny') return matches.map((m) => join(m, comment, '-j DROP'));
  return [...matches.map((m) => join(m, comment, SET_ACCEPT)), `${ACCEPTED} -j RETURN`];
}

/** The match part of each iptables rule a Calico rule becomes, or undefined when it is for the other IP family. */
export function ruleMatches(rule: Rule, family: Family): string[] | undefined {
  if ((rule.protocol === 'icmp' && family === 6) || (rule.protocol === 'icmpv6' && family === 4)) return undefined;
  for (const cidr of [rule.from.cidr, rule.to.cidr]) if (cidr && cidr.version !== family) return undefined;

  const base: string[] = [];
  if (rule.protocol !== 'any') base.push(`-p ${rule.protocol === 'icmpv6' ? 'ipv6-icmp' : rule.protocol}`);
  if (rule.from.cidr) base.push(`-s ${cidrNetworkText(rule.from.cidr)}`);
  if (rule.to.cidr) base.push(`-d ${cidrNetworkText(rule.to.cidr)}`);
  if (rule.from.tag !== undefined) base.push(`-m set --match-set ${tagSet(family, rule.from.tag)} src`);
  if (rule.to.tag !== undefined) base.push(`-m set --match-set ${tagSet(family, rule.to.tag)} dst`);
  if ((rule.protocol === 'icmp' || rule.protocol === 'icmpv6') && rule.icmp) {
    const value = rule.icmp.code === undefined ? `${rule.icmp.type}` : `${rule.icmp.type}/${rule.icmp.code}`;
    base.push(rule.protocol === 'icmp' ? `-m icmp --icmp-type ${value}` : `-m icmp6 --icmpv6-type ${value}`);
  }
  if (rule.protocol !== 'tcp' && rule.protocol !== 'udp') return [base.join(' ')];

  // multiport takes 15 ports per match, a range counting as two: longer lists become several rules.
  const sources = rule.from.ports ? chunkPorts(rule.from.ports).map((c) => `-m multiport --source-ports ${c}`) : [''];
  const destinations = rule.to.ports ? chunkPorts(rule.to.ports).map((c) => `-m multiport --destination-ports ${c}`) : [''];
  return sources.flatMap((s) => destinations.map((d) => join(base.join(' '), s, d)));
}

export function chunkPorts(ports: readonly PortSpec[]): string[] {
  const chunks: string[][] = [];
  let current: string[] = [];
  let weight = 0;
  for (const port of ports) {
    const cost = port.kind === 'range' ? 2 : 1;
    if (weight + cost > 15) {
      chunks.push(current);
      current = [];
      weight = 0;
    }
    current.push(port.kind === 'port' ? String(port.port) : `${port.low}:${port.high}`);
    weight += cost;
  }
  if (current.length > 0) chunks.push(current);
  return chunks.map((chunk) => chunk.join(','));
}

function join(...parts: string[]): string {
  return parts.filter((part) => part !== '').join(' ');
}

function markBits(...marks: string[]): string {
  return `0x${marks.reduce((bits, mark) => bits | Number(mark), 0).toString(16)}`;
}
