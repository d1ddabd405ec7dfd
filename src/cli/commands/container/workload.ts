import type { Endpoint } from '../../../datastore/endpoints';
import type { ContainerDetails } from '../../../docker/engine';
import { CommandFailedError, type CommandRunner } from '../../../host/exec';
import { LinkManager, NamespaceLinks } from '../../../host/links';
import type { CommandContext } from '../../context';
import { CommandError, UsageError } from '../../errors';
import type { ArgumentSpec, OptionSpec } from '../../spec';
import { thisHostname } from '../node/agent';

/**
 * What the `container` verbs share: the workload named on the command line (a Docker container by
 * name, ID or ID prefix, or a network namespace by its path), its endpoints in etcd, and the
 * kernel work in its network namespace. v0.23 stored a Docker container's endpoint under
 * orchestrator `docker` with the full container ID as the workload, and a namespace's under
 * `namespace` with its path's `/` turned into `-` (ARCHITECTURE.md, "etcd key layout"), so other
 * tools of the v1 model find them there.
 */

export const ORCHESTRATOR = 'docker';
export const NAMESPACE_ORCHESTRATOR = 'namespace';

/** A workload as etcd keys it. */
export interface Workload {
  readonly orchestrator: string;
  readonly id: string;
}

/** A namespace path: absolute, and only characters that are safe in an etcd key and a log line. */
const NAMESPACE_PATH = /^\/[A-Za-z0-9._/-]+$/;

/** Whether a word names a network namespace by path rather than a container (Docker names never start with `/`). */
export function isNamespacePath(word: string): boolean {
  return word.startsWith('/');
}

