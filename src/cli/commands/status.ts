import type { AgentStatus } from '../../agent/contract';
import { type Palette, palette } from '../color';
import type { CommandContext } from '../context';
import { CommandError } from '../errors';
import { isDataFormat, OUTPUT_OPTION, type OutputFormat, renderData } from '../output';
import { command } from '../spec';
import { printable } from '../printable';
import { type BgpStatus, collectBgpStatus, describeBgpStatus } from './bgp-status';
import { BACKEND_OPTION, networkingBackend, readAgentStatus, runningAgent, thisHostname } from './node/agent';
import { checkRuntime, RUNTIME_CHECK_OPTION } from './node/legacy';
import type { Backend } from './node/plan';

/** `calicoctl status`: is the agent running, can etcd be reached, and did the last dataplane apply work. */
export default command<{ backend?: 'bird' | 'gobgp' | 'none'; output: OutputFormat; runtime?: string }>({
  path: ['status'],
  summary: "Show whether the Calico agent runs on this host, how it is doing, and BIRD's BGP sessions (exit 1 when it is not running)",
  options: [BACKEND_OPTION, OUTPUT_OPTION, RUNTIME_CHECK_OPTION],
  writes: false,
  async run(options, ctx) {
    checkRuntime(options.runtime);
    const report = await collectStatus(ctx, networkingBackend(ctx, options.backend));
    if (isDataFormat(options.output)) ctx.io.out.write(renderData(options.output, report));
    else ctx.io.out.write(describeStatus(report, palette(ctx.options.color)));
    if (!report.agent.running) throw new CommandError('calico-node is not running: start it with calicoctl node.');
    if (!report.etcd.reachable) throw new CommandError('etcd is not reachable.');
  },
});

/** The documented shape of `status -o json|yaml`. */
export interface StatusReport {
  readonly agent: { running: boolean; runtime?: 'docker' | 'process'; description?: string; since?: string };
  readonly etcd: { reachable: boolean; endpoints: string[]; version?: string; error?: string };
  readonly host: { name: string; endpoints?: number; profiles?: number };
  readonly dataplane: { lastApply?: AgentStatus['lastApply'] };
  /** This host's BGP address and AS per IP family and BIRD's sessions; absent when etcd could not be read. */
  readonly bgp?: BgpStatus;
}

async function collectStatus(ctx: CommandContext, backend: Backend): Promise<StatusReport> {
  const agent = await runningAgent(ctx);
  const hostname = thisHostname(ctx);
  const endpoints = ctx.settings().endpoints;
  let etcd: StatusReport['etcd'];
  let host: StatusReport['host'] = { name: hostname };
  let bgp: BgpStatus | undefined;
  try {
    const version = await ctx.kv().serverVersion();
    etcd = { reachable: true, endpoints: [...endpoints], version };
    const [local, profiles, routing] = await Promise.all([ctx.endpoints().list(hostname), ctx.profiles().list(), collectBgpStatus(ctx, hostname, backend, agent?.runtime)]);
    host = { name: hostname, endpoints: local.length, profiles: profiles.length };
    bgp = routing;
  } catch (error) {
    etcd = { reachable: false, endpoints: [...endpoints], error: (error as Error).message };
  }
  const lastApply = readAgentStatus(ctx)?.lastApply;
  return {
    agent: agent ? { running: true, runtime: agent.runtime, description: agent.description, ...(agent.since && { since: agent.since }) } : { running: false },
    etcd,
    host,
    dataplane: lastApply ? { lastApply } : {},
    ...(bgp && { bgp }),
  };
}

function describeStatus(report: StatusReport, colors: Palette): string {
  const lines: string[] = [];
  const { agent, etcd, host, dataplane } = report;
  lines.push(
    agent.running
      ? `calico-node is ${colors.green('running')} as a ${agent.runtime === 'docker' ? 'container' : 'host process'} (${agent.description}${agent.since ? `, since ${agent.since}` : ''}).`
      : `calico-node is ${colors.red('not running')}.`,
  );
  lines.push(etcd.reachable ? `etcd: reachable at ${etcd.endpoints.join(',')} (etcd ${etcd.version}).` : `etcd: not reachable: ${etcd.error}`);
  if (host.endpoints !== undefined) {
    lines.push(`Host ${host.name}: ${host.endpoints} endpoint${host.endpoints === 1 ? '' : 's'}; ${host.profiles} profile${host.profiles === 1 ? '' : 's'} in etcd.`);
  }
  const last = dataplane.lastApply;
  if (!last) lines.push('Dataplane: not applied yet.');
  else if (last.ok) lines.push(`Dataplane: last applied at ${last.at} (ok, ${last.durationMs} ms).`);
  else lines.push(`Dataplane: the last apply at ${last.at} ${colors.red('FAILED')}: ${last.error ?? 'unknown error'}`);
  // Each item the kernel refused (the rest was applied), as the agent reported it.
  for (const failure of last?.failures ?? []) lines.push(`  ${printable(failure.item)}: ${printable(failure.error)}`);
  return lines.map((line) => `${line}\n`).join('') + (report.bgp ? describeBgpStatus(report.bgp) : '');
}
