import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import type { CommandRunner } from '../../host/exec';
import type { Logger } from '../log';
import { isValidInterface, ROUTE_PROTOCOL } from './names';
import type { Route } from './state';

export interface RouteApplyResult {
  /** Routes whose interface does not exist yet (Docker creates it at Join): retry later. */
  readonly pending: number;
}

/**
 * Per-endpoint host programming: a /32 (or /128) route and a permanent neighbour entry through the
 * endpoint's cali interface, proxy ARP (so the container's 169.254.1.1 resolves to the host),
 * strict reverse-path filtering (source-address anti-spoofing), and a blackhole route per IP pool
 * so that traffic to an unassigned pool address never leaves the host.
 */
export class RouteApplier {
  private readonly programmed = new Map<string, Route>();
  private readonly configuredInterfaces = new Set<string>();
  private blackholes = new Set<string>();

  constructor(
    private readonly runner: CommandRunner,
    private readonly log: Logger,
    private readonly sysctlRoot = '/proc/sys',
    private readonly interfaceExists: (iface: string) => boolean = (iface) => existsSync(`/sys/class/net/${iface}`),
  ) {}

  /** Learns the routes an earlier run left, so that those no longer wanted are removed. */
  async loadExisting(): Promise<void> {
    for (const family of [4, 6] as const) {
      const text = await this.runner.run('ip', [`-${family}`, 'route', 'show', 'proto', ROUTE_PROTOCOL]);
      for (const line of text.split('\n')) {
        const route = /^(\S+) dev (\S+)/.exec(line);
        if (route && isValidInterface(route[2] as string)) {
          const net = (route[1] as string).includes('/') ? (route[1] as string) : `${route[1]}/${family === 4 ? 32 : 128}`;
          this.programmed.set(`${route[2]} ${net}`, { family, iface: route[2] as string, net, mac: '' });
        }
        const blackhole = /^blackhole (\S+)/.exec(line);
        if (blackhole) this.blackholes.add(blackhole[1] as string);
      }
    }
  }

  async apply(routes: readonly Route[], pools: readonly string[]): Promise<RouteApplyResult> {
    const batch: Record<4 | 6, string[]> = { 4: [], 6: [] };
    const wanted = new Map(routes.map((route) => [`${route.iface} ${route.net}`, route]));
    // Exactly the routes this pass writes. Whether an interface exists is asked once per route:
    // the plugin creates interfaces concurrently (Docker's Join), so a second look could find one
    // that this pass skipped, and a route recorded as programmed is never written again.
    const written: [string, Route][] = [];
    let pending = 0;

    for (const [key, route] of wanted) {
      if (this.programmed.has(key) && this.programmed.get(key)?.mac === route.mac) continue;
      if (!this.interfaceExists(route.iface)) {
        pending++;
        continue;
      }
      await this.configureInterface(route.iface);
      const address = route.net.split('/')[0] as string;
      batch[route.family].push(`route replace ${route.net} dev ${route.iface} proto ${ROUTE_PROTOCOL}`);
      batch[route.family].push(`neigh replace ${address} lladdr ${route.mac} dev ${route.iface} nud permanent`);
      written.push([key, route]);
    }
    const removed: Route[] = [];
    for (const [key, route] of this.programmed) {
      if (wanted.has(key)) continue;
      removed.push(route);
      // The kernel drops a device's routes with the device; only live ones need deleting.
      if (this.interfaceExists(route.iface)) batch[route.family].push(`route del ${route.net} dev ${route.iface} proto ${ROUTE_PROTOCOL}`);
    }
    for (const pool of pools) if (!this.blackholes.has(pool)) batch[pool.includes(':') ? 6 : 4].push(`route replace blackhole ${pool} proto ${ROUTE_PROTOCOL}`);
    for (const pool of this.blackholes) if (!pools.includes(pool)) batch[pool.includes(':') ? 6 : 4].push(`route del blackhole ${pool} proto ${ROUTE_PROTOCOL}`);

    const failed = new Set<4 | 6>();
    for (const family of [4, 6] as const) {
      if (batch[family].length === 0) continue;
      try {
        await this.runner.run('ip', [`-${family}`, '-force', '-batch', '-'], `${batch[family].join('\n')}\n`);
      } catch (error) {
        // With -force, ip applies every line it can; the family's routes are all tried again next pass.
        this.log.warning(`Some IPv${family} routes could not be programmed: ${(error as Error).message}`);
        failed.add(family);
        pending++;
      }
    }
    for (const [key, route] of written) if (!failed.has(route.family)) this.programmed.set(key, route);
    for (const route of removed) {
      this.programmed.delete(`${route.iface} ${route.net}`);
      await this.forgetConnections(route.net.split('/')[0] as string);
    }
    const live = new Set(routes.map((route) => route.iface));
    for (const iface of this.configuredInterfaces) if (!live.has(iface)) this.configuredInterfaces.delete(iface);
    this.blackholes = new Set(pools);
    return { pending };
  }

  forget(): void {
    this.programmed.clear();
    this.configuredInterfaces.clear();
  }

  private async configureInterface(iface: string): Promise<void> {
    if (this.configuredInterfaces.has(iface)) return;
    // The name was checked against a strict pattern, so it cannot escape /proc/sys/net.
    const settings: [string, string][] = [
      [`net/ipv4/conf/${iface}/rp_filter`, '1'],
      [`net/ipv4/conf/${iface}/proxy_arp`, '1'],
      [`net/ipv4/neigh/${iface}/proxy_delay`, '0'],
    ];
    for (const [path, value] of settings) {
      try {
        await writeFile(`${this.sysctlRoot}/${path}`, value);
      } catch (error) {
        this.log.warning(`Could not set ${path}=${value}: ${(error as Error).message}`);
      }
    }
    this.configuredInterfaces.add(iface);
  }

  /** Flows of a departed address must not live on in conntrack, where a new owner could inherit them. */
  private async forgetConnections(address: string): Promise<void> {
    for (const flag of ['--orig-src', '--orig-dst']) {
      try {
        await this.runner.run('conntrack', ['--delete', flag, address]);
      } catch {
        // conntrack exits non-zero when there was nothing to delete.
      }
    }
  }
}
