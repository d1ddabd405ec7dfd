import { unlinkSync } from 'node:fs';
import { Command } from 'commander';
import type { Context } from './context';
import { CommandError } from './errors';
import { isAlive, readProcessFile, thisHostname } from './node-agent';
import { CONTAINER_NAME, PID_FILE, PROCESS_FILE } from './node-plan';
import type { Session } from './session';

export function makeNodeStopCommand(session: Session): Command {
  return new Command('stop')
    .description('Stop the agent, whichever runtime started it (refused while this host has endpoints, unless --force)')
    .option('--force', 'stop even though containers on this host will lose their policy updates')
    .action(async (options: { force?: boolean }) => stopNode(session.context(), options.force === true));
}

async function stopNode(ctx: Context, force: boolean): Promise<void> {
  if (!ctx.deps.host.isRoot()) throw new CommandError('This command must be run as root.');
  const hostname = thisHostname(ctx);
  const endpoints = await ctx.endpoints().list(hostname);
  if (endpoints.length > 0 && !force) {
    throw new CommandError(`Current host has active endpoints so can't be stopped.  Force with --force (${endpoints.length} endpoints on ${hostname}).`);
  }
  let stopped = false;
  const process = readProcessFile(ctx);
  if (process && isAlive(process.pid)) {
    await stopProcess(process.pid);
    stopped = true;
  }
  removeQuietly(PID_FILE);
  removeQuietly(PROCESS_FILE);
  let container;
  try {
    container = await ctx.containers().inspect(CONTAINER_NAME);
  } catch {
    container = undefined;
  }
  if (container) {
    await ctx.containers().stop(CONTAINER_NAME);
    // Removed too: a stopped `--restart=always` container comes back when dockerd restarts.
    await ctx.containers().remove(CONTAINER_NAME);
    stopped ||= container.running;
  }
  ctx.io.out.write(stopped ? 'Node stopped\n' : 'Calico node was not running.\n');
}

async function stopProcess(pid: number): Promise<void> {
  process.kill(pid, 'SIGTERM');
  for (let waited = 0; waited < 10_000 && isAlive(pid); waited += 100) await new Promise((resolve) => setTimeout(resolve, 100));
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // not there
  }
}
