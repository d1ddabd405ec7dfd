import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { FORWARDING_SYSCTLS, maskPassword, noDefaultPools, PID_FILE, PROCESS_FILE, STARTED_MESSAGE, STATE_DIR } from '../../../agent/contract';
import { HostStore } from '../../../datastore/hosts';
import { detectAddress } from '../../../host/facts';
import { parseIp } from '../../../policy/cidr';
import type { CommandContext } from '../../context';
import { CommandError } from '../../errors';
import { progress } from '../../progress';
import { command } from '../../spec';
import { formatChecks, runSystemChecks } from '../system-checks';
import { isAlive, runningAgent, thisHostname } from './agent';
import { CONTAINER_NAME, describePlan, type NodeOptions, planStart, type Runtime, SETTINGS_LABEL, settingsHash, type StartPlan } from './plan';

const START_TIMEOUT_MS = 60_000;

export function defaultNodeImage(version: string): string {
  return `calicoctl/calico-node:${version}`;
}

/** `calicoctl node`: check this host, register it in etcd and start its agent. */
export default command<RawNodeOptions>({
  path: ['node'],
  summary: 'Start the Calico host agent on this host (or stop, remove or list agents)',
  options: [
    { flags: '--ip <IP>', description: "this host's IPv4 address (default: autodetected)" },
    { flags: '--ip6 <IP6>', description: "this host's IPv6 address" },
    { flags: '--name <HOSTNAME>', description: "this host's name in etcd (default: $HOSTNAME, else the system hostname)" },
    { flags: '--node-image <IMAGE>', description: 'the agent image (build it offline with scripts/build-node-image)', default: defaultNodeImage },
    { flags: '--runtime <RUNTIME>', description: 'how to run the agent', choices: ['docker', 'process', 'none'], default: 'docker' },
    { flags: '--log-dir <DIR>', description: 'where the agent writes its log', default: '/var/log/calico' },
    { flags: '--detach <BOOL>', description: 'return once the agent has started (false: stay attached to it)', choices: ['true', 'false'], default: 'true' },
    { flags: '--no-pull', description: 'never pull the image; fail if it is not on this host' },
    // Its own --dry-run, which needs no root and also previews the agent's command line.
    { flags: '--dry-run', description: 'print what would be done, change nothing (needs no root)' },
  ],
  writes: false,
  help: `
Examples:
  calicoctl node                          # the agent as the container calico-node
  calicoctl node --runtime=process        # the agent as a host process (pid in ${PID_FILE})
  calicoctl node --ip=192.0.2.2 --dry-run # what would be run
  calicoctl node stop`,
  run: (raw, ctx) => startNode(ctx, raw),
});

interface RawNodeOptions {
  ip?: string;
  ip6?: string;
  name?: string;
  nodeImage: string;
  runtime: Runtime;
  logDir: string;
  detach: 'true' | 'false';
  pull: boolean;
  dryRun?: boolean;
}

/** Checks the options before anything runs; every problem is one line. */
export function validateNodeOptions(ctx: CommandContext, raw: RawNodeOptions): NodeOptions {
  const { host } = ctx.deps;
  const local = new Set(host.addresses().map((a) => a.address.toLowerCase()));
  let ip = raw.ip;
  if (ip !== undefined) {
    const parsed = parseIp(ip);
    if (!parsed || parsed.version !== 4) throw new CommandError('Invalid IPv4 address specified with --ip argument.');
    if (!local.has(parsed.text)) throw new CommandError(`--ip ${parsed.text} is not an address of this host.`);
    ip = parsed.text;
  } else {
    ip = detectAddress(host, 4);
    if (ip === undefined) throw new CommandError('No IPv4 address found on this host: give one with --ip.');
  }
  let ip6 = raw.ip6;
  if (ip6 !== undefined) {
    const parsed = parseIp(ip6);
    if (!parsed || parsed.version !== 6) throw new CommandError('Invalid IPv6 address specified with --ip6 argument.');
    if (!local.has(parsed.text)) throw new CommandError(`--ip6 ${parsed.text} is not an address of this host.`);
    ip6 = parsed.text;
  }
  const name = raw.name ?? thisHostname(ctx);
  if (!/^[A-Za-z0-9]([A-Za-z0-9_.-]{0,252})$/.test(name)) throw new CommandError(`Invalid --name '${name}': use letters, digits, dots, dashes and underscores.`);
  if (!raw.logDir.startsWith('/')) throw new CommandError(`--log-dir must be an absolute path, not '${raw.logDir}'.`);
  return {
    name,
    ip,
    ...(ip6 !== undefined && { ip6 }),
    image: raw.nodeImage,
    runtime: raw.runtime,
    logDir: raw.logDir,
    detach: raw.detach === 'true',
    noPull: !raw.pull,
  };
}

