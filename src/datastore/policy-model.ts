import type { Rule, RuleSet } from '../policy/ast';
import type { ModelEndpoint, ModelProfile, PolicyModel } from '../policy/evaluate';
import type { Endpoint } from './endpoints';
import { addressesIgnored, decodeEndpoint, EndpointStore } from './endpoints';
import { CorruptDataError, type CorruptReporter } from './errors';
import * as keys from './keys';
import type { KeyValue, KvStore } from './kv';
import { decodeRules, decodeTags } from './profiles';
import { ipv4HostSpellings, parseIp } from '../policy/cidr';

/** What the agent renders for rules that do not decode (src/agent/dataplane/state.ts): a chain that drops everything. */
const DROP_ALL: readonly Rule[] = [{ protocol: 'any', action: 'deny', from: {}, to: {} }];

/**
 * Every profile and every endpoint on every host, and the hosts' addresses, as
 * src/policy/evaluate.ts models them, from three reads made together. A profile's rules are decoded only when something asks for them: a trace
 * looks at two profiles' rules out of thousands, but at every profile's tags. Values that do not
 * decode are reported; rules that do not decode drop everything, as the agent's chain for them
 * does, while the profile's tags still count; an endpoint that does not decode is left out.
 */
export async function readPolicyModel(kv: KvStore, report: CorruptReporter): Promise<PolicyModel> {
  const [profiles, endpoints, hostAddresses] = await Promise.all([readModelProfiles(kv, report), new EndpointStore(kv, report).list(), readHostAddresses(kv)]);
  return { profiles, endpoints: endpoints.map(toModel), hostAddresses };
}

const toModel = (e: Endpoint): ModelEndpoint => ({ id: e.endpoint, host: e.hostname, profileIds: e.profileIds, ipv4Nets: e.ipv4Nets, ipv6Nets: e.ipv6Nets, active: e.state === 'active' });

/**
 * Every endpoint on every host, read at once but decoded only as asked. A trace needs the few
 * endpoints at its two addresses out of thousands, and decoding them all cost it more than
 * reading them: an IPv4 address's holders are found by a pattern over the stored text
 * (src/policy/cidr.ts, ipv4HostSpellings), and only the values it matches, or that have escapes
 * it cannot see through, are decoded. Values that do not decode are reported when met, as
 * EndpointStore.list does.
 */
export class LazyEndpoints {
  private readonly decoded = new Map<number, ModelEndpoint | null>();

  private constructor(
    private readonly items: readonly { readonly kv: KeyValue; readonly key: keys.EndpointKey }[],
    private readonly report: CorruptReporter,
  ) {}

  static async read(kv: KvStore, report: CorruptReporter): Promise<LazyEndpoints> {
    const { kvs } = await kv.getPrefix(keys.HOSTS);
    const items = kvs.flatMap((item) => {
      const key = keys.parseEndpointKey(item.key);
      return key ? [{ kv: item, key }] : [];
    });
    return new LazyEndpoints(items, report);
  }

  /** Every endpoint, in key order. */
  all(): ModelEndpoint[] {
    return this.items.flatMap((_, i) => this.at(i) ?? []);
  }

  /** The first endpoint with this ID that decodes, in key order. */
  find(ids: ReadonlySet<string>): ModelEndpoint | undefined {
    for (let i = 0; i < this.items.length; i++) {
      if (!ids.has((this.items[i] as { key: keys.EndpointKey }).key.endpoint)) continue;
      const endpoint = this.at(i);
      if (endpoint) return endpoint;
    }
    return undefined;
  }

  /** The endpoints that hold any of these addresses (canonical text), in key order. */
  holding(addresses: readonly string[]): ModelEndpoint[] {
    const patterns = addresses.map((a) => (a.includes(':') ? undefined : ipv4HostSpellings(a)));
    // An IPv6 address has too many spellings for a pattern: every value is a candidate.
    const everyValue = patterns.some((p) => p === undefined);
    const wanted = new Set(addresses);
    const found: ModelEndpoint[] = [];
    for (let i = 0; i < this.items.length; i++) {
      const text = (this.items[i] as { kv: KeyValue }).kv.value;
      if (!everyValue && !text.includes('\\') && !patterns.some((p) => (p as RegExp).test(text))) continue;
      const endpoint = this.at(i);
      if (!endpoint) continue;
      if ([...endpoint.ipv4Nets, ...endpoint.ipv6Nets].some((net) => wanted.has(net.slice(0, net.indexOf('/'))))) found.push(endpoint);
    }
    return found;
  }

