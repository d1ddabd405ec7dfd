import { PID_FILE, PROCESS_FILE, STATE_DIR } from '../../../agent/contract';
import type { CommandContext } from '../../context';
import { CommandError } from '../../errors';
import type { LaunchedAgent } from './launcher';
import { describePlan, type NodeOptions, type ProcessPlan, settingsHash } from './plan';

/** Runs the agent as a host process, its pid and settings recorded in STATE_DIR for `node stop` and `status`. */
export async function launchProcess(ctx: CommandContext, plan: ProcessPlan, options: NodeOptions): Promise<LaunchedAgent> {
  const { system } = ctx.deps;
  system.mkdir(options.logDir);
  system.mkdir(STATE_DIR);
  const offset = system.fileSize(plan.logFile);
  const [file, ...args] = plan.argv as [string, ...string[]];
  ctx.io.err.write(`Running the agent as a host process:\n${describePlan(plan)}`);
  // Not the password itself, which this environment may hold: the agent reads it from its file (plan.ts).
  const { ETCD_PASSWORD: _, ...inherited } = ctx.deps.env;
  const child = system.spawn(file, args, { env: { ...inherited, ...Object.fromEntries(plan.env) }, detached: options.detach, logFile: plan.logFile });
  const pid = child.pid;
  if (pid === undefined) throw new CommandError(`Could not start ${file}.`);
  let exited = false;
  child.onExit(() => (exited = true));
  system.writeFile(PID_FILE, `${pid}\n`);
  system.writeFile(PROCESS_FILE, `${JSON.stringify({ pid, settings: settingsHash(plan), startedAt: new Date().toISOString(), logFile: plan.logFile })}\n`);
  return {
    started: `Calico node is running as process ${pid} (log: ${plan.logFile})\n`,
    progress: async () => ({ log: system.readFrom(plan.logFile, offset), alive: !exited && system.isAlive(pid) }),
    detach: () => child.unref(),
  };
}
