import { STARTED_MESSAGE } from '../../../agent/contract';
import type { CommandContext } from '../../context';
import { CommandError } from '../../errors';
import { progress } from '../../progress';
import { launchContainer } from './container';
import type { ContainerPlan, NodeOptions, ProcessPlan } from './plan';
import { launchProcess } from './process';

/** What a running agent shows of itself while `node` waits for it: its log so far, and whether it still runs. */
export interface AgentProgress {
  readonly log: string;
  readonly alive: boolean;
}

/** An agent that has been launched, not yet known to have started. */
export interface LaunchedAgent {
  /** The line `node` prints once the agent reports that it started. */
  readonly started: string;
  progress(): Promise<AgentProgress>;
  /** --detach=true: let calicoctl exit while the agent runs on. */
  detach(): void;
}

/**
 * The seam between `calicoctl node` (checks, host registration: start.ts) and how the agent is
 * run: as the container calico-node (container.ts) or as a host process (process.ts). Both work
 * only through the context's injected clients, so tests run them against fakes.
 */
export interface Launcher {
  runContainer(plan: ContainerPlan, options: NodeOptions): Promise<LaunchedAgent>;
  spawnProcess(plan: ProcessPlan, options: NodeOptions): Promise<LaunchedAgent>;
  /** Resolves once the agent logs STARTED_MESSAGE; fails with the log's tail if it dies or hangs. */
  waitForStart(agent: LaunchedAgent): Promise<void>;
  /** --detach=false: copy the agent's log to stdout until it exits, then fail (it should not exit). */
  follow(agent: LaunchedAgent): Promise<void>;
}

const START_TIMEOUT_MS = 60_000;

export function agentLauncher(ctx: CommandContext, pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))): Launcher {
  return {
    runContainer: (plan, options) => launchContainer(ctx, plan, options),
    spawnProcess: (plan, options) => launchProcess(ctx, plan, options),
    async waitForStart(agent) {
      const done = progress(ctx.io, 'Waiting for calico-node to start');
      try {
        const deadline = Date.now() + START_TIMEOUT_MS;
        for (;;) {
          const { log, alive } = await agent.progress();
          if (log.includes(STARTED_MESSAGE)) return;
          if (!alive || Date.now() > deadline) {
            const tail = log.trim().split('\n').slice(-10).join('\n');
            const why = alive ? `did not report "${STARTED_MESSAGE}" within ${START_TIMEOUT_MS / 1000} s` : 'stopped';
            throw new CommandError(`calico-node ${why}. The end of its log:\n${tail || '(empty)'}`);
          }
          await pause(200);
        }
      } finally {
        done();
      }
    },
    async follow(agent) {
      let shown = 0;
      for (;;) {
        const { log, alive } = await agent.progress();
        ctx.io.out.write(log.slice(shown));
        shown = log.length;
        if (!alive) throw new CommandError('calico-node exited.');
        await pause(500);
      }
    },
  };
}
