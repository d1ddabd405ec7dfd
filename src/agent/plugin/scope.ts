import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DockerEngine } from '../../docker/engine';
import type { Logger } from '../log';

/**
 * `local`: each engine has its own networks. `global`: the engines share a cluster store
 * (`dockerd --cluster-store`), so a network made on one host exists on every host, with one ID.
 */
export type Scope = 'local' | 'global';

/** What the plugin asks of this host's Docker Engine (src/docker/engine.ts answers it). */
export interface EngineInfo {
  info(): Promise<{ readonly clusterStore: string }>;
}

/** How long GetCapabilities waits for the engine before answering `local`. */
export const SCOPE_WAIT_MS = 1000;
/**
 * How long one question to the engine may take. Longer than the wait on purpose: while dockerd
 * starts, its socket accepts connections but answers only once it is up, and a late answer is
 * still cached for the next time Docker asks.
 */
export const ENGINE_TIMEOUT_MS = 15_000;

/**
 * The scope the network driver answers in GetCapabilities: `global` when this host's engine has
 * a cluster store, `local` otherwise, so a single host without one works unchanged.
 *
 * dockerd may ask for the capabilities while it is starting, before its API answers (it does when
 * it restores a container on a calico network); waiting for it then would deadlock both. So the
 * engine is asked with a bound (`waitMs`), and a definite answer is kept for good. While there is
 * none, the driver answers what the engine said last time (`memory`, which outlives the agent),
 * else `local`, and asks again next time. One question at a time is in flight, however many calls
 * wait for it.
 */
export class ScopeOracle {
  private known: Scope | undefined;
  private pending: Promise<Scope> | undefined;
  /** What Docker was told while the engine had not said: dockerd keeps it until it restarts. */
  private guessed: Scope | undefined;

  constructor(
    private readonly engine: EngineInfo,
    private readonly log: Logger,
    private readonly waitMs = SCOPE_WAIT_MS,
    private readonly memory?: ScopeMemory,
  ) {}

  /** The scope to answer now. Never rejects, and never takes much longer than `waitMs`. */
  async scope(): Promise<Scope> {
    if (this.known) return this.known;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), this.waitMs);
      timer.unref();
    });
    const answer = await Promise.race([this.ask().catch((error: Error) => error), late]);
    clearTimeout(timer);
    if (answer === 'local' || answer === 'global') return answer;
    const remembered = this.memory?.recall();
    this.guessed = remembered ?? 'local';
    const why = answer === 'late' ? `the Docker engine did not say within ${this.waitMs} ms whether it has a cluster store` : `cannot ask the Docker engine whether it has a cluster store: ${answer.message}`;
    this.log.warning(`Answering scope ${this.guessed} for now${remembered ? ', as the engine said last time' : ''}: ${why}`);
    return this.guessed;
  }

  /** Asks the engine now, so that the answer is likely known before Docker first asks. */
  prime(): void {
    if (this.known) return;
    this.ask().catch((error: Error) => this.log.info(`Cannot ask the Docker engine yet whether it has a cluster store (${error.message}); asking again when Docker asks for the plugin's capabilities`));
  }

  private ask(): Promise<Scope> {
    if (this.pending) return this.pending;
    const pending = this.engine.info().then(
      ({ clusterStore }) => {
        const scope: Scope = clusterStore === '' ? 'local' : 'global';
        this.known = scope;
        this.memory?.remember(scope);
        this.log.info(
          scope === 'global'
            ? `Answering scope global: the Docker engine has the cluster store ${clusterStore}, so networks exist on every host`
            : 'Answering scope local: the Docker engine has no cluster store',
        );
        if (this.guessed !== undefined && this.guessed !== scope) {
          this.log.warning(`Docker was told scope ${this.guessed} before its engine answered, and keeps that until dockerd restarts: networks created on this host meanwhile are ${this.guessed}`);
        }
        return scope;
      },
      (error: Error) => {
        this.pending = undefined;
        throw error;
      },
    );
    this.pending = pending;
    return pending;
  }
}

/** Where the last definite scope is kept between runs of the agent. */
export interface ScopeMemory {
  recall(): Scope | undefined;
  remember(scope: Scope): void;
}

/** A file in the agent's state directory: it outlives agent and dockerd restarts, not a reboot. */
export function fileScopeMemory(stateDir: string): ScopeMemory {
  const file = join(stateDir, 'docker-scope');
  return {
    recall() {
      try {
        const text = readFileSync(file, 'utf8').trim();
        return text === 'global' || text === 'local' ? text : undefined;
      } catch {
        return undefined;
      }
    },
    remember(scope) {
      try {
        mkdirSync(stateDir, { recursive: true });
        writeFileSync(file, `${scope}\n`);
      } catch {
        // Only a hint for the next start: without it, that start falls back to local.
      }
    },
  };
}

/**
 * This host's engine, as DOCKER_HOST names it. A DOCKER_HOST that does not parse is reported when
 * the plugin asks, not at start: the agent serves the plugin and the dataplane either way.
 */
export function hostEngine(env: Readonly<Record<string, string | undefined>>): EngineInfo {
  try {
    return new DockerEngine(env, ENGINE_TIMEOUT_MS);
  } catch (error) {
    return { info: () => Promise.reject(error as Error) };
  }
}
