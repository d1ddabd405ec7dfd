import { writeFile } from 'node:fs/promises';
import type { CommandRunner } from './exec';
import { CommandFailedError } from './exec';

/**
 * Workload veth pairs, through iproute2. Two programs make them: the agent's Docker plugin (Docker
 * then moves the container end into the sandbox) and `calicoctl container add`, which moves it
 * into a running container's network namespace itself. Both must agree on the names, the MAC and
 * the gateway, because the agent's dataplane (src/agent/dataplane/) polices and routes by them.
 */

/** The MAC every container interface gets, so the host's MAC check in the from-chains is simple. */
export const CONTAINER_MAC = 'ee:ee:ee:ee:ee:ee';

/** The next hop every container routes through: proxy ARP on the host veth answers for it. */
export const GATEWAY_IPV4 = '169.254.1.1';

/** Host and temporary veth names: 15 characters at most, as Linux requires. */
export const hostVethName = (endpointId: string): string => `cali${endpointId.slice(0, 11)}`;
export const tempVethName = (endpointId: string): string => `tmp${endpointId.slice(0, 11)}`;

const GONE = /Cannot find device|does not exist/i;

/** Host-side veth management, through iproute2. */
export class LinkManager {
  constructor(protected readonly runner: CommandRunner) {}

  /**
   * Creates the pair `hostName` <-> `containerName`; the container end is then moved into the
   * workload's namespace. A pair left over from an interrupted attempt is replaced.
   */
  async createVeth(hostName: string, containerName: string): Promise<void> {
    await this.deleteLink(hostName);
    await this.deleteLink(containerName);
    await this.runner.run('ip', ['link', 'add', hostName, 'type', 'veth', 'peer', 'name', containerName]);
    await this.runner.run('ip', ['link', 'set', containerName, 'address', CONTAINER_MAC]);
    // The host end's link-local address is the container's IPv6 gateway. Nothing else can hold
    // it, so duplicate address detection would only keep IPv6 containers waiting a second or two.
    try {
      await writeFile(`/proc/sys/net/ipv6/conf/${hostName}/accept_dad`, '0');
    } catch {
      // No IPv6 on this host: nothing to wait for either.
    }
    await this.runner.run('ip', ['link', 'set', hostName, 'up']);
  }

  async setUp(name: string): Promise<void> {
    await this.runner.run('ip', ['link', 'set', name, 'up']);
  }

  /** Deletes a link (and so its peer, wherever that is); a link that is already gone is fine. */
  async deleteLink(name: string): Promise<void> {
    try {
      await this.runner.run('ip', ['link', 'del', name]);
    } catch (error) {
      if (error instanceof CommandFailedError && GONE.test(error.stderr)) return;
      throw error;
    }
  }

  /** Whether this namespace has a link of that name. */
  async exists(name: string): Promise<boolean> {
    try {
      await this.runner.run('ip', ['link', 'show', 'dev', name]);
      return true;
    } catch (error) {
      if (error instanceof CommandFailedError && GONE.test(error.stderr)) return false;
      throw error;
    }
  }

  /** The host end's IPv6 link-local address: the container's IPv6 gateway. */
  async linkLocalAddress(name: string): Promise<string | undefined> {
    const output = await this.runner.run('ip', ['-6', '-o', 'addr', 'show', 'dev', name, 'scope', 'link']);
    return /inet6 (fe80:[0-9a-f:]+)\//.exec(output)?.[1];
  }
}

/**
 * Where a workload's interfaces live: the network namespace of a running process (a container's),
 * or a namespace file such as /var/run/netns/NAME (v0.23's `namespace` workloads). Both nsenter
 * and `ip link set … netns` take either.
 */
export type NamespaceRef = { readonly pid: number } | { readonly path: string };

/**
 * The links of a workload's network namespace, entered with nsenter (`nsenter -t <pid> -n ip …`,
 * `nsenter --net=<path> ip …`): for `calicoctl container`, which sets up the container end of a
 * pair itself. Commands go through the same runner, so they never pass through a shell.
 */
export class NamespaceLinks extends LinkManager {
  constructor(
    runner: CommandRunner,
    readonly namespace: NamespaceRef,
  ) {
    const enter = 'pid' in namespace ? ['-t', String(namespace.pid), '-n'] : [`--net=${namespace.path}`];
    super({ run: (file, args, input) => runner.run('nsenter', [...enter, file, ...args], input) });
    this.root = runner;
  }

  private readonly root: CommandRunner;

  /** Moves `tempName` from the root namespace into this one, names it `iface` and brings it up. */
  async adopt(tempName: string, iface: string): Promise<void> {
    await this.root.run('ip', ['link', 'set', tempName, 'netns', 'pid' in this.namespace ? String(this.namespace.pid) : this.namespace.path]);
    await this.runner.run('ip', ['link', 'set', tempName, 'name', iface]);
    await this.runner.run('ip', ['link', 'set', iface, 'up']);
  }

  /** Adds a host address (/32 or /128) to `iface`; an IPv6 one without duplicate detection, as nothing else can hold it. */
  async addAddress(iface: string, address: string, version: 4 | 6): Promise<void> {
    const args = version === 4 ? ['-4', 'addr', 'add', `${address}/32`, 'dev', iface] : ['-6', 'addr', 'add', `${address}/128`, 'dev', iface, 'nodad'];
    await this.runner.run('ip', args);
  }

  async removeAddress(iface: string, address: string, version: 4 | 6): Promise<void> {
    await this.runner.run('ip', [`-${version}`, 'addr', 'del', `${address}/${version === 4 ? 32 : 128}`, 'dev', iface]);
  }

  /**
   * Sends the family's traffic out of `iface`: to 169.254.1.1 (IPv4, answered by the host end's
   * proxy ARP) or to the host end's link-local address (IPv6). The default route is replaced, as
   * v0.23 did, so a container on Docker's bridge also reaches Calico addresses on other hosts.
   */
  async routeVia(iface: string, version: 4 | 6, gateway: string): Promise<void> {
    if (version === 4) await this.runner.run('ip', ['-4', 'route', 'replace', GATEWAY_IPV4, 'dev', iface, 'scope', 'link']);
    await this.runner.run('ip', [`-${version}`, 'route', 'replace', 'default', 'via', gateway, 'dev', iface]);
  }
}
