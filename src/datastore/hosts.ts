import { randomUUID } from 'node:crypto';
import type { KvStore } from './kv';
import { READY } from './keys';
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

  private async putIfAbsent(key: string, value: string): Promise<void> {
    await this.kv.commit([{ key, modRevision: 0 }], [{ type: 'put', key, value }]);
  }
}
