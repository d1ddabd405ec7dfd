import { DEFAULT_TIMEOUT_MS, type EtcdSettings, etcdSettings } from '../datastore/config';
import type { ContainerRuntime } from '../docker/containers';
import type { CommandRunner } from '../host/exec';
import { DryRunKvStore } from '../datastore/dry-run';
import type { HostFacts } from '../host/facts';
import { environmentWithConfig } from './config';
import { EndpointStore } from '../datastore/endpoints';
import { type CorruptReporter, reportOnce } from '../datastore/errors';
import type { KvStore } from '../datastore/kv';
import { ProfileStore } from '../datastore/profiles';
import type { NetworkLister } from '../docker/engine';
import { NetworkDirectory } from '../docker/networks';
import type { HostSystem } from './host-system';
import type { Answer } from './errors';
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
  readonly openKv: (settings: EtcdSettings, trace?: (line: string) => void) => KvStore;
  readonly openDocker: (env: Environment, timeoutMs: number, trace?: (line: string) => void) => NetworkLister;
  /** Container management (dockerode), only for `node`, `status` and `diags`. */
  readonly openContainers: (timeoutMs: number) => ContainerRuntime;
  readonly host: HostFacts;
  readonly runner: CommandRunner;
  /** Files and processes: pid files, the agent's process and log, the diags bundle. */
  readonly system: HostSystem;
  /** How to run the agent as a host process: node and the path of bin/calico-node. */
  readonly agentCommand: readonly string[];
}

export interface GlobalOptions {
  readonly debug: boolean;
  readonly timeout?: string;
  /** -c/--config: a config file; undefined means the default one, if it exists. */
  readonly config?: string;
  /** Colour on this terminal (already decided from the TTY, NO_COLOR, TERM and --no-color). */
  readonly color: boolean;
  /** -l debug (or --debug): every etcd and Docker call on stderr. */
  readonly trace: boolean;
  /** --dry-run of a command that writes: describe the writes, make none. */
  readonly dryRun: boolean;
}

/**
 * What every command's run() is given: the outside world (deps), the global options, and clients
 * opened on first use, so that --help, `version --client` and every grammar error touch neither
 * etcd nor Docker. One per invocation; main closes it when the command ends.
 */
export class CommandContext {
  private kvStore: KvStore | undefined;
  private cachedSettings: EtcdSettings | undefined;
  private mergedEnv: Environment | undefined;
  private directory: Promise<NetworkDirectory> | undefined;
  private engine: NetworkLister | undefined;
  private containerRuntime: ContainerRuntime | undefined;
  private concluded: Answer | undefined;

  /**
   * Where stored values that do not decode are reported: this command's stderr, once each, so that
   * a listing names each bad key one time and the warning goes where the command's output goes.
   */
  readonly report: CorruptReporter = reportOnce((message) => this.io.err.write(`Warning: ${message}.\n`));

  /** `options` is read when a command runs: the root flags are parsed by then. */
  constructor(
    readonly deps: Deps,
    private readonly globalOptions: () => GlobalOptions,
  ) {}

  get options(): GlobalOptions {
    return this.globalOptions();
  }

  /** What a command that answers a question concluded (src/cli/errors.ts turns it into the exit code). */
  get answer(): Answer | undefined {
    return this.concluded;
  }

  conclude(answer: Answer): void {
    this.concluded = answer;
  }

  get io(): IO {
    return this.deps.io;
  }

  /** The environment, with the config file's settings under it (a set variable wins). */
  get env(): Environment {
    this.mergedEnv ??= environmentWithConfig(this.deps.env, this.deps.host, this.options.config);
    return this.mergedEnv;
  }

  settings(): EtcdSettings {
    this.cachedSettings ??= etcdSettings(this.env, this.options.timeout);
    return this.cachedSettings;
  }

  kv(): KvStore {
    if (!this.kvStore) {
      const store = this.deps.openKv(this.settings(), this.trace());
      this.kvStore = this.options.dryRun ? new DryRunKvStore(store, (line) => this.io.out.write(`${line}\n`)) : store;
    }
    return this.kvStore;
  }

  /** Where -l debug sends each etcd and Docker call. */
  trace(): ((line: string) => void) | undefined {
    return this.options.trace ? (line) => this.io.err.write(`debug: ${line}\n`) : undefined;
  }

  profiles(): ProfileStore {
    return new ProfileStore(this.kv(), this.report);
  }

  endpoints(): EndpointStore {
    return new EndpointStore(this.kv(), this.report);
  }

  /** The light Docker Engine client (network listing, version). */
  dockerEngine(): NetworkLister {
    this.engine ??= this.deps.openDocker(this.env, this.timeoutMs(), this.trace());
    return this.engine;
  }

  containers(): ContainerRuntime {
    this.containerRuntime ??= this.deps.openContainers(this.timeoutMs());
    return this.containerRuntime;
  }

  /** Docker's networks, listed once per command. */
  networks(): Promise<NetworkDirectory> {
    this.directory ??= (async () => new NetworkDirectory(await this.dockerEngine().listNetworks()))();
    return this.directory;
  }

  /** The request bound, also when the etcd settings themselves are invalid. */
  private timeoutMs(): number {
    try {
      return this.settings().timeoutMs;
    } catch {
      return DEFAULT_TIMEOUT_MS;
    }
  }

  close(): void {
    this.kvStore?.close();
  }
}