async function startNode(ctx: CommandContext, raw: RawNodeOptions): Promise<void> {
  const options = validateNodeOptions(ctx, raw);
  const settings = ctx.settings();
  const plan = planStart(options, settings, ctx.env, {
    agentCommand: ctx.deps.agentCommand,
    modulesDirExists: ctx.deps.host.exists('/lib/modules'),
  });
  if (raw.dryRun) {
    ctx.io.out.write(dryRunText(options, settings.endpoints.join(','), ctx.env, plan));
    return;
  }
  if (!ctx.deps.host.isRoot()) throw new CommandError('This command must be run as root.');

  const checks = await runSystemChecks(ctx, { docker: options.runtime === 'docker', forwarding: false });
  const problems = checks.filter((c) => c.status !== 'OK');
  if (problems.length > 0) ctx.io.err.write(formatChecks(problems));
  if (problems.some((c) => c.status === 'FAIL')) throw new CommandError("The system checks failed (see above): 'calicoctl checksystem' lists them all.");

  if (await alreadyRunning(ctx, plan)) return;

  await registerHost(ctx, options);
  switch (plan.runtime) {
    case 'none':
      ctx.io.out.write(`Registered host ${options.name}; --runtime=none starts no agent.\n`);
      return;
    case 'process':
      await startProcess(ctx, options, plan);
      return;
    case 'docker':
      await startContainer(ctx, options, plan);
  }
}

function dryRunText(options: NodeOptions, endpoints: string, env: Readonly<Record<string, string | undefined>>, plan: StartPlan): string {
  const pools = noDefaultPools(env) ? 'no default pool (NO_DEFAULT_POOLS=true)' : 'the default pool 192.168.0.0/16 if there is no IPv4 pool';
  const command = maskPassword(describePlan(plan));
  return (
    `Would register host ${options.name} in etcd (${endpoints}): IPv4 ${options.ip ?? 'none'}, IPv6 ${options.ip6 ?? 'none'}, ${pools}.\n` +
    'Would enable IPv4 and IPv6 forwarding.\n' +
    (plan.runtime === 'none' ? '' : `Would run:\n`) +
    command
  );
}

