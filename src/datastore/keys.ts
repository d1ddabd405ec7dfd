/**
 * The Calico v1 key layout in etcd (spec §6), kept as strings so that any tool that speaks the v1
 * model reads the same keys. Names are validated before they reach here (no `/` can appear).
 */

export const ROOT = '/calico/v1/';
export const READY = '/calico/v1/Ready';
export const PROFILES = '/calico/v1/policy/profile/';
export const HOSTS = '/calico/v1/host/';

export const profileDir = (id: string): string => `${PROFILES}${id}/`;
export const profileRules = (id: string): string => `${PROFILES}${id}/rules`;
export const profileTags = (id: string): string => `${PROFILES}${id}/tags`;
export const profileLabels = (id: string): string => `${PROFILES}${id}/labels`;

/** Splits `/calico/v1/policy/profile/<id>/<leaf>` into id and leaf. */
export function parseProfileKey(key: string): { id: string; leaf: string } | undefined {
  if (!key.startsWith(PROFILES)) return undefined;
  const rest = key.slice(PROFILES.length);
  const slash = rest.indexOf('/');
  if (slash <= 0) return undefined;
  return { id: rest.slice(0, slash), leaf: rest.slice(slash + 1) };
}

export interface EndpointKey {
  readonly hostname: string;
  readonly orchestrator: string;
  readonly workload: string;
  readonly endpoint: string;
}

export const endpointKey = (k: EndpointKey): string =>
  `${HOSTS}${k.hostname}/workload/${k.orchestrator}/${k.workload}/endpoint/${k.endpoint}`;

/** Parses `/calico/v1/host/<host>/workload/<orchestrator>/<workload>/endpoint/<id>`. */
export function parseEndpointKey(key: string): EndpointKey | undefined {
  const match = /^\/calico\/v1\/host\/([^/]+)\/workload\/([^/]+)\/([^/]+)\/endpoint\/([^/]+)$/.exec(key);
  if (!match) return undefined;
  return { hostname: match[1] as string, orchestrator: match[2] as string, workload: match[3] as string, endpoint: match[4] as string };
}
