import type { IpVersion } from '../policy/ast';
import { parseIp } from '../policy/cidr';
import { parseStoredObject } from './errors';
import type { KvStore } from './kv';

/**
 * The BGP part of the data model under `/calico/bgp/v1/`: the default AS, the node-to-node mesh,
 * global peers, and each host's own AS and peers. calico-node renders BIRD's configuration from it
 * (src/agent/bgp/bird-config.ts); `calicoctl bgp` and `calicoctl node bgp` edit it.
 */

const BGP = '/calico/bgp/v1/';
export const BGP_GLOBAL = `${BGP}global/`;
export const BGP_AS_KEY = `${BGP_GLOBAL}as_num`;
export const BGP_MESH_KEY = `${BGP_GLOBAL}node_mesh`;
export const BGP_LOGLEVEL_KEY = `${BGP_GLOBAL}loglevel`;
export const globalPeerPrefix = (version: IpVersion): string => `${BGP_GLOBAL}peer_v${version}/`;
export const hostBgpPrefix = (host: string): string => `${BGP}host/${host}/`;
export const hostAsKey = (host: string): string => `${hostBgpPrefix(host)}as_num`;
export const hostLogLevelKey = (host: string): string => `${hostBgpPrefix(host)}loglevel`;
export const hostPeerPrefix = (host: string, version: IpVersion): string => `${hostBgpPrefix(host)}peer_v${version}/`;

export const DEFAULT_AS = '64511';

export interface Peer {
  readonly ip: string;
  readonly asNum: string;
}

/**
 * An AS number in asplain (`64511`) or dotted (`1.5`, i.e. 65536 × 1 + 5) form, as asplain text;
 * undefined when it is neither or out of the 32-bit range.
 */
export function parseAsNumber(text: string): string | undefined {
  const dotted = /^(\d{1,5})\.(\d{1,5})$/.exec(text);
  if (dotted) {
    const high = Number(dotted[1]);
    const low = Number(dotted[2]);
    return high <= 0xffff && low <= 0xffff ? String(high * 65536 + low) : undefined;
  }
  if (!/^\d{1,10}$/.test(text)) return undefined;
  const value = Number(text);
  return value <= 0xffffffff ? String(value) : undefined;
}

export class BgpStore {
  constructor(private readonly kv: KvStore) {}

  async defaultAs(): Promise<string> {
    const stored = await this.kv.get(BGP_AS_KEY);
    return stored && parseAsNumber(stored.value) !== undefined ? stored.value : DEFAULT_AS;
  }

  async setDefaultAs(asNum: string): Promise<void> {
    await this.put(BGP_AS_KEY, asNum);
  }

  /** On unless it was turned off; a value that does not decode counts as on, as v0.23's default. */
  async nodeMesh(): Promise<boolean> {
    const stored = await this.kv.get(BGP_MESH_KEY);
    return stored ? decodeMesh(stored.key, stored.value) : true;
  }

  async setNodeMesh(enabled: boolean): Promise<void> {
    await this.put(BGP_MESH_KEY, JSON.stringify({ enabled }));
  }

  globalPeers(version: IpVersion): Promise<Peer[]> {
    return this.peers(globalPeerPrefix(version));
  }

  nodePeers(host: string, version: IpVersion): Promise<Peer[]> {
    return this.peers(hostPeerPrefix(host, version));
  }

  /** Adds or replaces a global peer (`bgp peer add`). */
  async addGlobalPeer(ip: string, asNum: string): Promise<void> {
    await this.put(peerKey(globalPeerPrefix, ip), JSON.stringify({ ip, as_num: asNum }));
  }

  /** Resolves false when there was no such peer. */
  removeGlobalPeer(ip: string): Promise<boolean> {
    return this.remove(peerKey(globalPeerPrefix, ip));
  }

  async addNodePeer(host: string, ip: string, asNum: string): Promise<void> {
    await this.put(peerKey((v) => hostPeerPrefix(host, v), ip), JSON.stringify({ ip, as_num: asNum }));
  }

  removeNodePeer(host: string, ip: string): Promise<boolean> {
    return this.remove(peerKey((v) => hostPeerPrefix(host, v), ip));
  }

  /** The host's own AS, or undefined when it inherits the default. */
  async hostAs(host: string): Promise<string | undefined> {
    const stored = await this.kv.get(hostAsKey(host));
    return stored && parseAsNumber(stored.value) !== undefined ? stored.value : undefined;
  }

  /** Sets the host's own AS, or (undefined) makes it inherit the default again. */
  async setHostAs(host: string, asNum: string | undefined): Promise<void> {
    if (asNum === undefined) await this.kv.commit([], [{ type: 'delete', key: hostAsKey(host) }]);
    else await this.put(hostAsKey(host), asNum);
  }

