import { CalicoError, quoted } from '../errors';
import type { IpVersion } from '../policy/ast';
import { parseIp } from '../policy/cidr';
import { parseStoredObject } from './errors';
import * as keys from './keys';
import { BGP_AS_KEY, BGP_MESH_KEY, globalPeerPrefix, hostAsKey, hostPeerPrefix } from './keys';
import type { KvStore } from './kv';

/**
 * The BGP part of the data model (keys.BGP_ROOT, `/calico/bgp/v1/`): the default AS, the node-to-node mesh,
 * global peers, and each host's own AS and peers. calico-node renders BIRD's configuration from it
 * (src/agent/bgp/bird-config.ts); `calicoctl bgp` and `calicoctl node bgp` edit it.
 */

export { BGP_AS_KEY, BGP_GLOBAL, BGP_LOGLEVEL_KEY, BGP_MESH_KEY, globalPeerPrefix, hostAsKey, hostLogLevelKey, hostPeerPrefix } from './keys';
export const hostBgpPrefix = keys.bgpHostPrefix;

export const DEFAULT_AS = '64511';

/** A BGP setting that cannot be stored (a peer that is not an IP address); nothing was written. */
export class BgpError extends CalicoError {
  readonly code = 'bgp';
  constructor(message: string) {
    super(message);
    this.name = 'BgpError';
  }
}

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
  if (!parsed) throw new BgpError(`${quoted(ip)} is not an IP address.`);
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
  const bgp = keys.parseBgpKey(key);
  if (bgp) {
    switch (bgp.kind) {
      case 'defaultAs':
        return { kind: 'bgpDefaultAs', asNum: value === undefined ? undefined : parseAsNumber(value) };
      case 'nodeMesh':
        return { kind: 'bgpNodeMesh', enabled: value === undefined || decodeMesh(key, value) };
      case 'logLevel':
        return { kind: 'bgpLogLevel', hostname: bgp.hostname, level: value };
      case 'peer':
        return { kind: 'bgpPeer', hostname: bgp.hostname, ip: bgp.ip, peer: value === undefined ? undefined : decodePeerOrUndefined(key, value) };
      case 'hostIp': {
        const ip = value === undefined || value === '' ? undefined : parseIp(value);
        return { kind: 'bgpHostIp', hostname: bgp.hostname, version: bgp.version, ip: ip && ip.version === bgp.version ? ip.text : undefined };
      }
      case 'hostAs':
        return { kind: 'bgpHostAs', hostname: bgp.hostname, asNum: value === undefined ? undefined : parseAsNumber(value) };
    }
  }
  const affinity = keys.parseAffinityKey(key);
  if (affinity) return { kind: 'blockAffinity', hostname: affinity.host, cidr: affinity.cidr, present: value !== undefined };
  return undefined;
}