function namespaceWorkload(path: string): Workload {
  if (!NAMESPACE_PATH.test(path) || path.split('/').includes('..')) throw new UsageError(`${JSON.stringify(path)} is not a usable namespace path (absolute, letters, digits, '.', '_', '-' and '/').`);
  return { orchestrator: NAMESPACE_ORCHESTRATOR, id: path.replace(/\//g, '-') };
}

export const CONTAINER_ARG: ArgumentSpec = { syntax: '<CONTAINER>', key: 'container', description: "the container's name or ID, or the path of a network namespace (/var/run/netns/NAME)" };
export const IP_ARG: ArgumentSpec = {
  syntax: '<IP>',
  key: 'ip',
  description: 'an address, a CIDR equal to a pool (any free address of it), or ipv4 / ipv6 (any free address of that family)',
};
export const INTERFACE_OPTION: OptionSpec = { flags: '--interface <INTERFACE>', description: 'the name of the interface in the container', default: 'eth1' };

export function requireRoot(ctx: CommandContext): void {
  if (!ctx.deps.host.isRoot()) throw new CommandError('This command must be run as root.');
}

export async function inspect(ctx: CommandContext, name: string): Promise<ContainerDetails | undefined> {
  return ctx.dockerEngine().inspectContainer(name);
}

/** The container, which must be running, with a network namespace of its own to put an interface in. */
export async function runningContainer(ctx: CommandContext, name: string): Promise<ContainerDetails> {
  const details = await inspect(ctx, name);
  if (!details) throw new CommandError(`Container ${name} was not found.`);
  if (!details.running || details.pid <= 0) throw new CommandError(`${name} is not currently running.`);
  if (details.networkMode === 'host') throw new CommandError(`Can't add ${name} to Calico because it is running NetworkMode = host.`);
  // Its namespace is another container's: an interface put there would be that container's too.
  if (details.networkMode.startsWith('container:')) throw new CommandError(`Can't add ${name} to Calico because it shares the network of ${details.networkMode.slice('container:'.length)}.`);
  return details;
}

/**
 * The workload a command line names, for the verbs that change its namespace: a running
 * container, or a namespace path that nsenter can enter.
 */
export async function liveWorkload(ctx: CommandContext, word: string): Promise<{ workload: Workload; links: NamespaceLinks }> {
  if (isNamespacePath(word)) {
    const workload = namespaceWorkload(word);
    const links = new NamespaceLinks(hostRunner(ctx), { path: word });
    try {
      await links.exists('lo');
    } catch (error) {
      const why = error instanceof CommandFailedError ? `: ${error.stderr.trim().split('\n')[0]}` : '';
      throw new CommandError(`${word} is not a network namespace${why}`);
    }
    return { workload, links };
  }
  const details = await runningContainer(ctx, word);
  return { workload: { orchestrator: ORCHESTRATOR, id: details.id }, links: new NamespaceLinks(hostRunner(ctx), { pid: details.pid }) };
}

/** This host's endpoints of one workload. */
export async function workloadEndpoints(ctx: CommandContext, workload: Workload): Promise<Endpoint[]> {
  const endpoints = await ctx.endpoints().list(thisHostname(ctx));
  return endpoints.filter((e) => e.orchestrator === workload.orchestrator && e.workload === workload.id);
}

/**
 * The workload a command line names: a namespace path, the container Docker finds by that name,
 * or the word itself when Docker no longer knows it but it is a workload ID here (so the endpoint
 * of a container that was deleted can still be looked at and removed, as v0.23 allowed).
 */
export async function workloadOf(ctx: CommandContext, name: string): Promise<{ workload: Workload; endpoints: Endpoint[] }> {
  if (isNamespacePath(name)) {
    const workload = namespaceWorkload(name);
    return { workload, endpoints: await workloadEndpoints(ctx, workload) };
  }
  const details = await inspect(ctx, name);
  const workload = { orchestrator: ORCHESTRATOR, id: details?.id ?? name };
  const endpoints = await workloadEndpoints(ctx, workload);
  if (!details && endpoints.length === 0) throw new CommandError(`Container ${name} was not found.`);
  return { workload, endpoints };
}

/** The one endpoint of a container that Calico networks; one line when it has none. */
export function onlyEndpoint(name: string, endpoints: readonly Endpoint[]): Endpoint {
  const [first, ...others] = endpoints;
  if (!first) throw new CommandError(`Container ${name} is unknown to Calico: add it with 'calicoctl container add' first.`);
  if (others.length > 0) throw new CommandError(`Container ${name} has ${endpoints.length} endpoints; use 'calicoctl endpoint <ENDPOINT_ID> …' to pick one.`);
  return first;
}

/**
 * The host tools: the real ones, or with --dry-run ones that only say what they would run (a look
 * with `ip … show` still runs, so the checks before any change are the real ones).
 */
export function hostRunner(ctx: CommandContext): CommandRunner {
  const runner = ctx.deps.runner;
  if (!ctx.options.dryRun) return runner;
  return {
    run: async (file, args, input) => {
      if (args.includes('show')) return runner.run(file, args, input);
      ctx.io.out.write(`Would run ${[file, ...args].join(' ')}\n`);
      return '';
    },
  };
}

export function rootLinks(ctx: CommandContext): LinkManager {
  return new LinkManager(hostRunner(ctx));
}

/** A failed host tool as one line, naming the container. */
export function kernelError(name: string, error: unknown): unknown {
  if (!(error instanceof CommandFailedError)) return error;
  const why = error.stderr.trim().split('\n')[0] || `exit ${error.exitCode}`;
  // Docker turns IPv6 off in every container whose networks have none (--net=none included).
  const hint = /IPv6 is disabled/i.test(why) ? ' (Docker turns IPv6 off in a container whose networks have none: start it with --sysctl net.ipv6.conf.all.disable_ipv6=0)' : '';
  return new CommandError(`Could not set up the network of ${name}: ${error.command.split(' ').slice(0, 6).join(' ')}…: ${why}${hint}`);
}

/**
 * The container's IPv6 gateway: the host end's link-local address, which the kernel gives it once
 * both ends are up. It may take a moment to appear, so it is looked for a few times.
 */
export async function ipv6Gateway(links: LinkManager, hostName: string, dryRun: boolean): Promise<string> {
  if (dryRun) return 'fe80::(the link-local address of ' + hostName + ')';
  for (let attempt = 0; attempt < 50; attempt++) {
    const gateway = await links.linkLocalAddress(hostName);
    if (gateway) return gateway;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new CommandError(`${hostName} has no IPv6 link-local address to route the container's IPv6 through (is IPv6 disabled on this host?).`);
}
