import type { KvStore } from './kv';
import { HOSTS, READY } from './keys';
import { DEFAULT_IPV4_POOL, PoolStore } from './pools';
import { parseCidr } from '../policy/cidr';

/** Global settings every agent reads, written only where absent (as libcalico's ensure_global_config). */
const GLOBAL_DEFAULTS: Record<string, string> = {
  '/calico/v1/config/InterfacePrefix': 'cali',
  '/calico/v1/config/LogSeverityScreen': 'info',
  '/calico/v1/config/IpInIpEnabled': 'false',
  '/calico/v1/config/ReportingIntervalSecs': '0',
};

export interface HostRegistration {
  readonly hostname: string;
  readonly ipv4?: string;
  readonly ipv6?: string;
}

export const hostPrefix = (hostname: string): string => `/calico/v1/host/${hostname}/`;

export class HostStore {
  constructor(private readonly kv: KvStore) {}

  /** Global config defaults, the cluster GUID, and the Ready flag agents wait for. */
  async ensureGlobalConfig(): Promise<void> {
    const { randomUUID } = require('node:crypto') as typeof import('node:crypto'); // not on the CLI's start-up path
    const defaults = { ...GLOBAL_DEFAULTS, '/calico/v1/config/ClusterGUID': randomUUID().replace(/-/g, '') };
    for (const [key, value] of Object.entries(defaults)) await this.putIfAbsent(key, value);
    await this.kv.commit([], [{ type: 'put', key: READY, value: 'true' }]);
  }

  /** A default IPv4 pool when there is none, unless NO_DEFAULT_POOLS is true. Resolves to the pool created. */
  async ensureDefaultPool(noDefaultPools: boolean): Promise<string | undefined> {
    if (noDefaultPools) return undefined;
    const pools = new PoolStore(this.kv);
    if ((await pools.list(4)).length > 0) return undefined;
    const cidr = parseCidr(DEFAULT_IPV4_POOL);
    if (!cidr) return undefined;
    try {
      await pools.add([{ cidr }]);
    } catch {
      return undefined; // another host created a pool at the same moment
    }
    return DEFAULT_IPV4_POOL;
  }

  async register(host: HostRegistration): Promise<void> {
    const base = hostPrefix(host.hostname);
    await this.putIfAbsent(`${base}config/DefaultEndpointToHostAction`, 'RETURN');
    const bgp = `/calico/bgp/v1/host/${host.hostname}/`;
    await this.kv.commit(
      [],
      [
        { type: 'put', key: `${base}config/marker`, value: 'created' },
        { type: 'put', key: `${base}bird_ip`, value: host.ipv4 ?? '' },
        { type: 'put', key: `${bgp}ip_addr_v4`, value: host.ipv4 ?? '' },
        { type: 'put', key: `${bgp}ip_addr_v6`, value: host.ipv6 ?? '' },
      ],
    );
  }

  /** The other host registered with this address, if any: two hosts cannot share one. */
  async hostWithAddress(address: string, except: string): Promise<string | undefined> {
    const { kvs } = await this.kv.getPrefix('/calico/bgp/v1/host/');
    for (const kv of kvs) {
      const match = /^\/calico\/bgp\/v1\/host\/([^/]+)\/ip_addr_v[46]$/.exec(kv.key);
      if (match && match[1] !== except && kv.value === address) return match[1];
    }
    return undefined;
  }

  /** Every registered host with its addresses. */
  async list(): Promise<{ hostname: string; ipv4: string; ipv6: string }[]> {
    const [v1, bgp] = await Promise.all([this.kv.getPrefix(HOSTS), this.kv.getPrefix('/calico/bgp/v1/host/')]);
    const hosts = new Map<string, { hostname: string; ipv4: string; ipv6: string }>();
    const entry = (hostname: string) => hosts.get(hostname) ?? hosts.set(hostname, { hostname, ipv4: '', ipv6: '' }).get(hostname)!;
    for (const kv of v1.kvs) {
      const match = /^\/calico\/v1\/host\/([^/]+)\/(.*)$/.exec(kv.key);
      if (!match) continue;
      const host = entry(match[1] as string);
      if (match[2] === 'bird_ip') host.ipv4 = kv.value;
    }
    for (const kv of bgp.kvs) {
      const match = /^\/calico\/bgp\/v1\/host\/([^/]+)\/ip_addr_v6$/.exec(kv.key);
      if (match) entry(match[1] as string).ipv6 = kv.value;
    }
    return [...hosts.values()];
  }

  /** Deletes every record of a host (its endpoints included). */
  async remove(hostname: string): Promise<void> {
    await this.kv.commit([], [
      { type: 'deletePrefix', prefix: hostPrefix(hostname) },
      { type: 'deletePrefix', prefix: `/calico/bgp/v1/host/${hostname}/` },
    ]);
  }

  private async putIfAbsent(key: string, value: string): Promise<void> {
    await this.kv.commit([{ key, modRevision: 0 }], [{ type: 'put', key, value }]);
  }
}
