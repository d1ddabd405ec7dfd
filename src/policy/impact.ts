import type { PortSpec, Rule } from './ast';
import { endpointAddresses, evaluate, type ModelEndpoint, type ModelProfile, type Packet, type PolicyModel } from './evaluate';
import { ruleIdentity } from './printer';

/**
 * What a change to the policy does to connections between endpoints: the pairs it would newly
 * allow and newly drop, for packets made from the rules the change touches (their protocols,
 * ports and ICMP types). Only endpoints the change can affect are paired with the others: those
 * whose profile list changed, those using a changed profile, and those using a profile whose rules
 * name a tag whose members changed. Pure.
 */

/** A packet's shape, without addresses: what one rule names. */
export interface Probe {
  readonly label: string;
  readonly protocol?: 'tcp' | 'udp' | 'icmp' | 'icmpv6';
  readonly srcPort?: number;
  readonly dstPort?: number;
  readonly icmpType?: number;
  readonly icmpCode?: number;
}

export interface ImpactChange {
  readonly from: ModelEndpoint;
  readonly to: ModelEndpoint;
  readonly probe: Probe;
}

export interface Impact {
  readonly probes: readonly Probe[];
  readonly allowed: readonly ImpactChange[];
  readonly dropped: readonly ImpactChange[];
}

/** A protocol-less packet: what rules without a protocol match, and no rule with one. */
export const ANY_PROBE: Probe = { label: 'any protocol' };

/** The packets one rule is about: each destination port it lists (a range by its first port). */
export function probesForRule(rule: Rule): Probe[] {
  switch (rule.protocol) {
    case 'tcp':
    case 'udp': {
      const srcPort = rule.from.ports?.[0] && firstPort(rule.from.ports[0]);
      const source = srcPort === undefined ? {} : { srcPort };
      const fromWords = srcPort === undefined ? '' : ` from port ${srcPort}`;
      const ports = rule.to.ports?.map(firstPort) ?? [];
      if (ports.length === 0) return [{ label: `${rule.protocol}${fromWords}`, protocol: rule.protocol, ...source }];
      return ports.map((dstPort) => ({ label: `${rule.protocol}${fromWords} ${dstPort}`, protocol: rule.protocol, ...source, dstPort }));
    }
    case 'icmp':
    case 'icmpv6': {
      if (!rule.icmp) return [{ label: rule.protocol, protocol: rule.protocol }];
      const code = rule.icmp.code ?? 0;
      return [{ label: `${rule.protocol} type ${rule.icmp.type} code ${code}`, protocol: rule.protocol, icmpType: rule.icmp.type, icmpCode: code }];
    }
    default:
      return [ANY_PROBE];
  }
}

function firstPort(spec: PortSpec): number {
  return spec.kind === 'port' ? spec.port : spec.low;
}