  private at(i: number): ModelEndpoint | undefined {
    const cached = this.decoded.get(i);
    if (cached !== undefined) return cached ?? undefined;
    const { kv, key } = this.items[i] as { kv: KeyValue; key: keys.EndpointKey };
    let endpoint: ModelEndpoint | null = null;
    try {
      endpoint = toModel(decodeEndpoint(key, kv.key, kv.value, (error, count) => this.report(error, addressesIgnored(count))));
    } catch (error) {
      if (!(error instanceof CorruptDataError)) throw error;
      this.report(error);
    }
    this.decoded.set(i, endpoint);
    return endpoint ?? undefined;
  }
}

/**
 * The model's profiles: every one, or with `ids` only those (one read each, made together), which
 * is all a single trace needs: its verdict depends only on the profiles of the endpoints at its
 * two addresses (src/policy/evaluate.ts), and a thousand profiles take longer to read than the rest.
 */
export async function readModelProfiles(kv: KvStore, report: CorruptReporter, ids?: Iterable<string>): Promise<Map<string, ModelProfile>> {
  const ranges = ids === undefined ? [await kv.getPrefix(keys.PROFILES)] : await Promise.all([...new Set(ids)].map((id) => kv.getPrefix(keys.profileDir(id))));
  const leaves = new Map<string, { tags?: KeyValue; rules?: KeyValue }>();
  for (const range of ranges) {
    for (const item of range.kvs) {
      const parsed = keys.parseProfileKey(item.key);
      if (!parsed || (parsed.leaf !== 'tags' && parsed.leaf !== 'rules' && parsed.leaf !== 'labels')) continue;
      const entry = leaves.get(parsed.id) ?? {};
      if (parsed.leaf === 'tags') entry.tags = item;
      if (parsed.leaf === 'rules') entry.rules = item;
      leaves.set(parsed.id, entry);
    }
  }
  const profiles = new Map<string, ModelProfile>();
  // A profile of labels alone is no profile to the agent (src/agent/dataplane/model.ts): its endpoints drop.
  for (const [id, { tags, rules }] of leaves) if (tags || rules) profiles.set(id, lazyProfile(id, tags, rules, report));
  return profiles;
}

/** Each host's registered addresses, by host. */
export async function readHostAddresses(kv: KvStore): Promise<Map<string, string[]>> {
  return hostAddresses((await kv.getPrefix(keys.BGP_HOSTS)).kvs);
}

/**
 * Each host's registered addresses (`ip_addr_v4`, `ip_addr_v6`, which `calicoctl node` writes): the
 * evaluator tells a host's traffic with its own workloads from the outside world's by them. A
 * value that is no address of its version is left out (`calicoctl status` and diags report it).
 */
function hostAddresses(kvs: readonly KeyValue[]): Map<string, string[]> {
  const hosts = new Map<string, string[]>();
  for (const kv of kvs) {
    const parsed = keys.parseBgpKey(kv.key);
    if (parsed?.kind !== 'hostIp' || parseIp(kv.value)?.version !== parsed.version) continue;
    hosts.set(parsed.hostname, [...(hosts.get(parsed.hostname) ?? []), kv.value]);
  }
  return hosts;
}

function lazyProfile(id: string, tagsKv: KeyValue | undefined, rulesKv: KeyValue | undefined, report: CorruptReporter): ModelProfile {
  let tags: readonly string[];
  try {
    tags = decodeTags(tagsKv);
  } catch (error) {
    if (!(error instanceof CorruptDataError)) throw error;
    report(error);
    tags = [];
  }
  let rules: RuleSet | undefined;
  const decoded = (): RuleSet => {
    if (rules) return rules;
    try {
      rules = decodeRules(rulesKv);
    } catch (error) {
      if (!(error instanceof CorruptDataError)) throw error;
      report(error, 'the profile drops everything, as calico-node does');
      rules = { inbound: DROP_ALL, outbound: DROP_ALL };
    }
    return rules;
  };
  return {
    id,
    tags,
    get inbound() {
      return decoded().inbound;
    },
    get outbound() {
      return decoded().outbound;
    },
  };
}