  private async peers(prefix: string): Promise<Peer[]> {
    const { kvs } = await this.kv.getPrefix(prefix);
    return kvs.flatMap((kv) => {
      const peer = decodePeerOrUndefined(kv.key, kv.value);
      return peer ? [peer] : [];
    });
  }

  private async put(key: string, value: string): Promise<void> {
    await this.kv.commit([], [{ type: 'put', key, value }]);
  }

  private async remove(key: string): Promise<boolean> {
    const existing = await this.kv.get(key);
    if (!existing) return false;
    // Guarded, so a peer re-added meanwhile is not deleted by a stale remove.
    return this.kv.commit([{ key, modRevision: existing.modRevision }], [{ type: 'delete', key }]);
  }
}

function peerKey(prefix: (version: IpVersion) => string, ip: string): string {
  const parsed = parseIp(ip);
  if (!parsed) throw new Error(`not an IP address: ${ip}`);
  return `${prefix(parsed.version)}${parsed.text}`;
}

export function decodeMesh(key: string, value: string): boolean {
  try {
    return parseStoredObject(key, value, 'a node mesh setting').enabled !== false;
  } catch {
    return true;
  }
}

/** A stored peer, or undefined when it is not `{"ip": <address>, "as_num": <AS>}`. */
export function decodePeerOrUndefined(key: string, value: string): Peer | undefined {
  try {
    const data = parseStoredObject(key, value, 'a BGP peer');
    const ip = typeof data.ip === 'string' ? parseIp(data.ip)?.text : undefined;
    const asNum = parseAsNumber(String(data.as_num ?? ''));
    return ip !== undefined && asNum !== undefined ? { ip, asNum } : undefined;
  } catch {
    return undefined;
  }
}

/** What the syncer tells the agent about BGP (keys under /calico/bgp/v1/ and host block affinities). */
export type BgpUpdate =
  | { readonly kind: 'bgpDefaultAs'; readonly asNum: string | undefined }
  | { readonly kind: 'bgpNodeMesh'; readonly enabled: boolean }
  | { readonly kind: 'bgpLogLevel'; readonly hostname: string | undefined; readonly level: string | undefined }
  | { readonly kind: 'bgpPeer'; readonly hostname: string | undefined; readonly ip: string; readonly peer: Peer | undefined }
  | { readonly kind: 'bgpHostIp'; readonly hostname: string; readonly version: IpVersion; readonly ip: string | undefined }
  | { readonly kind: 'bgpHostAs'; readonly hostname: string; readonly asNum: string | undefined }
  | { readonly kind: 'blockAffinity'; readonly hostname: string; readonly cidr: string; readonly present: boolean };

/** Which BGP update a key under /calico/bgp/v1/ or /calico/ipam/v2/host/ means; undefined for any other key. */
export function decodeBgpKey(key: string, value: string | undefined): BgpUpdate | undefined {
  if (key === BGP_AS_KEY) return { kind: 'bgpDefaultAs', asNum: value === undefined ? undefined : parseAsNumber(value) };
  if (key === BGP_MESH_KEY) return { kind: 'bgpNodeMesh', enabled: value === undefined || decodeMesh(key, value) };
  if (key === BGP_LOGLEVEL_KEY) return { kind: 'bgpLogLevel', hostname: undefined, level: value };
  let match = /^\/calico\/bgp\/v1\/global\/peer_v[46]\/([^/]+)$/.exec(key);
  if (match) return { kind: 'bgpPeer', hostname: undefined, ip: match[1] as string, peer: value === undefined ? undefined : decodePeerOrUndefined(key, value) };
  match = /^\/calico\/bgp\/v1\/host\/([^/]+)\/(?:peer_v[46]\/([^/]+)|ip_addr_v([46])|as_num|loglevel)$/.exec(key);
  if (match) {
    const hostname = match[1] as string;
    if (match[2] !== undefined) return { kind: 'bgpPeer', hostname, ip: match[2], peer: value === undefined ? undefined : decodePeerOrUndefined(key, value) };
    if (match[3] !== undefined) {
      const version = Number(match[3]) as IpVersion;
      const ip = value === undefined || value === '' ? undefined : parseIp(value);
      return { kind: 'bgpHostIp', hostname, version, ip: ip && ip.version === version ? ip.text : undefined };
    }
    if (key.endsWith('/as_num')) return { kind: 'bgpHostAs', hostname, asNum: value === undefined ? undefined : parseAsNumber(value) };
    return { kind: 'bgpLogLevel', hostname, level: value };
  }
  match = /^\/calico\/ipam\/v2\/host\/([^/]+)\/ipv[46]\/block\/([^/]+)-(\d+)$/.exec(key);
  if (match) return { kind: 'blockAffinity', hostname: match[1] as string, cidr: `${match[2]}/${match[3]}`, present: value !== undefined };
  return undefined;
}
