import { defaultPoolMessage, FORWARDING_SYSCTLS, KERNEL_IPV6_FILE, noDefaultPools, PASSWORD_FILE, PID_FILE, STATE_DIR } from '../../../agent/contract';
import { BgpStore } from '../../../datastore/bgp';
import { DEFAULT_IPV4_POOL, DEFAULT_IPV6_POOL } from '../../../datastore/pools';
import { HostStore } from '../../../datastore/hosts';
import { detectAddress } from '../../../host/facts';
import { parseIp } from '../../../policy/cidr';
import type { CommandContext } from '../../context';
import { CommandError } from '../../errors';
import { command } from '../../spec';
import { asNumber } from '../bgp/peers';
import { formatChecks, runSystemChecks } from '../system-checks';
import { BACKEND_OPTION, networkingBackend, runningAgent, thisHostname } from './agent';
import { agentLauncher, type LaunchedAgent, type Launcher } from './launcher';
import { BARE_BACKEND_ARG, LIBNETWORK_IMAGE_OPTION, LIBNETWORK_OPTION, type LegacyNodeFlags, noteLibnetwork } from './legacy';
import { describePlan, type NodeOptions, planStart, type Runtime, SETTINGS_LABEL, settingsHash, type StartPlan } from './plan';

export function defaultNodeImage(version: string): string {
  return `calicoctl/calico-node:${version}`;
}

/** `calicoctl node`: check this host, register it in etcd and start its agent. */
export default command<RawNodeOptions>({
  path: ['node'],
  summary: 'Start the Calico host agent on this host (or stop, remove or list agents)',
  args: [BARE_BACKEND_ARG],
  options: [
    { flags: '--ip <IP>', description: "this host's IPv4 address (default: autodetected)" },
    { flags: '--ip6 <IP6>', description: "this host's IPv6 address" },
    { flags: '--as <AS_NUM>', description: "this host's own AS number, asplain or dotted (default: the cluster's, see calicoctl bgp default-node-as)" },
    BACKEND_OPTION,
    { flags: '--name <HOSTNAME>', description: "this host's name in etcd (default: $HOSTNAME, else the system hostname)" },
    { flags: '--node-image <IMAGE>', description: 'the agent image (build it offline with scripts/build-node-image)', default: defaultNodeImage },
    { flags: '--runtime <RUNTIME>', description: 'how to run the agent (rkt, from v0.23, is not supported)', choices: ['docker', 'process', 'none', 'rkt'], default: 'docker' },
    { flags: '--log-dir <DIR>', description: 'where the agent writes its log', default: '/var/log/calico' },
    { flags: '--detach <BOOL>', description: 'return once the agent has started (false: stay attached to it)', choices: ['true', 'false'], default: 'true' },
    { flags: '--no-pull', description: 'never pull the image; fail if it is not on this host' },
    LIBNETWORK_OPTION,
    LIBNETWORK_IMAGE_OPTION,
    // Its own --dry-run, which needs no root and also previews the agent's command line.
    { flags: '--dry-run', description: 'print what would be done, change nothing (needs no root)' },
  ],
  writes: false,
  help: `
Examples:
  calicoctl node                          # the agent as the container calico-node
  calicoctl node --runtime=process        # the agent as a host process (pid in ${PID_FILE})
  calicoctl node --ip=192.0.2.2 --dry-run # what would be run
  calicoctl node --as=64512               # this host in its own AS
  calicoctl node --backend=none           # policy only, no BGP
  calicoctl node stop`,
  run: (raw, ctx) => startNode(ctx, raw),
});

interface RawNodeOptions extends LegacyNodeFlags {
  ip?: string;
  ip6?: string;
  as?: string;
  backend?: 'bird' | 'gobgp' | 'none';
  name?: string;
  nodeImage: string;
  runtime: Runtime | 'rkt';
  logDir: string;
  detach: 'true' | 'false';
  pull: boolean;
  dryRun?: boolean;
}

