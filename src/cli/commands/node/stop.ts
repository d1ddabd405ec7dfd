import { PID_FILE, PROCESS_FILE } from '../../../agent/contract';
import type { CommandContext } from '../../context';
import { CommandError } from '../../errors';
import type { HostSystem } from '../../host-system';
import { command } from '../../spec';
import { readProcessFile, thisHostname } from './agent';
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
  const recorded = readProcessFile(ctx);
  const { system } = ctx.deps;
  if (recorded && system.isAlive(recorded.pid)) {
    await stopProcess(system, recorded.pid);
    stopped = true;
  }
  system.removeFile(PID_FILE);
  system.removeFile(PROCESS_FILE);
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

async function stopProcess(system: HostSystem, pid: number): Promise<void> {
  system.kill(pid, 'SIGTERM');
  for (let waited = 0; waited < 10_000 && system.isAlive(pid); waited += 100) await new Promise((resolve) => setTimeout(resolve, 100));
  if (system.isAlive(pid)) system.kill(pid, 'SIGKILL');
}
