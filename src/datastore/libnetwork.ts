import { libnetworkKey } from './keys';
import type { KvStore } from './kv';

export { libnetworkKey };

/** The network driver's own record of each network: the CreateNetwork request, as Calico kept it. */
export class NetworkRecords {
  constructor(private readonly kv: KvStore) {}

  async put(networkId: string, request: unknown): Promise<void> {
    await this.kv.commit([], [{ type: 'put', key: libnetworkKey(networkId), value: JSON.stringify(request) }]);
  }

  /** The stored request, or undefined when there is none or it is not JSON. */
  async get(networkId: string): Promise<unknown> {
    const stored = await this.kv.get(libnetworkKey(networkId));
    if (!stored) return undefined;
    try {
      return JSON.parse(stored.value) as unknown;
    } catch {
      return undefined;
    }
  }

  async remove(networkId: string): Promise<void> {
    await this.kv.commit([], [{ type: 'delete', key: libnetworkKey(networkId) }]);
  }
}