/** True when an agent with the same settings already runs; an agent with other settings is an error. */
async function alreadyRunning(ctx: CommandContext, plan: StartPlan): Promise<boolean> {
  const running = await runningAgent(ctx);
  if (!running) return false;
  const wanted = plan.runtime === 'docker' ? plan.spec.labels[SETTINGS_LABEL] : plan.runtime === 'process' ? settingsHash(plan) : undefined;
  if (running.runtime === plan.runtime && running.settings === wanted) {
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
  await hosts.register({ hostname: options.name, ...(options.ip !== undefined && { ipv4: options.ip }), ...(options.ip6 !== undefined && { ipv6: options.ip6 }) });
  const pool = await hosts.ensureDefaultPool(noDefaultPools(ctx.env));
  if (pool) ctx.io.err.write(`Created the default IPv4 pool ${pool}\n`);
  for (const path of FORWARDING_SYSCTLS) {
    const error = ctx.deps.host.writeFile(path, '1');
    if (error !== undefined && path.includes('ipv4')) throw new CommandError(`Could not enable IPv4 forwarding: ${error}`);
  }
}

async function startContainer(ctx: CommandContext, options: NodeOptions, plan: Extract<StartPlan, { runtime: 'docker' }>): Promise<void> {
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
  mkdirSync(options.logDir, { recursive: true });
  mkdirSync(STATE_DIR, { recursive: true });
  await containers.remove(CONTAINER_NAME); // a stopped leftover would block the name
  ctx.io.err.write(`Running the agent as a container:\n${maskPassword(describePlan(plan))}`);
  const id = await containers.run(plan.spec);
  const done = progress(ctx.io, 'Waiting for calico-node to start');
  try {
    await waitForStart(async () => {
      const state = await containers.inspect(CONTAINER_NAME);
      return { log: await containers.logs(CONTAINER_NAME), alive: state?.running === true };
    });
  } finally {
    done();
  }
  ctx.io.out.write(`Calico node is running with id: ${id.slice(0, 12)}\n`);
  if (!options.detach) await followUntilExit(ctx, async () => ({ log: await containers.logs(CONTAINER_NAME), alive: (await containers.inspect(CONTAINER_NAME))?.running === true }));
}

async function startProcess(ctx: CommandContext, options: NodeOptions, plan: Extract<StartPlan, { runtime: 'process' }>): Promise<void> {
  mkdirSync(options.logDir, { recursive: true });
  mkdirSync(STATE_DIR, { recursive: true });
  const offset = fileSize(plan.logFile);
  const log = openSync(plan.logFile, 'a');
  const env = { ...process.env, ...Object.fromEntries(plan.env) };
  const [file, ...args] = plan.argv as [string, ...string[]];
  ctx.io.err.write(`Running the agent as a host process:\n${maskPassword(describePlan(plan))}`);
  const child = spawn(file, args, { env, detached: options.detach, stdio: ['ignore', log, log] });
  closeSync(log);
  const pid = child.pid;
  if (pid === undefined) throw new CommandError(`Could not start ${file}.`);
  let exited = false;
  child.once('exit', () => (exited = true));
  writeFileSync(PID_FILE, `${pid}\n`);
  writeFileSync(PROCESS_FILE, `${JSON.stringify({ pid, settings: settingsHash(plan), startedAt: new Date().toISOString(), logFile: plan.logFile })}\n`);
  const agentProgress = async () => ({ log: readFrom(plan.logFile, offset), alive: !exited && isAlive(pid) });
  const done = progress(ctx.io, 'Waiting for calico-node to start');
  try {
    await waitForStart(agentProgress);
  } finally {
    done();
  }
  ctx.io.out.write(`Calico node is running as process ${pid} (log: ${plan.logFile})\n`);
  if (options.detach) child.unref();
  else await followUntilExit(ctx, agentProgress);
}

/** Polls the agent's log until it reports that it started; fails with the log's tail if it dies or hangs. */
async function waitForStart(progress: () => Promise<{ log: string; alive: boolean }>): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const { log, alive } = await progress();
    if (log.includes(STARTED_MESSAGE)) return;
    if (!alive || Date.now() > deadline) {
      const tail = log.trim().split('\n').slice(-10).join('\n');
      const why = alive ? `did not report "${STARTED_MESSAGE}" within ${START_TIMEOUT_MS / 1000} s` : 'stopped';
      throw new CommandError(`calico-node ${why}. The end of its log:\n${tail || '(empty)'}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** --detach=false: copy the agent's log to stdout until it exits, then fail (it should not exit). */
async function followUntilExit(ctx: CommandContext, progress: () => Promise<{ log: string; alive: boolean }>): Promise<void> {
  let shown = 0;
  for (;;) {
    const { log, alive } = await progress();
    ctx.io.out.write(log.slice(shown));
    shown = log.length;
    if (!alive) throw new CommandError('calico-node exited.');
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

function readFrom(path: string, offset: number): string {
  try {
    return readFileSync(path).subarray(offset).toString('utf8');
  } catch {
    return '';
  }
}
