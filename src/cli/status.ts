import { Command } from 'commander';
import { STATE_DIR } from './node-plan';
import { runningAgent, thisHostname } from './node';
import type { Session } from './session';
import { CommandError } from './errors';

const STATUS_FILE = `${STATE_DIR}/calico-node.json`;

/** `calicoctl status`: is the agent running, can etcd be reached, and did the last dataplane apply work. */
export function makeStatusCommand(session: Session): Command {
  return new Command('status')
    .description('Show whether the Calico agent runs on this host, and how it is doing (exit 1 when it is not running)')
    .action(async () => {
      const ctx = session.context();
      const out = (line: string) => ctx.io.out.write(`${line}\n`);
      const agent = await runningAgent(ctx);
      out(agent ? `calico-node is running as a ${agent.runtime === 'docker' ? 'container' : 'host process'} (${agent.description}${agent.since ? `, since ${agent.since}` : ''}).` : 'calico-node is not running.');

      let etcdOk = true;
      try {
        const version = await ctx.kv().serverVersion();
        out(`etcd: reachable at ${ctx.settings().endpoints.join(',')} (etcd ${version}).`);
        const hostname = thisHostname(ctx);
        const [endpoints, profiles] = await Promise.all([ctx.endpoints().list(hostname), ctx.profiles().list()]);
        out(`Host ${hostname}: ${endpoints.length} endpoint${endpoints.length === 1 ? '' : 's'}; ${profiles.length} profile${profiles.length === 1 ? '' : 's'} in etcd.`);
      } catch (error) {
        etcdOk = false;
        out(`etcd: not reachable: ${(error as Error).message}`);
      }

      const status = readStatus(ctx.deps.host.readFile(STATUS_FILE));
      if (!status?.lastApply) out('Dataplane: not applied yet.');
      else if (status.lastApply.ok) out(`Dataplane: last applied at ${status.lastApply.at} (ok, ${status.lastApply.durationMs} ms).`);
      else out(`Dataplane: the last apply at ${status.lastApply.at} FAILED: ${status.lastApply.error ?? 'unknown error'}`);

      if (!agent) throw new CommandError('calico-node is not running: start it with calicoctl node.');
      if (!etcdOk) throw new CommandError('etcd is not reachable.');
    });
}

interface StatusFile {
  readonly lastApply?: { readonly at: string; readonly ok: boolean; readonly durationMs: number; readonly error?: string };
}

function readStatus(text: string | undefined): StatusFile | undefined {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as StatusFile;
  } catch {
    return undefined;
  }
}
