import { Command } from 'commander';
import { readAgentStatus, runningAgent } from './node-agent';
import type { Session } from './session';

/** `calicoctl version`: this client, the agent on this host, and the etcd cluster. Exit 1 if etcd cannot be asked. */
export function makeVersionCommand(session: Session): Command {
  return new Command('version')
    .description("Print the versions of calicoctl, of this host's agent and of the etcd cluster")
    .option('--client', 'only the client version (no etcd or Docker access)')
    .action(async (options: { client?: boolean }) => {
      const ctx = session.context();
      if (options.client) {
        ctx.io.out.write(`${session.deps.version}\n`);
        return;
      }
      ctx.io.out.write(`Client Version:    ${session.deps.version}\n`);
      const agent = await runningAgent(ctx).catch(() => undefined);
      const agentVersion = agent ? readAgentStatus(ctx)?.version ?? 'unknown' : 'not running';
      ctx.io.out.write(`Agent Version:     ${agentVersion}\n`);
      const etcd = await ctx.kv().serverVersion();
      ctx.io.out.write(`Cluster Version:   etcd ${etcd}\n`);
    });
}