/** Checks the options before anything runs; every problem is one line. */
export function validateNodeOptions(ctx: CommandContext, raw: RawNodeOptions): NodeOptions {
  const { host } = ctx.deps;
  const local = new Set(host.addresses().map((a) => a.address.toLowerCase()));
  const ip = raw.ip !== undefined ? ownAddress(raw.ip, 4, local) : detectAddress(host, 4);
  if (ip === undefined) throw new CommandError('No IPv4 address found on this host: give one with --ip.');
  const ip6 = raw.ip6 !== undefined ? ownAddress(raw.ip6, 6, local) : undefined;
  const asNum = raw.as !== undefined ? asNumber(raw.as) : undefined;
  if (raw.runtime === 'rkt') throw new CommandError('The rkt runtime is not supported: use --runtime=docker (a container) or --runtime=process (a host process).');
  if (raw.libnetwork && raw.detach === 'false') throw new CommandError("The only valid value for --detach is 'true' when using libnetwork");
  const backend = networkingBackend(ctx, raw.backend);
  const name = raw.name ?? thisHostname(ctx);
  if (!/^[A-Za-z0-9]([A-Za-z0-9_.-]{0,252})$/.test(name)) throw new CommandError(`Invalid --name '${name}': use letters, digits, dots, dashes and underscores.`);
  if (!raw.logDir.startsWith('/')) throw new CommandError(`--log-dir must be an absolute path, not '${raw.logDir}'.`);
  return {
    name,
    ip,
    ...(ip6 !== undefined && { ip6 }),
    ...(asNum !== undefined && { asNum }),
    backend,
    image: raw.nodeImage,
    runtime: raw.runtime as Runtime,
    logDir: raw.logDir,
    detach: raw.detach === 'true',
    noPull: !raw.pull,
  };
}

/** An address given with --ip or --ip6, which must be one of this host's. */
function ownAddress(text: string, version: 4 | 6, local: ReadonlySet<string>): string {
  const flag = version === 4 ? '--ip' : '--ip6';
  const parsed = parseIp(text);
  if (!parsed || parsed.version !== version) throw new CommandError(`Invalid IPv${version} address specified with ${flag} argument.`);
  if (!local.has(parsed.text)) throw new CommandError(`${flag} ${parsed.text} is not an address of this host.`);
  return parsed.text;
}

async function startNode(ctx: CommandContext, raw: RawNodeOptions, launcher: Launcher = agentLauncher(ctx)): Promise<void> {
  const options = validateNodeOptions(ctx, raw);
  noteLibnetwork(ctx, raw);
  const settings = ctx.settings();
  const plan = planStart(options, settings, ctx.env, {
    agentCommand: ctx.deps.agentCommand,
    modulesDirExists: ctx.deps.host.exists('/lib/modules'),
  });
  if (raw.dryRun) {
    ctx.io.out.write(dryRunText(options, settings.endpoints.join(','), ctx.env, plan, kernelHasIpv6(ctx)));
    return;
  }
  if (!ctx.deps.host.isRoot()) throw new CommandError('This command must be run as root.');

  // BIRD runs inside the calico-node container; as a host process, it is the host's own.
  const checks = await runSystemChecks(ctx, { docker: options.runtime === 'docker', forwarding: false, bird: options.backend === 'bird' && options.runtime === 'process' });
  const problems = checks.filter((c) => c.status !== 'OK');
  if (problems.length > 0) ctx.io.err.write(formatChecks(problems));
  if (problems.some((c) => c.status === 'FAIL')) throw new CommandError("The system checks failed (see above): 'calicoctl checksystem' lists them all.");

  if (await alreadyRunning(ctx, plan, settings.password)) return;

  await registerHost(ctx, options);
  if (plan.runtime === 'none') {
    ctx.io.out.write(`Registered host ${options.name}; --runtime=none starts no agent.\n`);
    return;
  }
  if (settings.username !== undefined) {
    ctx.deps.system.mkdir(STATE_DIR);
    ctx.deps.system.writeSecret(PASSWORD_FILE, settings.password ?? '');
  }
  const agent: LaunchedAgent = plan.runtime === 'docker' ? await launcher.runContainer(plan, options) : await launcher.spawnProcess(plan, options);
  await launcher.waitForStart(agent);
  ctx.io.out.write(agent.started);
  if (options.detach) agent.detach();
  else await launcher.follow(agent);
}

