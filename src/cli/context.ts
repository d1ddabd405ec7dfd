import { type EtcdSettings, etcdSettings } from '../datastore/config';
import { EndpointStore } from '../datastore/endpoints';
import type { KvStore } from '../datastore/kv';
import { ProfileStore } from '../datastore/profiles';
import type { NetworkLister } from '../docker/engine';
import { NetworkDirectory } from '../docker/networks';
import type { IO } from './io';

export type Environment = Readonly<Record<string, string | undefined>>;

/**
 * Everything a command needs from the outside world. Clients are built by factories, so that
 * `--help`, `version` and every grammar error run without touching etcd or Docker, and tests pass
 * in-memory fakes.
 */
export interface Deps {
  readonly io: IO;
  readonly env: Environment;
  readonly version: string;
  readonly openKv: (settings: EtcdSettings) => KvStore;
  readonly openDocker: (env: Environment, timeoutMs: number) => NetworkLister;
}

export interface GlobalOptions {
  readonly debug: boolean;
  readonly timeout?: string;
}

/** Per-invocation access to lazily opened clients; closed by main when the command ends. */
export class Context {
  private kvStore: KvStore | undefined;
  private cachedSettings: EtcdSettings | undefined;
  private directory: Promise<NetworkDirectory> | undefined;

  constructor(
    readonly deps: Deps,
    readonly options: GlobalOptions,
  ) {}

  get io(): IO {
    return this.deps.io;
  }

  settings(): EtcdSettings {
    this.cachedSettings ??= etcdSettings(this.deps.env, this.options.timeout);
    return this.cachedSettings;
  }

  kv(): KvStore {
    this.kvStore ??= this.deps.openKv(this.settings());
    return this.kvStore;
  }

  profiles(): ProfileStore {
    return new ProfileStore(this.kv());
  }

  endpoints(): EndpointStore {
    return new EndpointStore(this.kv());
  }

  /** Docker's networks, listed once per command. */
  networks(): Promise<NetworkDirectory> {
    this.directory ??= (async () => {
      const timeoutMs = this.settings().timeoutMs;
      return new NetworkDirectory(await this.deps.openDocker(this.deps.env, timeoutMs).listNetworks());
    })();
    return this.directory;
  }

  close(): void {
    this.kvStore?.close();
  }
}
