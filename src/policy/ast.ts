/**
 * The typed model of a Calico v1 profile rule, as the `rule add` grammar can express it.
 *
 * The shape follows the grammar rather than the stored JSON: ports only exist on tcp/udp rules and
 * ICMP type/code only on icmp/icmpv6 rules, so a rule the CLI could not print cannot be built.
 */

export type Direction = 'inbound' | 'outbound';
export type Action = 'allow' | 'deny';
export type IpVersion = 4 | 6;

export type PortSpec =
  | { readonly kind: 'port'; readonly port: number }
  | { readonly kind: 'range'; readonly low: number; readonly high: number };

/**
 * A CIDR as netaddr printed it: host bits are kept in `text` (what is stored and shown), while
 * `network` is the masked address, which is what two CIDRs are compared by.
 */
export interface Cidr {
  readonly version: IpVersion;
  readonly text: string;
  readonly network: string;
  readonly prefixLength: number;
}

/** One side (`from` or `to`) of a rule without ports. */
export interface AddressMatch {
  readonly tag?: string;
  readonly cidr?: Cidr;
}

/** One side of a tcp/udp rule. */
export interface PortMatch extends AddressMatch {
  readonly ports?: readonly PortSpec[];
}

export interface IcmpMatch {
  readonly type: number;
  readonly code?: number;
}

export interface TransportRule {
  readonly protocol: 'tcp' | 'udp';
  readonly action: Action;
  readonly from: PortMatch;
  readonly to: PortMatch;
}

export interface IcmpRule {
  readonly protocol: 'icmp' | 'icmpv6';
  readonly action: Action;
  readonly icmp?: IcmpMatch;
  readonly from: AddressMatch;
  readonly to: AddressMatch;
}

export interface AnyProtocolRule {
  readonly protocol: 'any';
  readonly action: Action;
  readonly from: AddressMatch;
  readonly to: AddressMatch;
}

export type Rule = TransportRule | IcmpRule | AnyProtocolRule;
export type Protocol = Rule['protocol'];

export interface RuleSet {
  readonly inbound: readonly Rule[];
  readonly outbound: readonly Rule[];
}

export const DIRECTIONS: readonly Direction[] = ['inbound', 'outbound'];
export const ACTIONS: readonly Action[] = ['allow', 'deny'];
export const PROTOCOLS: readonly Exclude<Protocol, 'any'>[] = ['tcp', 'udp', 'icmp', 'icmpv6'];

/** Profile names and tags: no length limit, since Docker network IDs are 64 hex characters. */
export const NAME_PATTERN = /^[a-zA-Z0-9_.-]+$/;

export function isValidName(name: string): boolean {
  return NAME_PATTERN.test(name);
}
