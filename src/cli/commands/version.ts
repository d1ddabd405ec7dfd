import { command } from '../spec';
import { readAgentStatus, runningAgent } from './node/agent';

/** `calicoctl version`: this client, the agent on this host, and the etcd cluster. Exit 1 if etcd cannot be asked. */
export default command<{ client?: boolean }>({
  path: ['version'],
  summary: "Print the versions of calicoctl, of this host's agent and of the etcd cluster",
  options: [{ flags: '--client', description: 'only the client version (no etcd or Docker access)' }],
  writes: false,
  async run(options, ctx) {
    if (options.client) {
      ctx.io.out.write(`${ctx.deps.version}\n`);
      return;
    }
    ctx.io.out.write(`Client Version:    ${ctx.deps.version}\n`);
    const agent = await runningAgent(ctx).catch(() => undefined);
    const agentVersion = agent ? readAgentStatus(ctx)?.version ?? 'unknown' : 'not running';
    ctx.io.out.write(`Agent Version:     ${agentVersion}\n`);
    const etcd = await ctx.kv().serverVersion();
    ctx.io.out.write(`Cluster Version:   etcd ${etcd}\n`);
  },
});
