import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import type { CommandRunner } from '../../host/exec';
import type { Logger } from '../log';
import { isValidInterface, ROUTE_PROTOCOL } from './contract';
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
  /** Prefixes skipped because a route the agent does not own holds them, each logged once. */
  private readonly foreignLogged = new Set<string>();

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
    // `route replace` takes over a route to the same prefix whoever made it (docker0's network, a
    // static route the operator added), and a later delete would then remove it: so a prefix that
    // is not ours yet is first checked against the kernel's own table, read once per pass and only
    // when something new is to be written.
    const foreign: Record<4 | 6, Set<string> | undefined> = { 4: undefined, 6: undefined };
    const isForeign = async (family: 4 | 6, net: string): Promise<boolean> => {
      foreign[family] ??= await this.foreignPrefixes(family);
      if (!foreign[family].has(net)) {
        this.foreignLogged.delete(net);
        return false;
      }
      if (!this.foreignLogged.has(net)) this.log.warning(`Not routing ${net}: the kernel already has a route to it that calico-node does not own; it is left alone`);
      this.foreignLogged.add(net);
      return true;
    };
    const ownedNets = new Set([...this.programmed.values()].map((route) => route.net));

    for (const [key, route] of wanted) {
      if (this.programmed.has(key) && this.programmed.get(key)?.mac === route.mac) continue;
      if (!this.interfaceExists(route.iface)) {
        pending++;
        continue;
      }
      if (!ownedNets.has(route.net) && (await isForeign(route.family, route.net))) continue;
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
    const blackholes = new Set<string>();
    for (const pool of pools) {
      const family = pool.includes(':') ? 6 : 4;
      if (this.blackholes.has(pool)) blackholes.add(pool);
      else if (!(await isForeign(family, pool))) {
        batch[family].push(`route replace blackhole ${pool} proto ${ROUTE_PROTOCOL}`);
        blackholes.add(pool);
      }
    }
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
    for (const route of removed) this.programmed.delete(`${route.iface} ${route.net}`);
    await this.forgetConnections(removed);
    const live = new Set(routes.map((route) => route.iface));
    for (const iface of this.configuredInterfaces) if (!live.has(iface)) this.configuredInterfaces.delete(iface);
    this.blackholes = blackholes;
    return { pending };
  }

  /** Prefixes in the main table held by a route that is not ours (not `proto 157`). */
  private async foreignPrefixes(family: 4 | 6): Promise<Set<string>> {
    const hostBits = family === 4 ? '/32' : '/128';
    const prefixes = (text: string): string[] =>
      text
        .split('\n')
        .map((line) => line.trim().split(/\s+/))
        .filter((words) => words[0] !== undefined && words[0] !== '')
        .map((words) => {
          // A route type (blackhole, unreachable, …) comes before the destination.
          const dst = /^[0-9a-f:.]/i.test(words[0] as string) || words[0] === 'default' ? (words[0] as string) : (words[1] ?? '');
          if (dst === 'default') return family === 4 ? '0.0.0.0/0' : '::/0';
          return dst.includes('/') ? dst : `${dst}${hostBits}`;
        });
    const [all, ours] = await Promise.all([this.runner.run('ip', [`-${family}`, 'route', 'show']), this.runner.run('ip', [`-${family}`, 'route', 'show', 'proto', ROUTE_PROTOCOL])]);
    const count = new Map<string, number>();
    for (const net of prefixes(all)) count.set(net, (count.get(net) ?? 0) + 1);
    for (const net of prefixes(ours)) count.set(net, (count.get(net) ?? 0) - 1);
    return new Set([...count].filter(([, n]) => n > 0).map(([net]) => net));
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

  /**
   * Forgets the flows of departed addresses, so that a connection the old rules accepted does not
   * outlive them. The table is listed once per family and only addresses that appear in it are
   * deleted: two `conntrack --delete` per address cost 4,000 processes when 2,000 endpoints left at
   * once, minutes on a loaded host with every later change waiting behind them.
   */
  private async forgetConnections(removed: readonly Route[]): Promise<void> {
    for (const family of [4, 6] as const) {
      const addresses = removed.filter((route) => route.family === family).map((route) => route.net.split('/')[0] as string);
      if (addresses.length === 0) continue;
      let present: Set<string> | undefined;
      try {
        const listing = await this.runner.run('conntrack', ['-L', '-f', family === 4 ? 'ipv4' : 'ipv6']);
        present = new Set([...listing.matchAll(/\b(?:src|dst)=(\S+)/g)].map((match) => match[1] as string));
      } catch {
        // No listing: delete for every address, as if each had flows.
      }
      for (const address of addresses) {
        if (present && !present.has(address)) continue;
        for (const flag of ['--orig-src', '--orig-dst']) {
          try {
            await this.runner.run('conntrack', ['--delete', flag, address]);
          } catch {
            // conntrack exits non-zero when there was nothing to delete.
          }
        }
      }
    }
  }
}
