import type { ModelEndpoint, ModelProfile, PolicyModel } from '../policy/evaluate';
import type { Endpoint } from './endpoints';
import { EndpointStore } from './endpoints';
import type { CorruptReporter } from './errors';
import type { KvStore } from './kv';
import { ProfileStore } from './profiles';

/** The policy model and the stored endpoints it was made from (their keys, for naming them). */
export interface StoredPolicy {
  readonly model: PolicyModel;
  readonly endpoints: readonly Endpoint[];
}

/**
 * Every profile and every endpoint on every host, as src/policy/evaluate.ts models them, from two
 * reads made together. Values that do not decode are reported and left out, as the stores do: a
 * profile whose rules do not decode is then missing, and its endpoints drop, as the agent's
 * "ERROR failed to parse rules" chain does.
 */
export async function readPolicyModel(kv: KvStore, report: CorruptReporter): Promise<StoredPolicy> {
  const [profiles, endpoints] = await Promise.all([new ProfileStore(kv, report).listAll(), new EndpointStore(kv, report).list()]);
  const byId = new Map<string, ModelProfile>();
  for (const p of profiles) byId.set(p.id, { id: p.id, tags: p.tags, inbound: p.rules.inbound, outbound: p.rules.outbound });
  const model: ModelEndpoint[] = endpoints.map((e) => ({ id: e.endpoint, host: e.hostname, profileIds: e.profileIds, ipv4Nets: e.ipv4Nets, ipv6Nets: e.ipv6Nets }));
  return { model: { profiles: byId, endpoints: model }, endpoints };
}