const kernelHasIpv6 = (ctx: CommandContext): boolean => ctx.deps.host.readFile(KERNEL_IPV6_FILE) !== undefined;

function dryRunText(options: NodeOptions, endpoints: string, env: Readonly<Record<string, string | undefined>>, plan: StartPlan, ipv6: boolean): string {
  const pools = noDefaultPools(env)
    ? 'no default pool (NO_DEFAULT_POOLS=true)'
    : `the default pool ${DEFAULT_IPV4_POOL} if there is no IPv4 pool${ipv6 ? ` and ${DEFAULT_IPV6_POOL} if there is no IPv6 pool` : ''}`;
  const command = describePlan(plan);
  return (
    `Would register host ${options.name} in etcd (${endpoints}): IPv4 ${options.ip ?? 'none'}, IPv6 ${options.ip6 ?? 'none'}, ` +
    `AS ${options.asNum ?? 'inherited from the default'}, ${pools}.\n` +
    'Would enable IPv4 and IPv6 forwarding.\n' +
    (plan.runtime === 'none' ? '' : `Would run:\n`) +
    command
  );
}

/** True when an agent with the same settings already runs; an agent with other settings is an error. */
async function alreadyRunning(ctx: CommandContext, plan: StartPlan, password: string | undefined): Promise<boolean> {
  const running = await runningAgent(ctx);
  if (!running) return false;
  const wanted = plan.runtime === 'docker' ? plan.spec.labels[SETTINGS_LABEL] : plan.runtime === 'process' ? settingsHash(plan) : undefined;
  // The settings' hash leaves the password out; the running agent's is the one in its file.
  const samePassword = password === undefined || ctx.deps.host.readFile(PASSWORD_FILE) === password;
  if (running.runtime === plan.runtime && running.settings === wanted && samePassword) {
    ctx.io.out.write(`Calico node is already running (${running.description}) with these settings: nothing to do.\n`);
    return true;
  }
  throw new CommandError(
    `Calico node is already running (${running.description}) with other settings. Run 'calicoctl node stop', then 'calicoctl node' again with the new settings.`,
  );
}

async function registerHost(ctx: CommandContext, options: NodeOptions): Promise<void> {
  const hosts = new HostStore(ctx.kv());
  for (const address of [options.ip, options.ip6]) {
    if (address === undefined) continue;
    const other = await hosts.hostWithAddress(address, options.name);
    if (other !== undefined) {
      throw new CommandError(`IP address ${address} is already in use by host ${other}. Calico requires each host to have a unique IP; use --ip.`);
    }
  }
  await hosts.ensureGlobalConfig();
  // Checked again in the transaction that writes, against a host registering at the same moment.
  const conflict = await hosts.register({ hostname: options.name, ...(options.ip !== undefined && { ipv4: options.ip }), ...(options.ip6 !== undefined && { ipv6: options.ip6 }) });
  if (conflict) throw new CommandError(`IP address ${conflict.address} is already in use by host ${conflict.host}. Calico requires each host to have a unique IP; use --ip.`);
  // As v0.23: without --as the host's own AS is deleted, and it inherits the default again.
  await new BgpStore(ctx.kv()).setHostAs(options.name, options.asNum);
  for (const pool of await hosts.ensureDefaultPools({ noDefaultPools: noDefaultPools(ctx.env), ipv6: kernelHasIpv6(ctx) })) ctx.io.err.write(`${defaultPoolMessage(pool)}\n`);
  for (const path of FORWARDING_SYSCTLS) {
    const error = ctx.deps.host.writeFile(path, '1');
    if (error !== undefined && path.includes('ipv4')) throw new CommandError(`Could not enable IPv4 forwarding: ${error}`);
  }
}
