import type { Cidr, IpVersion } from '../policy/ast';
import { cidrNetworkText } from '../policy/cidr';

/**
 * Every etcd key Calico reads or writes, built and parsed here and nowhere else (the layout is
 * described in ARCHITECTURE.md, "etcd key layout"). They are kept as the v1 model's strings so that
 * any tool that speaks the v1 model reads the same keys. Names are validated before they reach
 * here (no `/` can appear).
 */

export const ROOT = '/calico/v1/';
export const READY = '/calico/v1/Ready';
export const CONFIG = '/calico/v1/config/';
export const PROFILES = '/calico/v1/policy/profile/';
export const HOSTS = '/calico/v1/host/';
export const BGP_HOSTS = '/calico/bgp/v1/host/';

/** A global setting every agent reads, e.g. InterfacePrefix. */
export const globalConfigKey = (name: string): string => `${CONFIG}${name}`;

export type ProfileLeaf = 'tags' | 'rules' | 'labels';

export const profileDir = (id: string): string => `${PROFILES}${id}/`;
export const profileKey = (id: string, leaf: ProfileLeaf): string => `${PROFILES}${id}/${leaf}`;
export const profileRules = (id: string): string => profileKey(id, 'rules');
export const profileTags = (id: string): string => profileKey(id, 'tags');
export const profileLabels = (id: string): string => profileKey(id, 'labels');

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

/** Everything stored about one host (its endpoints included). */
export const hostPrefix = (hostname: string): string => `${HOSTS}${hostname}/`;
export const hostWorkloads = (hostname: string): string => `${HOSTS}${hostname}/workload/`;
/** The host's IPv4 address, as BIRD peers with it. */
export const hostBirdIp = (hostname: string): string => `${HOSTS}${hostname}/bird_ip`;
/** A per-host setting, e.g. DefaultEndpointToHostAction. */
export const hostConfigKey = (hostname: string, name: string): string => `${HOSTS}${hostname}/config/${name}`;
/** The host's address on its IPIP device (tunl0), assigned from an IPIP pool. */
export const tunnelAddressKey = (hostname: string): string => hostConfigKey(hostname, 'IpInIpTunnelAddr');
export const bgpHostPrefix = (hostname: string): string => `${BGP_HOSTS}${hostname}/`;
export const bgpHostIp = (hostname: string, version: IpVersion): string => `${BGP_HOSTS}${hostname}/ip_addr_v${version}`;

/** Everything under one workload: its endpoints (`calicoctl container remove` deletes the lot). */
export const workloadPrefix = (k: Omit<EndpointKey, 'endpoint'>): string => `${HOSTS}${k.hostname}/workload/${k.orchestrator}/${k.workload}/`;

export const endpointKey = (k: EndpointKey): string =>
  `${HOSTS}${k.hostname}/workload/${k.orchestrator}/${k.workload}/endpoint/${k.endpoint}`;

/** Parses `/calico/v1/host/<host>/workload/<orchestrator>/<workload>/endpoint/<id>`. */
export function parseEndpointKey(key: string): EndpointKey | undefined {
  const match = /^\/calico\/v1\/host\/([^/]+)\/workload\/([^/]+)\/([^/]+)\/endpoint\/([^/]+)$/.exec(key);
  if (!match) return undefined;
  return { hostname: match[1] as string, orchestrator: match[2] as string, workload: match[3] as string, endpoint: match[4] as string };
}

/** The host a key under `/calico/v1/host/` belongs to. */
export function hostOfKey(key: string): string | undefined {
  if (!key.startsWith(HOSTS)) return undefined;
  return key.slice(HOSTS.length).split('/')[0] || undefined;
}

/** Parses a host's own keys: `/calico/v1/host/<host>/bird_ip` and `/calico/v1/host/<host>/config/<name>`. */
export function parseHostKey(key: string): { hostname: string; birdIp: true } | { hostname: string; config: string } | undefined {
  const match = /^\/calico\/v1\/host\/([^/]+)\/(bird_ip|config\/([^/]+))$/.exec(key);
  if (!match) return undefined;
  const hostname = match[1] as string;
  return match[3] === undefined ? { hostname, birdIp: true } : { hostname, config: match[3] };
}

/** Parses `/calico/v1/config/<name>`. */
export function parseGlobalConfigKey(key: string): string | undefined {
  if (!key.startsWith(CONFIG)) return undefined;
  const name = key.slice(CONFIG.length);
  return name === '' || name.includes('/') ? undefined : name;
}

/** IP pools at `/calico/v1/ipam/v<N>/pool/<cidr with - for />`. */
export const poolPrefix = (version: IpVersion): string => `/calico/v1/ipam/v${version}/pool/`;
/** How the pools are named in a message about them all. */
export const ALL_POOLS = '/calico/v1/ipam/v{4,6}/pool/';
export const poolKey = (cidr: Cidr): string => `${poolPrefix(cidr.version)}${cidrNetworkText(cidr).replace('/', '-')}`;

