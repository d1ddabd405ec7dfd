import { type AgentStatus, PID_FILE, PROCESS_FILE, STATE_DIR, STATUS_FILE } from '../../../agent/contract';
import type { CommandContext } from '../../context';
import { CommandError } from '../../errors';
import type { OptionSpec } from '../../spec';
import { type Backend, CONTAINER_NAME, SETTINGS_LABEL } from './plan';

/** Finding this host's agent, whichever runtime started it: for node, status and version. */

/** This host's name in etcd: $HOSTNAME (environment or config file), else the system's. */
export function thisHostname(ctx: CommandContext): string {
  return ctx.env.HOSTNAME || ctx.deps.host.hostname();
}

/** `node --backend` and `status --backend`: v0.23's three words; gobgp is refused with a reason, not as a usage error. */
export const BACKEND_OPTION: OptionSpec = {
  flags: '--backend <BACKEND>',
  description: 'how routes reach the other hosts: bird (BGP) or none (policy only); gobgp is not available (default: bird, or none when CALICO_NETWORKING=false)',
  choices: ['bird', 'gobgp', 'none'],
};

/** --backend, else the deprecated CALICO_NETWORKING (false: none, anything else: bird), else bird. */
export function networkingBackend(ctx: CommandContext, given: 'bird' | 'gobgp' | 'none' | undefined): Backend {
  if (given === 'gobgp') throw new CommandError('The gobgp backend is not available in this calico-node: use --backend=bird or --backend=none.');
  if (given !== undefined) return given;
  const legacy = ctx.env.CALICO_NETWORKING;
  if (legacy === undefined || legacy === '') return 'bird';
  ctx.io.err.write("WARNING: CALICO_NETWORKING will be deprecated: use '--backend' instead\n");
  return legacy.toLowerCase() === 'false' ? 'none' : 'bird';
}

export interface RunningAgent {
  readonly runtime: 'docker' | 'process';
  readonly description: string;
  readonly settings?: string;
  readonly since?: string;
}

/** The agent running on this host, whichever way it was started. */
export async function runningAgent(ctx: CommandContext): Promise<RunningAgent | undefined> {
  const recorded = readProcessFile(ctx);
  if (recorded && ctx.deps.system.isAlive(recorded.pid)) {
    return { runtime: 'process', description: `process ${recorded.pid}`, settings: recorded.settings, since: recorded.startedAt };
  }
  let container;
  try {
    container = await ctx.containers().inspect(CONTAINER_NAME);
  } catch {
    return undefined; // no Docker: no container agent
  }
  if (container?.running) {
    return {
      runtime: 'docker',
      description: `container ${CONTAINER_NAME}, image ${container.image}`,
      ...(container.labels[SETTINGS_LABEL] !== undefined && { settings: container.labels[SETTINGS_LABEL] }),
      since: container.startedAt,
    };
  }
  return undefined;
}

export interface ProcessRecord {
  readonly pid: number;
  readonly settings?: string;
  readonly startedAt?: string;
}

/** What `node --runtime=process` recorded: the pid, and a fingerprint of its settings. */
export function readProcessFile(ctx: CommandContext): ProcessRecord | undefined {
  const text = ctx.deps.host.readFile(PROCESS_FILE) ?? ctx.deps.host.readFile(PID_FILE);
  if (text === undefined) return undefined;
  try {
    const parsed = JSON.parse(text) as ProcessRecord | number;
    return typeof parsed === 'number' ? { pid: parsed } : parsed;
  } catch {
    return undefined;
  }
}

/** What the agent last reported (its version, its last dataplane apply), if it has written its file. */
export function readAgentStatus(ctx: CommandContext): Partial<AgentStatus> | undefined {
  const text = ctx.deps.host.readFile(`${STATE_DIR}/${STATUS_FILE}`);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as Partial<AgentStatus>;
  } catch {
    return undefined; // being replaced: it is written to a temporary file and renamed
  }
}
