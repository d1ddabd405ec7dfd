import type { Peer } from '../../datastore/bgp';
import type { DatastoreUpdate } from '../../datastore/syncer';
import { cidrNetworkText } from '../../policy/cidr';
import type { Logger } from '../log';
import { type BgpHost, type BgpLogLevel, type BgpModel, type Family, renderBirdConfig } from './bird-config';

/** Where a rendered configuration goes: a BIRD supervisor, or a test's recorder. */
export interface BirdTarget {
  configure(text: string): Promise<unknown>;
}

interface PoolInfo {
  readonly cidr: string;
  readonly disabled: boolean;
  readonly ipip: boolean;
}

const LOG_LEVELS = new Set<BgpLogLevel>(['none', 'debug', 'info', 'warning', 'error', 'critical']);
const asLogLevel = (level: string | undefined): BgpLogLevel | undefined => (level !== undefined && LOG_LEVELS.has(level as BgpLogLevel) ? (level as BgpLogLevel) : undefined);

/** Many updates arrive together (a snapshot, a host joining): render once they settle. */
const SETTLE_MS = 20;

/**
 * Keeps BIRD's configuration in step with the BGP part of the data model. It folds the syncer's
 * typed updates (the BGP settings, this host's blocks and the pools; it ignores the rest) into one
 * model, and after each batch renders both families' configurations and hands them to
 * their targets, which reload BIRD only when the text changed. Nothing is rendered before the
 * first snapshot, so a restarted agent keeps BIRD's old configuration (and so its routes) until
 * it knows the new one.
 */
export class BgpController {
  private defaultAs: string | undefined;
  private nodeMesh = true;
  private globalLogLevel: string | undefined;
  private readonly hostLogLevels = new Map<string, string>();
  private readonly globalPeers = new Map<string, Peer>();
  private readonly nodePeers = new Map<string, Peer>();
  private readonly hosts = new Map<string, { ipv4?: string; ipv6?: string; asNum?: string }>();
  private readonly blocks = new Set<string>();
  private readonly pools = new Map<string, PoolInfo>();
  private synced = false;
  private timer: NodeJS.Timeout | undefined;
  private rendering: Promise<void> = Promise.resolve();

  constructor(
    private readonly hostname: string,
    private readonly self: { readonly ipv4?: string; readonly ipv6?: string },
    private readonly targets: Partial<Record<Family, BirdTarget>>,
    private readonly log: Logger,
  ) {}

  /**
   * A snapshot's changes (the syncer sends only what differs from what it delivered before,
   * deletions included), then the first render.
   */
  resync(updates: readonly DatastoreUpdate[]): void {
    for (const update of updates) this.fold(update);
    this.synced = true;
    this.schedule();
  }

  update(updates: readonly DatastoreUpdate[]): void {
    let relevant = false;
    for (const update of updates) relevant = this.fold(update) || relevant;
    if (relevant) this.schedule();
  }

  /** The model as it stands, e.g. for tests and `calicoctl status`. */
  model(): BgpModel {
    const hosts: BgpHost[] = [...this.hosts].map(([hostname, h]) => ({ hostname, ...h }));
    const me = this.hosts.get(this.hostname);
    const nodeLevel = asLogLevel(this.hostLogLevels.get(this.hostname));
    const globalLevel = asLogLevel(this.globalLogLevel);
    return {
      // This node's addresses are the ones it was started with, as v0.23's IP and IP6.
      self: { hostname: this.hostname, ...this.self, ...(me?.asNum !== undefined && { asNum: me.asNum }) },
      hosts,
      defaultAs: this.defaultAs ?? '64511',
      nodeMesh: this.nodeMesh,
      globalPeers: [...this.globalPeers.values()],
      nodePeers: [...this.nodePeers.values()],
      pools: [...this.pools.values()],
      blocks: [...this.blocks],
      ...(globalLevel !== undefined && { globalLogLevel: globalLevel }),
      ...(nodeLevel !== undefined && { nodeLogLevel: nodeLevel }),
    };
  }

  /** Resolves when everything scheduled so far has been rendered and handed over. */
  async settled(): Promise<void> {
    while (this.timer) await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    await this.rendering;
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Records one update; false for those that do not shape BIRD's configuration. */
  private fold(update: DatastoreUpdate): boolean {
    switch (update.kind) {
      case 'pool': {
        const id = `${update.version}/${update.name}`;
        if (update.pool === undefined) this.pools.delete(id);
        else this.pools.set(id, { cidr: cidrNetworkText(update.pool.cidr), disabled: update.pool.disabled === true, ipip: update.pool.ipip === true });
        return true;
      }
      case 'bgpDefaultAs':
        this.defaultAs = update.asNum;
        return true;
      case 'bgpNodeMesh':
        this.nodeMesh = update.enabled;
        return true;
      case 'bgpLogLevel':
        if (update.hostname === undefined) this.globalLogLevel = update.level;
        else if (update.level === undefined) this.hostLogLevels.delete(update.hostname);
        else this.hostLogLevels.set(update.hostname, update.level);
        return true;
      case 'bgpPeer': {
        if (update.hostname !== undefined && update.hostname !== this.hostname) return false;
        const peers = update.hostname === undefined ? this.globalPeers : this.nodePeers;
        if (update.peer) peers.set(update.ip, update.peer);
        else peers.delete(update.ip);
        return true;
      }
      case 'bgpHostIp':
      case 'bgpHostAs': {
        const host = { ...(this.hosts.get(update.hostname) ?? {}) };
        if (update.kind === 'bgpHostAs') host.asNum = update.asNum;
        else if (update.version === 4) host.ipv4 = update.ip;
        else host.ipv6 = update.ip;
        if (host.ipv4 === undefined && host.ipv6 === undefined && host.asNum === undefined) this.hosts.delete(update.hostname);
        else this.hosts.set(update.hostname, host);
        return true;
      }
      case 'blockAffinity':
        if (update.hostname !== this.hostname) return false;
        if (update.present) this.blocks.add(update.cidr);
        else this.blocks.delete(update.cidr);
        return true;
      default:
        return false;
    }
  }

  private schedule(): void {
    if (!this.synced || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.rendering = this.rendering.then(() => this.render());
    }, SETTLE_MS);
    this.timer.unref?.();
  }

  private async render(): Promise<void> {
    const model = this.model();
    for (const family of [4, 6] as const) {
      const target = this.targets[family];
      if (!target) continue;
      try {
        await target.configure(renderBirdConfig(model, family));
      } catch (error) {
        this.log.error(`Could not configure BIRD for IPv${family}: ${(error as Error).message}`);
      }
    }
  }
}
