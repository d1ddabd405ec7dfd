import * as keys from './keys';
import type { KvStore } from './kv';
import { RETRY, untilCommitted } from './retry';

/**
 * The low-level settings `calicoctl config` edits: Felix's (`/calico/v1/config/<Name>`, read by
 * calico-node and by any Felix sharing the cluster), the cluster's BGP settings
 * (`/calico/bgp/v1/global/<name>`) and one host's BGP settings (`/calico/bgp/v1/host/<host>/<name>`).
 * Values are stored as the plain text given, as v0.23 stored them.
 */
export type ConfigScope = { readonly component: 'felix' } | { readonly component: 'bgp'; readonly hostname?: string };

/** The key of the setting `name` (its stored name, already mapped from the command's word) in `scope`. */
export function configKey(scope: ConfigScope, name: string): string {
  if (scope.component === 'felix') return keys.globalConfigKey(name);
  return scope.hostname === undefined ? keys.bgpGlobalSettingKey(name) : keys.bgpHostSettingKey(scope.hostname, name);
}

export class ConfigStore {
  constructor(private readonly kv: KvStore) {}

  /** The stored value, or undefined when none is configured. */
  async get(scope: ConfigScope, name: string): Promise<string | undefined> {
    return (await this.kv.get(configKey(scope, name)))?.value;
  }

  async set(scope: ConfigScope, name: string, value: string): Promise<void> {
    // A blind write: the new value replaces whatever was there, so there is nothing to guard.
    await this.kv.commit([], [{ type: 'put', key: configKey(scope, name), value }]);
  }

  /** Resolves false when no value was configured. */
  remove(scope: ConfigScope, name: string): Promise<boolean> {
    const key = configKey(scope, name);
    return untilCommitted(key, async () => {
      const existing = await this.kv.get(key);
      if (!existing) return false;
      // Guarded by the revision read, so the answer (removed or not there) is about one state of the key.
      return (await this.kv.commit([{ key, modRevision: existing.modRevision }], [{ type: 'delete', key }])) ? true : RETRY;
    });
  }
}