/** Parses a pool key into its version and name (the CIDR with - for /). */
export function parsePoolKey(key: string): { version: IpVersion; name: string } | undefined {
  const match = /^\/calico\/v1\/ipam\/v([46])\/pool\/([^/]+)$/.exec(key);
  return match ? { version: Number(match[1]) as IpVersion, name: match[2] as string } : undefined;
}

/** The network driver's own record of each network. */
export const libnetworkKey = (networkId: string): string => `/calico/libnetwork/v1/${networkId}`;

/** Address assignment in blocks with host affinity (pycalico v0.18's layout): a block and a host's claim on it. */
const IPAM_V2 = '/calico/ipam/v2/';
const cidrSegment = (cidr: string): string => cidr.replace('/', '-');
export const blockPrefix = (version: IpVersion): string => `${IPAM_V2}assignment/ipv${version}/block/`;
export const blockKey = (version: IpVersion, cidr: string): string => `${blockPrefix(version)}${cidrSegment(cidr)}`;
export const AFFINITY_HOSTS = `${IPAM_V2}host/`;
export const hostBlocksPrefix = (host: string, version: IpVersion): string => `${AFFINITY_HOSTS}${host}/ipv${version}/block/`;
export const affinityKey = (host: string, version: IpVersion, cidr: string): string => `${hostBlocksPrefix(host, version)}${cidrSegment(cidr)}`;

/** Parses `/calico/ipam/v2/host/<host>/ipv<v>/block/<net>-<len>`. */
export function parseAffinityKey(key: string): { host: string; version: IpVersion; cidr: string } | undefined {
  const match = /^\/calico\/ipam\/v2\/host\/([^/]+)\/ipv([46])\/block\/([^/]+)-(\d+)$/.exec(key);
  if (!match) return undefined;
  return { host: match[1] as string, version: Number(match[2]) as IpVersion, cidr: `${match[3]}/${match[4]}` };
}

/** The BGP part of the model: the default AS, the node mesh, global and per-host peers, AS and log level. */
export const BGP_ROOT = '/calico/bgp/v1/';
export const BGP_GLOBAL = `${BGP_ROOT}global/`;
export const BGP_AS_KEY = `${BGP_GLOBAL}as_num`;
export const BGP_MESH_KEY = `${BGP_GLOBAL}node_mesh`;
export const BGP_LOGLEVEL_KEY = `${BGP_GLOBAL}loglevel`;
export const globalPeerPrefix = (version: IpVersion): string => `${BGP_GLOBAL}peer_v${version}/`;
export const hostAsKey = (host: string): string => `${bgpHostPrefix(host)}as_num`;
export const hostLogLevelKey = (host: string): string => `${bgpHostPrefix(host)}loglevel`;
export const hostPeerPrefix = (host: string, version: IpVersion): string => `${bgpHostPrefix(host)}peer_v${version}/`;
/** Any other global BGP setting by its stored name (`calicoctl config bgp <NAME> --force`). */
export const bgpGlobalSettingKey = (name: string): string => `${BGP_GLOBAL}${name}`;
/** Any other BGP setting of one host by its stored name (`calicoctl config node bgp <NAME> --force`). */
export const bgpHostSettingKey = (host: string, name: string): string => `${bgpHostPrefix(host)}${name}`;

/** What a key under /calico/bgp/v1/ is; `hostname` is absent for the global settings. */
export type BgpKey =
  | { readonly kind: 'defaultAs' }
  | { readonly kind: 'nodeMesh' }
  | { readonly kind: 'logLevel'; readonly hostname: string | undefined }
  | { readonly kind: 'peer'; readonly hostname: string | undefined; readonly ip: string }
  | { readonly kind: 'hostIp'; readonly hostname: string; readonly version: IpVersion }
  | { readonly kind: 'hostAs'; readonly hostname: string };

export function parseBgpKey(key: string): BgpKey | undefined {
  if (key === BGP_AS_KEY) return { kind: 'defaultAs' };
  if (key === BGP_MESH_KEY) return { kind: 'nodeMesh' };
  if (key === BGP_LOGLEVEL_KEY) return { kind: 'logLevel', hostname: undefined };
  let match = /^\/calico\/bgp\/v1\/global\/peer_v[46]\/([^/]+)$/.exec(key);
  if (match) return { kind: 'peer', hostname: undefined, ip: match[1] as string };
  match = /^\/calico\/bgp\/v1\/host\/([^/]+)\/(?:peer_v[46]\/([^/]+)|ip_addr_v([46])|(as_num)|loglevel)$/.exec(key);
  if (!match) return undefined;
  const hostname = match[1] as string;
  if (match[2] !== undefined) return { kind: 'peer', hostname, ip: match[2] };
  if (match[3] !== undefined) return { kind: 'hostIp', hostname, version: Number(match[3]) as IpVersion };
  if (match[4] !== undefined) return { kind: 'hostAs', hostname };
  return { kind: 'logLevel', hostname };
}
