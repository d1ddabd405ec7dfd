import { unlinkSync } from 'node:fs';
import { PID_FILE, PROCESS_FILE } from '../../../agent/contract';
import type { CommandContext } from '../../context';
import { CommandError } from '../../errors';
import { command } from '../../spec';
import { isAlive, readProcessFile, thisHostname } from './agent';
import { CONTAINER_NAME } from './plan';

export default command<{ force?: boolean }>({
  path: ['node', 'stop'],
  summary: 'Stop the agent, whichever runtime started it (refused while this host has endpoints, unless --force)',
  options: [{ flags: '--force', description: 'stop even though containers on this host will lose their policy updates' }],
  writes: false,
  run: (options, ctx) => stopNode(ctx, options.force === true),
});

async function stopNode(ctx: CommandContext, force: boolean): Promise<void> {
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
