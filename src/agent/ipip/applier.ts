import { existsSync } from 'node:fs';
import { CalicoError } from '../../errors';
import { cidrContains, parseCidr } from '../../policy/cidr';
import type { CommandRunner } from '../../host/exec';
import { TUNNEL_DEVICE, TUNNEL_ROUTE_PROTOCOL } from '../dataplane/contract';
import type { Logger } from '../log';
import type { DesiredTunnel, TunnelRoute } from './tunnel';

/** The kernel cannot make an IPIP device (no `ipip` module, and none can be loaded). */
export class TunnelUnavailableError extends CalicoError {
  readonly code = 'ipip-unavailable';
  constructor(detail: string) {
    super(`This host's kernel has no IPIP support, so ${TUNNEL_DEVICE} cannot be brought up (${detail}). Load it with 'modprobe ipip' on the host.`);
    this.name = 'TunnelUnavailableError';
  }
}

/** Below the usual 1500 by the 20 bytes of the outer IPv4 header. */
export const TUNNEL_MTU = '1440';

/**
 * Makes tunl0, its address and the routes through it match a DesiredTunnel. Thin: every decision
 * is in tunnel.ts. It learns what the kernel has (its own routes by their protocol, tunl0's
 * addresses) on every pass, so a restarted agent or a route deleted by hand is put right.
 */
export class TunnelApplier {
  constructor(
    private readonly runner: CommandRunner,
    private readonly log: Logger,
    private readonly deviceExists: () => boolean = () => existsSync(`/sys/class/net/${TUNNEL_DEVICE}`),
  ) {}

  async apply(desired: DesiredTunnel): Promise<void> {
    const routes = await this.currentRoutes();
    if (!desired.enabled) {
      const lines = routes.map((route) => `route del ${route.net} proto ${TUNNEL_ROUTE_PROTOCOL}`);
      if (lines.length > 0) await this.batch(lines);
      if (!this.deviceExists()) return;
      // tunl0 is the kernel's fallback device, which cannot be deleted: it loses the addresses
      // from our pools and goes down, and only if it had one (else it is not ours to touch).
      const pools = desired.poolNets.flatMap((text) => parseCidr(text) ?? []);
      const ours = (await this.currentAddresses()).filter((address) => pools.some((pool) => cidrContains(pool, address)));
      for (const address of ours) await this.runner.run('ip', ['-4', 'addr', 'del', `${address}/32`, 'dev', TUNNEL_DEVICE]);
      if (ours.length > 0) await this.runner.run('ip', ['link', 'set', TUNNEL_DEVICE, 'down']);
      return;
    }
    await this.ensureDevice();
    await this.runner.run('ip', ['link', 'set', TUNNEL_DEVICE, 'mtu', TUNNEL_MTU, 'up']);
    const addresses = await this.currentAddresses();
    for (const address of addresses) if (address !== desired.address) await this.runner.run('ip', ['-4', 'addr', 'del', `${address}/32`, 'dev', TUNNEL_DEVICE]);
    if (desired.address !== undefined && !addresses.includes(desired.address)) await this.runner.run('ip', ['-4', 'addr', 'add', `${desired.address}/32`, 'dev', TUNNEL_DEVICE]);

    const have = new Map(routes.map((route) => [route.net, route]));
    const want = new Map(desired.routes.map((route) => [route.net, route]));
    const lines: string[] = [];
    for (const [net, route] of want) {
      if (have.get(net)?.via === route.via) continue;
      lines.push(`route replace ${net} via ${route.via} dev ${TUNNEL_DEVICE} onlink proto ${TUNNEL_ROUTE_PROTOCOL}`);
    }
    for (const net of have.keys()) if (!want.has(net)) lines.push(`route del ${net} proto ${TUNNEL_ROUTE_PROTOCOL}`);
    if (lines.length > 0) await this.batch(lines);
  }

  private async ensureDevice(): Promise<void> {
    if (this.deviceExists()) return;
    // Loading the module makes tunl0 in every namespace; inside a container without the host's
    // modules, asking for the device is what may still load it.
    await this.runner.run('modprobe', ['ipip']).catch(() => undefined);
    if (this.deviceExists()) return;
    try {
      await this.runner.run('ip', ['tunnel', 'add', TUNNEL_DEVICE, 'mode', 'ipip']);
    } catch (error) {
      throw new TunnelUnavailableError((error as Error).message.split('\n')[0] as string);
    }
  }

  private async batch(lines: readonly string[]): Promise<void> {
    await this.runner.run('ip', ['-4', '-force', '-batch', '-'], `${lines.join('\n')}\n`);
    this.log.debug(`IPIP: ${lines.join('; ')}`);
  }

  /** `ip -4 route show proto 158`: `10.65.1.0/26 via 10.200.1.1 dev tunl0 onlink`. */
  private async currentRoutes(): Promise<TunnelRoute[]> {
    const text = await this.runner.run('ip', ['-4', 'route', 'show', 'proto', TUNNEL_ROUTE_PROTOCOL]);
    return parseTunnelRoutes(text);
  }

  private async currentAddresses(): Promise<string[]> {
    const text = await this.runner.run('ip', ['-4', '-o', 'addr', 'show', 'dev', TUNNEL_DEVICE]);
    return [...text.matchAll(/\binet (\d+\.\d+\.\d+\.\d+)\//g)].map((m) => m[1] as string);
  }
}

export function parseTunnelRoutes(text: string): TunnelRoute[] {
  const routes: TunnelRoute[] = [];
  for (const line of text.split('\n')) {
    const match = /^(\d+\.\d+\.\d+\.\d+(?:\/\d+)?) via (\S+)/.exec(line);
    if (!match) continue;
    const net = (match[1] as string).includes('/') ? (match[1] as string) : `${match[1]}/32`;
    routes.push({ net, via: match[2] as string });
  }
  return routes;
}
