import { CorruptDataError, type CorruptReporter, warnOnStderr } from './errors';
import { RETRY, untilCommitted } from './retry';
import type { KvStore } from './kv';
import * as keys from './keys';
import { DEFAULT_IPV4_POOL, DEFAULT_IPV6_POOL, PoolStore } from './pools';
import { parseCidr } from '../policy/cidr';

/** Global settings every agent reads, written only where absent (as libcalico's ensure_global_config). */
/**
 * LogSeverityScreen is left out, unlike v0.23: calico-node follows it live (src/agent/log-config.ts),
 * so a stored "info" would override every agent's own --log-level; absent, Felix's default is info anyway.
 */
const GLOBAL_DEFAULTS: Record<string, string> = {
  InterfacePrefix: 'cali',
  IpInIpEnabled: 'false',
  ReportingIntervalSecs: '0',
};

export interface HostRegistration {
  readonly hostname: string;
  readonly ipv4?: string;
  readonly ipv6?: string;
}

export { hostPrefix } from './keys';

/** A host's address as stored: '' (none) or an IP address of that version; anything else is corrupt. */
export function decodeHostIp(key: string, value: string, version: 4 | 6): string {
  if (value === '' || (require('node:net') as typeof import('node:net')).isIP(value) === version) return value;
  throw new CorruptDataError(key, `expected an IPv${version} address or nothing`);
}

export class HostStore {
  constructor(
    private readonly kv: KvStore,
    private readonly report: CorruptReporter = warnOnStderr,
  ) {}

  /** Global config defaults, the cluster GUID, and the Ready flag agents wait for. */
  async ensureGlobalConfig(): Promise<void> {
    const { randomUUID } = require('node:crypto') as typeof import('node:crypto'); // not on the CLI's start-up path
    const defaults = { ...GLOBAL_DEFAULTS, ClusterGUID: randomUUID().replace(/-/g, '') };
    for (const [name, value] of Object.entries(defaults)) await this.putIfAbsent(keys.globalConfigKey(name), value);
    await this.kv.commit([], [{ type: 'put', key: keys.READY, value: 'true' }]);
  }

  /**
   * The default pools, unless NO_DEFAULT_POOLS is true: an IPv4 pool when there is none, and an
   * IPv6 pool when there is none and the kernel has IPv6 (an --ipv6 network needs one, and a host
   * without IPv6 could not route it). Resolves to the pools created.
   */
  async ensureDefaultPools(options: { readonly noDefaultPools: boolean; readonly ipv6: boolean }): Promise<string[]> {
    if (options.noDefaultPools) return [];
    const pools = new PoolStore(this.kv, this.report);
    const created: string[] = [];
    for (const [version, text] of [[4, DEFAULT_IPV4_POOL], [6, DEFAULT_IPV6_POOL]] as const) {
      const cidr = parseCidr(text);
      if (cidr && (version === 4 || options.ipv6) && (await pools.addIfNone({ cidr }))) created.push(text);
    }
    return created;
  }

  /**
   * Registers the host, unless another host holds one of its addresses: resolves to that conflict
   * then, having written nothing. The check and the write are one transaction (the hosts' addresses
   * read must be current when it commits), so two hosts starting with one address cannot both win.
   */
  async register(host: HostRegistration): Promise<{ address: string; host: string } | undefined> {
    const { hostname } = host;
    await this.putIfAbsent(keys.hostConfigKey(hostname, 'DefaultEndpointToHostAction'), 'RETURN');
    return untilCommitted(keys.bgpHostIp(hostname, 4), async () => {
      const { kvs, revision } = await this.kv.getPrefix(keys.BGP_HOSTS);
      for (const address of [host.ipv4, host.ipv6]) {
        if (address === undefined) continue;
        const other = holderOf(kvs, address, hostname);
        if (other !== undefined) return { address, host: other };
      }
      const committed = await this.kv.commit(
        [{ prefix: keys.BGP_HOSTS, unchangedSince: revision }],
        [
          { type: 'put', key: keys.hostConfigKey(hostname, 'marker'), value: 'created' },
          { type: 'put', key: keys.hostBirdIp(hostname), value: host.ipv4 ?? '' },
          { type: 'put', key: keys.bgpHostIp(hostname, 4), value: host.ipv4 ?? '' },
          { type: 'put', key: keys.bgpHostIp(hostname, 6), value: host.ipv6 ?? '' },
        ],
      );
      return committed ? undefined : RETRY;
    });
  }

  /** The other host registered with this address, if any: two hosts cannot share one. */
  async hostWithAddress(address: string, except: string): Promise<string | undefined> {
    return holderOf((await this.kv.getPrefix(keys.BGP_HOSTS)).kvs, address, except);
  }

  /** Every registered host with its addresses. */
  async list(): Promise<{ hostname: string; ipv4: string; ipv6: string }[]> {
    const [v1, bgp] = await Promise.all([this.kv.getPrefix(keys.HOSTS), this.kv.getPrefix(keys.BGP_HOSTS)]);
    const hosts = new Map<string, { hostname: string; ipv4: string; ipv6: string }>();
    const entry = (hostname: string) => hosts.get(hostname) ?? hosts.set(hostname, { hostname, ipv4: '', ipv6: '' }).get(hostname)!;
    for (const kv of v1.kvs) {
      const hostname = keys.hostOfKey(kv.key);
      if (!hostname) continue;
      const host = entry(hostname);
      const parsed = keys.parseHostKey(kv.key);
      if (parsed && 'birdIp' in parsed) host.ipv4 = this.address(kv.key, kv.value, 4);
    }
    for (const kv of bgp.kvs) {
      const parsed = keys.parseBgpKey(kv.key);
      if (parsed?.kind === 'hostIp' && parsed.version === 6) entry(parsed.hostname).ipv6 = this.address(kv.key, kv.value, 6);
    }
    return [...hosts.values()];
  }

  /** Deletes every record of a host (its endpoints included). */
  async remove(hostname: string): Promise<void> {
    await this.kv.commit([], [
      { type: 'deletePrefix', prefix: keys.hostPrefix(hostname) },
      { type: 'deletePrefix', prefix: keys.bgpHostPrefix(hostname) },
    ]);
  }

  /** A stored address, or '' (reported) when it is not one. */
  private address(key: string, value: string, version: 4 | 6): string {
    try {
      return decodeHostIp(key, value, version);
    } catch (error) {
      this.report(error as CorruptDataError);
      return '';
    }
  }

  private async putIfAbsent(key: string, value: string): Promise<void> {
    await this.kv.commit([{ key, modRevision: 0 }], [{ type: 'put', key, value }]);
  }
}

/** The host other than `except` whose BGP address (in `kvs`, read from keys.BGP_HOSTS) is `address`. */
function holderOf(kvs: readonly { key: string; value: string }[], address: string, except: string): string | undefined {
  for (const kv of kvs) {
    const parsed = keys.parseBgpKey(kv.key);
    if (parsed?.kind === 'hostIp' && parsed.hostname !== except && kv.value === address) return parsed.hostname;
  }
  return undefined;
}
