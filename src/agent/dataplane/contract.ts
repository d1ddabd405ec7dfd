import { createHash } from 'node:crypto';
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
  return `_${createHash('sha256').update(s).digest('hex').slice(0, limit - 1)}`;
}

export const profileChain = (profileId: string, direction: 'inbound' | 'outbound'): string =>
  `cali-p${direction === 'inbound' ? 'i' : 'o'}-${shorten(profileId)}`;

/** The part of `caliXXXXXXXXXXX` after the prefix (at most 11 characters by construction). */
export const endpointSuffix = (iface: string): string => iface.slice(INTERFACE_PREFIX.length);
export const fromEndpointChain = (iface: string): string => `cali-from-${endpointSuffix(iface)}`;
export const toEndpointChain = (iface: string): string => `cali-to-${endpointSuffix(iface)}`;

export const tagSet = (family: Family, tag: string): string => `cali${family}-t-${shorten(tag)}`;
export const tempTagSet = (name: string): string => name.replace(/^(cali[46])-t-/, '$1-x-');

/** Interface names the agent programs: the prefix, then 1-11 plain characters (Linux allows 15). */
export function isValidInterface(name: string): boolean {
  return isCalicoInterface(name);
}
