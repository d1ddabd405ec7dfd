import { isCalicoInterface } from '../contract';

/**
 * Names of everything the agent creates in the kernel. All start with `cali`, so that ownership
 * is a prefix test: the agent never touches a chain, set or route that is not its own. Names that
 * come from etcd (profile IDs, tags) are used verbatim only when short and plain; otherwise they are
 * hashed, so no stored name can exceed iptables' limits or smuggle anything into a rule.
 *
 * A contract: `calicoctl diags --check` imports these names to tell the agent's objects from
 * orphans, so this module imports only Node's own modules and `../contract` (ARCHITECTURE.md,
 * "Layers").
 */
export const CHAIN_PREFIX = 'cali-';
export const IPSET_PREFIXES = ['cali4-', 'cali6-'] as const;
export const INTERFACE_PREFIX = 'cali';
/** Marks routes the agent owns (`ip route ... proto 157`), so it can find and remove exactly those. */
export const ROUTE_PROTOCOL = '157';
/**
 * The IPIP device and the protocol of the routes to other hosts' blocks through it. Those routes
 * have a protocol of their own so that BIRD can be told to leave them alone (its kernel protocol
 * skips routes of this protocol, src/agent/bgp/bird-config.ts) and `diags --check` does not take
 * them for endpoint routes; the names are not `cali…`, because `tunl0` is the kernel's own
 * fallback device for IPIP and every IPIP tool expects that name.
 */
export const TUNNEL_DEVICE = 'tunl0';
export const TUNNEL_ROUTE_PROTOCOL = '158';

export type Family = 4 | 6;

export const TOP_CHAINS = { INPUT: 'cali-INPUT', FORWARD: 'cali-FORWARD', OUTPUT: 'cali-OUTPUT' } as const;
export const FROM_ENDPOINT = 'cali-FROM-ENDPOINT';
export const TO_ENDPOINT = 'cali-TO-ENDPOINT';

/** Accept bit set by profile rules; the endpoint chain returns when a profile set it. */
export const MARK_ACCEPT = '0x1000000';
/** Set while a packet's source address is one of its endpoint's addresses. */
export const MARK_SOURCE_OK = '0x2000000';

/** `s` when it is short and plain, else `_` + 15 hex characters of its SHA-256. */
export function shorten(s: string, limit = 16): string {
  if (s.length <= limit && /^[A-Za-z0-9.-][A-Za-z0-9_.-]*$/.test(s)) return s;
  // Required here: calicoctl also reads these names (diags), and loading crypto slows every command's start.
  const { createHash } = require('node:crypto') as typeof import('node:crypto');
  return `_${createHash('sha256').update(s).digest('hex').slice(0, limit - 1)}`;
}

export const profileChain = (profileId: string, direction: 'inbound' | 'outbound'): string =>
  `cali-p${direction === 'inbound' ? 'i' : 'o'}-${shorten(profileId)}`;

/** The part of `caliXXXXXXXXXXX` after the prefix (at most 11 characters by construction). */
export const endpointSuffix = (iface: string): string => iface.slice(INTERFACE_PREFIX.length);
export const fromEndpointChain = (iface: string): string => `cali-from-${endpointSuffix(iface)}`;
export const toEndpointChain = (iface: string): string => `cali-to-${endpointSuffix(iface)}`;

/**
 * The comment on each iptables rule a profile rule renders to: its 1-based number in its list, as
 * `rule show` numbers it. The chain already names the profile and direction, so the number is all
 * `rule show --counts` needs to find the rule's kernel counters again; it is short because every
 * byte is in each iptables-restore the agent writes, and it is only letters and digits, so
 * iptables-save prints it unquoted, exactly as written.
 */
export const ruleComment = (n: number): string => `r${n}`;
/** The rule number in a comment written by ruleComment, or undefined for any other comment. */
export function ruleNumberOfComment(comment: string): number | undefined {
  const match = /^r([1-9][0-9]*)$/.exec(comment);
  return match ? Number(match[1]) : undefined;
}

export const tagSet = (family: Family, tag: string): string => `cali${family}-t-${shorten(tag)}`;
/** The name a set is rebuilt under before it is swapped in. */
export const tempTagSet = (name: string): string => (name.startsWith(FELIX_SET_PREFIX) ? name.replace(/^felix-/, 'felix-tmp-') : name.replace(/^(cali[46])-t-/, '$1-x-'));

/**
 * Outgoing NAT (`pool add --nat-outgoing`), IPv4 only as in Felix 1.4: the chain hangs from the nat
 * table's POSTROUTING, and its one rule matches two sets that keep Felix's own names, so that a
 * script or an admin who looked for them under v0.23 finds them. These two names (and their
 * temporary twins) are the only objects outside the `cali` prefix that the agent owns.
 */
export const NAT_TOP_CHAINS = { POSTROUTING: 'cali-POSTROUTING' } as const;
export const ALL_POOLS_SET = 'felix-all-ipam-pools';
export const MASQ_POOLS_SET = 'felix-masq-ipam-pools';
/** The one rule of cali-POSTROUTING while some pool masquerades: from a masquerading pool to outside every pool. */
export const MASQUERADE_RULE = `-m set --match-set ${MASQ_POOLS_SET} src -m set ! --match-set ${ALL_POOLS_SET} dst -j MASQUERADE`;
const FELIX_SET_PREFIX = 'felix-';
const FELIX_SETS: ReadonlySet<string> = new Set([ALL_POOLS_SET, MASQ_POOLS_SET].flatMap((name) => [name, tempTagSet(name)]));

/** Whether the agent owns an ipset of that name (of that family, when given). */
export function isOurSet(name: string, family?: Family): boolean {
  if (FELIX_SETS.has(name)) return family === undefined || family === 4;
  return family === undefined ? IPSET_PREFIXES.some((prefix) => name.startsWith(prefix)) : name.startsWith(IPSET_PREFIXES[family === 4 ? 0 : 1]);
}

/** Interface names the agent programs: the prefix, then 1-11 plain characters (Linux allows 15). */
export function isValidInterface(name: string): boolean {
  return isCalicoInterface(name);
}