/** The connections between endpoints that `after` would allow and `before` does not, and the reverse. */
export function compareModels(before: PolicyModel, after: PolicyModel, extraProbes: readonly Probe[] = []): Impact {
  const changedProfiles = new Set<string>();
  const changedTags = new Set<string>();
  const touchedRules: Rule[] = [];
  for (const id of new Set([...before.profiles.keys(), ...after.profiles.keys()])) {
    const a = before.profiles.get(id);
    const b = after.profiles.get(id);
    if (profileText(a) === profileText(b)) continue;
    changedProfiles.add(id);
    for (const tag of symmetricDifference(a?.tags ?? [], b?.tags ?? [])) changedTags.add(tag);
    const kept = new Set([...(a ? allRules(a) : [])].map(ruleIdentity));
    const now = new Set([...(b ? allRules(b) : [])].map(ruleIdentity));
    for (const rule of a ? allRules(a) : []) if (!now.has(ruleIdentity(rule))) touchedRules.push(rule);
    for (const rule of b ? allRules(b) : []) if (!kept.has(ruleIdentity(rule))) touchedRules.push(rule);
  }

  const beforeById = new Map(before.endpoints.map((e) => [endpointKey(e), e]));
  const affected = new Set<ModelEndpoint>();
  for (const endpoint of after.endpoints) {
    const old = beforeById.get(endpointKey(endpoint));
    const ids = new Set([...endpoint.profileIds, ...(old?.profileIds ?? [])]);
    if (old && old.profileIds.join('\u0000') !== endpoint.profileIds.join('\u0000')) {
      affected.add(endpoint);
      for (const id of symmetricDifference(old.profileIds, endpoint.profileIds)) {
        for (const model of [before, after]) {
          const profile = model.profiles.get(id);
          if (!profile) continue;
          touchedRules.push(...allRules(profile));
          for (const tag of profile.tags) changedTags.add(tag);
        }
      }
    }
    if ([...ids].some((id) => changedProfiles.has(id))) affected.add(endpoint);
  }
  const mentionsChangedTag = (rule: Rule) => (rule.from.tag !== undefined && changedTags.has(rule.from.tag)) || (rule.to.tag !== undefined && changedTags.has(rule.to.tag));
  const tagUsers = new Set<string>();
  for (const profile of after.profiles.values()) {
    const rules = allRules(profile).filter(mentionsChangedTag);
    if (rules.length === 0) continue;
    tagUsers.add(profile.id);
    touchedRules.push(...rules);
  }
  for (const endpoint of after.endpoints) if (endpoint.profileIds.some((id) => tagUsers.has(id))) affected.add(endpoint);

  const probes = uniqueProbes([...touchedRules.flatMap(probesForRule), ...extraProbes]);
  if (probes.length === 0) probes.push(ANY_PROBE);
  const allowed: ImpactChange[] = [];
  const dropped: ImpactChange[] = [];
  const seen = new Set<string>();
  for (const a of affected) {
    for (const b of after.endpoints) {
      if (a === b) continue;
      for (const [from, to] of [[a, b], [b, a]] as const) {
        const pairKey = `${endpointKey(from)}\u0000${endpointKey(to)}`;
        if (seen.has(pairKey)) continue;
        seen.add(pairKey);
        for (const probe of probes) {
          const packet = packetFor(from, to, probe);
          if (!packet) continue;
          const was = evaluate(before, packet).verdict;
          const now = evaluate(after, packet).verdict;
          if (was !== now) (now === 'allow' ? allowed : dropped).push({ from, to, probe });
        }
      }
    }
  }
  return { probes, allowed, dropped };
}

/** A packet of the probe's shape between two endpoints, in the first IP family both have (and the probe allows). */
export function packetFor(from: ModelEndpoint, to: ModelEndpoint, probe: Probe): Packet | undefined {
  const families = probe.protocol === 'icmp' ? [4] : probe.protocol === 'icmpv6' ? [6] : [4, 6];
  for (const family of families as (4 | 6)[]) {
    const src = endpointAddresses(from, family)[0];
    const dst = endpointAddresses(to, family)[0];
    if (src === undefined || dst === undefined) continue;
    const { label: _label, ...shape } = probe;
    return { ...shape, src, dst };
  }
  return undefined;
}

function endpointKey(endpoint: ModelEndpoint): string {
  return `${endpoint.host}\u0000${endpoint.id}`;
}

function allRules(profile: ModelProfile): Rule[] {
  return [...profile.inbound, ...profile.outbound];
}

function profileText(profile: ModelProfile | undefined): string {
  return profile === undefined ? '' : JSON.stringify([profile.tags, profile.inbound.map(ruleIdentity), profile.outbound.map(ruleIdentity)]);
}

function symmetricDifference(a: readonly string[], b: readonly string[]): string[] {
  const left = new Set(a);
  const right = new Set(b);
  return [...a.filter((x) => !right.has(x)), ...b.filter((x) => !left.has(x))];
}

function uniqueProbes(probes: readonly Probe[]): Probe[] {
  const byLabel = new Map<string, Probe>();
  for (const probe of probes) if (!byLabel.has(probe.label)) byLabel.set(probe.label, probe);
  return [...byLabel.values()];
}
