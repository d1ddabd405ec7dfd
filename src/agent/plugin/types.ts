import { CalicoError } from '../../errors';
import type { KvStore } from '../../datastore/kv';
import type { Logger } from '../log';
import type { LinkManager } from './links';
import type { EngineInfo, ScopeMemory } from './scope';

export interface PluginContext {
  readonly kv: KvStore;
  readonly hostname: string;
  readonly links: LinkManager;
  /** This host's Docker Engine: whether it has a cluster store decides the networks' scope. */
  readonly engine: EngineInfo;
  /** The last scope the engine gave, for when it cannot answer in time (dockerd starting). */
  readonly scopeMemory?: ScopeMemory;
  readonly log: Logger;
}

/** A plugin call: the decoded JSON request in, the JSON response out. */
export type Handler = (request: Record<string, unknown>) => Promise<object>;
export type Handlers = Record<string, Handler>;

/** A request the plugin refuses; its message goes back to Docker (and so to the user) as `Err`. */
export class PluginError extends CalicoError {
  readonly code = 'plugin';
  constructor(message: string) {
    super(message);
    this.name = 'PluginError';
  }
}
