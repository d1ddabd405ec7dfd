import { libnetworkKey } from './keys';
import type { KvStore } from './kv';

export { libnetworkKey };

/** The network driver's own record of each network: the CreateNetwork request, as Calico kept it. */
export class NetworkRecords {
  constructor(private readonly kv: KvStore) {}

  async put(networkId: string, request: unknown): Promise<void> {
    await this.kv.commit([], [{ type: 'put', key: libnetworkKey(networkId), value: JSON.stringify(request) }]);
  }

  async remove(networkId: string): Promise<void> {
    await this.kv.commit([], [{ type: 'delete', key: libnetworkKey(networkId) }]);
  }
}
