import { cidrContains, parseCidr, parseIp } from '../policy/cidr';
import { type CorruptReporter, warnOnStderr } from './errors';
import { IpamStore } from './ipam';
import { tunnelAddressKey } from './keys';
import type { KvStore } from './kv';
import { RETRY, untilCommitted } from './retry';

/**
 * A host's IpInIpTunnelAddr: an address from an IPIP pool, assigned through IPAM for the host
 * (so no container ever gets it), stored at the host's config key. The key is written guarded by
 * the revision it was read at: when two writers race, the loser gives its new address back.
 */
export class TunnelAddressStore {
  private readonly ipam: IpamStore;

  constructor(
    private readonly kv: KvStore,
    report: CorruptReporter = warnOnStderr,
  ) {
    this.ipam = new IpamStore(kv, report);
  }

  async get(hostname: string): Promise<string | undefined> {
    return (await this.kv.get(tunnelAddressKey(hostname)))?.value;
  }

  /**
   * Makes sure the host has an address in one of `pools` (IPIP pools' CIDRs) and returns it. An
   * address stored before that lies outside them (the pool lost its flag) is released.
   */
  async ensure(hostname: string, pools: readonly string[]): Promise<string> {
    const cidrs = pools.flatMap((text) => parseCidr(text) ?? []);
    const key = tunnelAddressKey(hostname);
    return untilCommitted(key, async () => {
      const stored = await this.kv.get(key);
      const current = stored?.value;
      if (current !== undefined && parseIp(current)?.version === 4 && cidrs.some((cidr) => cidrContains(cidr, current))) return current;
      const assignment = await this.assignFrom(hostname, pools);
      if (!(await this.kv.commit([{ key, modRevision: stored?.modRevision ?? 0 }], [{ type: 'put', key, value: assignment }]))) {
        await this.ipam.release(assignment);
        return RETRY;
      }
      if (current !== undefined && parseIp(current)) await this.ipam.release(current);
      return assignment;
    });
  }

  /** Releases the host's tunnel address and deletes the key; false when it had none. */
  async remove(hostname: string): Promise<boolean> {
    const key = tunnelAddressKey(hostname);
    return untilCommitted(key, async () => {
      const stored = await this.kv.get(key);
      if (!stored) return false;
      if (!(await this.kv.commit([{ key, modRevision: stored.modRevision }], [{ type: 'delete', key }]))) return RETRY;
      if (parseIp(stored.value)) await this.ipam.release(stored.value);
      return true;
    });
  }

  private async assignFrom(hostname: string, pools: readonly string[]): Promise<string> {
    let last: unknown;
    for (const pool of pools) {
      try {
        return (await this.ipam.assign(4, hostname, pool)).address;
      } catch (error) {
        last = error; // full or disabled: the next IPIP pool may have room
      }
    }
    throw last ?? new Error('no IPIP pool');
  }
}
