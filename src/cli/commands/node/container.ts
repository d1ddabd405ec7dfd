import { STATE_DIR } from '../../../agent/contract';
import type { CommandContext } from '../../context';
import { CommandError } from '../../errors';
import { progress } from '../../progress';
import type { LaunchedAgent } from './launcher';
import { CONTAINER_NAME, type ContainerPlan, describePlan, type NodeOptions } from './plan';

/** Runs the agent as the container calico-node, pulling its image first unless --no-pull. */
export async function launchContainer(ctx: CommandContext, plan: ContainerPlan, options: NodeOptions): Promise<LaunchedAgent> {
  const containers = ctx.containers();
  if (!(await containers.imageExists(options.image))) {
    if (options.noPull) {
      throw new CommandError(`The image ${options.image} is not on this host and --no-pull was given. Build it offline with scripts/build-node-image.`);
    }
    const done = progress(ctx.io, `Pulling Docker image ${options.image}`);
    try {
      await containers.pull(options.image);
    } catch (error) {
      throw new CommandError(`${(error as Error).message}. Build it offline with scripts/build-node-image, or give --node-image.`);
    } finally {
      done();
    }
  }
  ctx.deps.system.mkdir(options.logDir);
  ctx.deps.system.mkdir(STATE_DIR);
  await containers.remove(CONTAINER_NAME); // a stopped leftover would block the name
  ctx.io.err.write(`Running the agent as a container:\n${describePlan(plan)}`);
  const id = await containers.run(plan.spec);
  return {
    started: `Calico node is running with id: ${id.slice(0, 12)}\n`,
    progress: async () => {
      const state = await containers.inspect(CONTAINER_NAME);
      return { log: await containers.logs(CONTAINER_NAME), alive: state?.running === true };
    },
    detach: () => undefined, // dockerd keeps it running
  };
}
