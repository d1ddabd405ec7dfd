import type { DatastoreUpdate, SyncTarget } from '../../datastore/syncer';
import { cidrNetworkText } from '../../policy/cidr';
import type { Logger } from '../log';
import { type DesiredTunnel, type IpipModel, type IpipPool, renderTunnel, tunnelAddressAction } from './tunnel';

/** What the controller asks of etcd for this host's tunnel address (src/datastore/tunnel-address.ts). */
export interface TunnelAddresses {
  ensure(hostname: string, pools: readonly string[]): Promise<string>;
  remove(hostname: string): Promise<boolean>;
}

export interface TunnelTarget {
  apply(desired: DesiredTunnel): Promise<void>;
}

const TUNNEL_ADDRESS = 'IpInIpTunnelAddr';
const SETTLE_MS = 20;
const RETRY_MS = { first: 1000, max: 60_000 };

/**
 * Follows the pools, the hosts' addresses, every host's block affinities and this host's
 * IpInIpTunnelAddr, and after each batch: gets or gives back this host's tunnel address in etcd
 * (IPAM), then renders the tunnel (tunnel.ts) and applies it. Nothing happens before the first
 * snapshot. A failed pass (etcd down, a kernel without IPIP) is logged once per distinct message
 * and retried with back-off; the next update retries at once.
 */
export class IpipController implements SyncTarget {
  private readonly pools = new Map<string, IpipPool>();
  private readonly birdIps = new Map<string, string>();
  private readonly bgpIps = new Map<string, string>();
  private readonly blocks = new Map<string, string>();
  private tunnelAddress: string | undefined;
  /** Tunnel addresses given back while running: still ours to take off tunl0 when their pool went too. */
  private readonly released = new Set<string>();
  private synced = false;
  private timer: NodeJS.Timeout | undefined;
  /** Whether `timer` is a retry after a failed pass (settled() does not wait for those). */
  private retrying = false;
  private running: Promise<void> = Promise.resolve();
  private retryMs = RETRY_MS.first;
  private lastError: string | undefined;
  private stopped = false;

  constructor(
    private readonly hostname: string,
    private readonly addresses: TunnelAddresses,
    private readonly target: TunnelTarget,
    private readonly log: Logger,
  ) {}

  resync(updates: readonly DatastoreUpdate[]): void {
    for (const update of updates) this.fold(update);
    this.synced = true;
    this.schedule(SETTLE_MS);
  }

  update(updates: readonly DatastoreUpdate[]): void {
    let relevant = false;
    for (const update of updates) relevant = this.fold(update) || relevant;
    if (relevant) {
      this.retryMs = RETRY_MS.first;
      this.schedule(SETTLE_MS, true);
    }
  }

  model(): IpipModel {
    const hostAddresses = new Map(this.birdIps);
    for (const [host, ip] of this.bgpIps) hostAddresses.set(host, ip);
    return { hostname: this.hostname, pools: [...this.pools.values()], hostAddresses, blocks: new Map(this.blocks), tunnelAddress: this.tunnelAddress };
  }

  /** Resolves once everything scheduled so far has been tried (for tests); a retry after a failure is not waited for. */
  async settled(): Promise<void> {
    while (this.timer && !this.retrying && !this.stopped) await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    await this.running;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private fold(update: DatastoreUpdate): boolean {
    switch (update.kind) {
      case 'pool': {
        if (update.version !== 4) return false;
        if (update.pool === undefined) this.pools.delete(update.name);
        else this.pools.set(update.name, { cidr: cidrNetworkText(update.pool.cidr), ipip: update.pool.ipip === true });
        return true;
      }
      case 'hostIp':
        setOrDelete(this.birdIps, update.hostname, update.ipv4);
        return true;
      case 'bgpHostIp':
        if (update.version !== 4) return false;
        setOrDelete(this.bgpIps, update.hostname, update.ip);
        return true;
      case 'blockAffinity':
        if (update.cidr.includes(':')) return false;
        if (update.present) this.blocks.set(update.cidr, update.hostname);
        else if (this.blocks.get(update.cidr) === update.hostname) this.blocks.delete(update.cidr);
        return true;
      case 'hostConfig':
        if (update.hostname !== this.hostname || update.name !== TUNNEL_ADDRESS) return false;
        this.tunnelAddress = update.value;
        return true;
      default:
        return false;
    }
  }

  private schedule(ms: number, replace = false, retry = false): void {
    if (!this.synced || this.stopped) return;
    if (this.timer) {
      if (!replace) return;
      clearTimeout(this.timer);
    }
    this.retrying = retry;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.retrying = false;
      this.running = this.running.then(() => this.pass());
    }, ms);
    this.timer.unref?.();
  }

  private async pass(): Promise<void> {
    try {
      const model = this.model();
      const action = tunnelAddressAction(model);
      if (action.kind === 'assign') {
        const pools = model.pools.filter((pool) => pool.ipip).map((pool) => pool.cidr);
        this.tunnelAddress = await this.addresses.ensure(this.hostname, pools);
        if (action.release !== undefined) this.released.add(action.release);
        this.log.info(`IPIP tunnel address of ${this.hostname}: ${this.tunnelAddress}`);
      } else if (action.kind === 'remove') {
        await this.addresses.remove(this.hostname);
        this.log.info(`No IPIP pool any more: released the tunnel address ${action.release}`);
        this.released.add(action.release);
        this.tunnelAddress = undefined;
      }
      const desired = renderTunnel(this.model());
      await this.target.apply({ ...desired, poolNets: [...desired.poolNets, ...[...this.released].filter((a) => a !== desired.address).map((a) => `${a}/32`)] });
      this.lastError = undefined;
      this.retryMs = RETRY_MS.first;
    } catch (error) {
      const message = (error as Error).message;
      if (message !== this.lastError) this.log.error(`IPIP: ${message}`);
      this.lastError = message;
      this.schedule(this.retryMs, false, true);
      this.retryMs = Math.min(RETRY_MS.max, this.retryMs * 2);
    }
  }
}

function setOrDelete(map: Map<string, string>, key: string, value: string | undefined): void {
  if (value === undefined) map.delete(key);
  else map.set(key, value);
}
