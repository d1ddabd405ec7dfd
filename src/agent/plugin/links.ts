import { writeFile } from 'node:fs/promises';
import type { CommandRunner } from '../../host/exec';
import { CommandFailedError } from '../../host/exec';

/** The MAC every container interface gets, so the host's MAC check in the from-chains is simple. */
export const CONTAINER_MAC = 'ee:ee:ee:ee:ee:ee';

/** Host-side veth management for the network driver, through iproute2. */
export class LinkManager {
  constructor(private readonly runner: CommandRunner) {}

  /**
   * Creates the pair `hostName` <-> `containerName`; Docker moves the container end into the
   * sandbox and renames it. A pair left over from an interrupted Join is replaced.
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

  /** Deletes a link; a link that is already gone is fine (Docker retries Leave). */
  async deleteLink(name: string): Promise<void> {
    try {
      await this.runner.run('ip', ['link', 'del', name]);
    } catch (error) {
      if (error instanceof CommandFailedError && /Cannot find device|does not exist/i.test(error.stderr)) return;
      throw error;
    }
  }

  /** The host end's IPv6 link-local address: the container's IPv6 gateway. */
  async linkLocalAddress(name: string): Promise<string | undefined> {
    const output = await this.runner.run('ip', ['-6', '-o', 'addr', 'show', 'dev', name, 'scope', 'link']);
    return /inet6 (fe80:[0-9a-f:]+)\//.exec(output)?.[1];
  }
}
