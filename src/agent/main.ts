import { existsSync, unlinkSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { hostname as osHostname } from 'node:os';
import { Command, CommanderError, Option } from 'commander';
import { etcdSettings } from '../datastore/config';
import { type CorruptReporter, DatastoreRefusedError, reportOnce } from '../datastore/errors';
import { Etcd3KvStore } from '../datastore/etcd3-store';
import { HostStore } from '../datastore/hosts';
import type { KvStore } from '../datastore/kv';
import { BgpStore, parseAsNumber } from '../datastore/bgp';
import { AGENT_PREFIX, type DatastoreUpdate, Syncer, type SyncTarget } from '../datastore/syncer';
import { parseIp } from '../policy/cidr';
import { BgpController } from './bgp/controller';
import { BIRD_DAEMONS, BirdSupervisor, systemBirdHost } from './bgp/supervisor';
import { cleanupDataplane } from './dataplane/cleanup';
import { TunnelAddressStore } from '../datastore/tunnel-address';
import { TunnelApplier } from './ipip/applier';
import { IpipController } from './ipip/controller';
import { Dataplane } from './dataplane/driver';
import { systemRunner } from '../host/exec';
import { defaultPoolMessage, FORWARDING_SYSCTLS, KERNEL_IPV6_FILE, noDefaultPools, STARTED_MESSAGE, STATE_DIR } from './contract';
import { StatusFile } from './status';
import { createLogger, type Logger, type LogLevel } from './log';
import { LogLevelFollower } from './log-config';
import { ipamDriverHandlers } from './plugin/ipam-driver';
import { LinkManager } from './plugin/links';
import { networkDriverHandlers } from './plugin/network-driver';
import { fileScopeMemory, hostEngine } from './plugin/scope';
import { createPluginServer, DEFAULT_SOCKET, listenOnSocket } from './plugin/server';

export interface AgentOptions {
  readonly logDir?: string;
  readonly logLevel: LogLevel;
  readonly socket: string;
  readonly hostname: string;
  readonly plugin: boolean;
  readonly dataplane: boolean;
  readonly cleanup: boolean;
  readonly stateDir: string;
  readonly version: string;
  readonly timeout?: string;
  /** `bird` runs BIRD for BGP between hosts; `none` is a policy-only node. */
  readonly backend: Backend;
  /** This host's addresses for BGP (BIRD's router id and source addresses), and its own AS. */
  readonly ip?: string;
  readonly ip6?: string;
  readonly as?: string;
}

export const BACKENDS = ['bird', 'none'] as const;
export type Backend = (typeof BACKENDS)[number];

/** calico-node's command tree (also what its man page is generated from). */
export function agentProgram(env: NodeJS.ProcessEnv, version: string): Command {
  return new Command('calico-node')
    .description('The Calico host agent: the Docker network and IPAM plugin, and the policy dataplane')
    .option('--log-dir <dir>', 'also write the log to <dir>/calico-node.log')
    .addOption(new Option('--log-level <level>', 'least severe messages logged').choices(['debug', 'info', 'warning', 'error']).default(env.CALICO_LOG_LEVEL ?? 'info'))
    .option('--socket <path>', 'the plugin socket Docker finds by name', DEFAULT_SOCKET)
    .option('--hostname <name>', 'this host\'s name in etcd (default: $HOSTNAME, else the system hostname)')
    .option('--no-plugin', 'do not serve the Docker plugin')
    .option('--no-dataplane', 'do not program iptables, ipsets and routes')
    .option('--cleanup', 'remove every chain, ipset and route the agent created, then exit')
    .option('--state-dir <dir>', 'where the agent reports its status', STATE_DIR)
    .option('--timeout <duration>', 'bound on each etcd request (env ETCD_TIMEOUT; default 5s)')
    .addOption(new Option('--backend <backend>', 'bird: exchange routes with the other hosts over BGP; none: policy only').default(env.CALICO_NETWORKING_BACKEND ?? 'bird'))
    .option('--ip <address>', "this host's IPv4 address for BGP (env IP); registered in etcd", env.IP || undefined)
    .option('--ip6 <address>', "this host's IPv6 address for BGP (env IP6)", env.IP6 || undefined)
    .option('--as <number>', "this host's own AS number, asplain or dotted (env AS); default: the cluster's", env.AS || undefined)
    .version(version, '--version')
    .exitOverride();
}

/** Parses calico-node's command line; resolves undefined when it only printed help or a version. */
export function parseAgentArgs(argv: readonly string[], env: NodeJS.ProcessEnv, version: string): AgentOptions | undefined {
  const program = agentProgram(env, version);
  try {
    program.parse([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError && error.exitCode === 0) return undefined;
    throw error;
  }
  const opts = program.opts<{
    logDir?: string;
    logLevel: LogLevel;
    socket: string;
    hostname?: string;
    plugin: boolean;
    dataplane: boolean;
    cleanup?: boolean;
    stateDir: string;
    timeout?: string;
    backend: string;
    ip?: string;
    ip6?: string;
    as?: string;
  }>();
  const usage = (message: string): never => {
    program.error(`error: ${message}`, { exitCode: 2, code: 'calico-node.usage' });
    throw new Error(message);
  };
  if (opts.backend === 'gobgp') usage("the gobgp backend is not available in this calico-node: use --backend=bird or --backend=none");
  if (!(BACKENDS as readonly string[]).includes(opts.backend)) usage(`--backend must be one of ${BACKENDS.join(', ')}, not '${opts.backend}'`);
  const ip = opts.ip === undefined ? undefined : parseIp(opts.ip);
  if (opts.ip !== undefined && ip?.version !== 4) usage(`--ip must be an IPv4 address, not '${opts.ip}'`);
  const ip6 = opts.ip6 === undefined ? undefined : parseIp(opts.ip6);
  if (opts.ip6 !== undefined && ip6?.version !== 6) usage(`--ip6 must be an IPv6 address, not '${opts.ip6}'`);
  const asNum = opts.as === undefined ? undefined : parseAsNumber(opts.as);
  if (opts.as !== undefined && asNum === undefined) usage(`--as must be an AS number (asplain or dotted), not '${opts.as}'`);
  return {
    ...(opts.logDir !== undefined && { logDir: opts.logDir }),
    logLevel: opts.logLevel,
    socket: opts.socket,
    hostname: opts.hostname ?? (env.HOSTNAME || osHostname()),
    plugin: opts.plugin,
    dataplane: opts.dataplane,
    cleanup: opts.cleanup === true,
    stateDir: opts.stateDir,
    version,
    ...(opts.timeout !== undefined && { timeout: opts.timeout }),
    backend: opts.backend as Backend,
    ...(ip && { ip: ip.text }),
    ...(ip6 && { ip6: ip6.text }),
    ...(asNum !== undefined && { as: asNum }),
  };
}

/** calico-node's exit codes, all of them. */
export const EXIT_OK = 0;
/** It could not start (etcd settings, the plugin socket, ...), or --cleanup or stopping failed. */
export const EXIT_FAILED = 1;
/** The command line is wrong (commander has said how). */
export const EXIT_USAGE = 2;

/** What main() needs from the process; bin/calico-node passes the real ones (systemDeps). */
export interface AgentDeps {
  readonly env: NodeJS.ProcessEnv;
  readonly version: string;
  readonly stderr: { write(text: string): unknown };
  /** Calls `stop` with the signal's name when the process is asked to stop (SIGTERM, SIGINT). */
  readonly onStopSignal: (stop: (signal: string) => void) => void;
}

export function systemDeps(version: string): AgentDeps {
  return {
    env: process.env,
    version,
    stderr: process.stderr,
    onStopSignal: (stop) => {
      for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => stop(signal));
    },
  };
}

/**
 * Runs calico-node: parses the command line, then either cleans the dataplane up, or starts the
 * agent and runs it until a stop signal. Resolves to the exit code; never exits the process itself.
 */
export async function main(argv: readonly string[], deps: AgentDeps): Promise<number> {
  let options: AgentOptions | undefined;
  try {
    options = parseAgentArgs(argv, deps.env, deps.version);
  } catch (error) {
    if (error instanceof CommanderError) return EXIT_USAGE; // commander has printed the usage error
    throw error;
  }
  if (options === undefined) return EXIT_OK; // help or version
  if (options.cleanup) {
    try {
      await runCleanup(options);
      return EXIT_OK;
    } catch (error) {
      deps.stderr.write(`calico-node --cleanup: ${(error as Error).message}\n`);
      return EXIT_FAILED;
    }
  }
  let running: RunningAgent;
  try {
    running = await startAgent(options, deps.env);
  } catch (error) {
    deps.stderr.write(`calico-node: ${(error as Error).message}\n`);
    return EXIT_FAILED;
  }
  // A daemon runs until it is stopped, even when nothing else is pending (--no-plugin --no-dataplane).
  const keepAlive = setInterval(() => undefined, 1 << 30);
  const signal = await new Promise<string>((resolve) => {
    let stopping = false;
    deps.onStopSignal((name) => {
      if (stopping) return;
      stopping = true;
      resolve(name);
    });
  });
  clearInterval(keepAlive);
  running.log.info(`Got ${signal}`);
  try {
    await running.stop();
    return EXIT_OK;
  } catch {
    return EXIT_FAILED;
  }
}

/** A running agent; `stop()` shuts it down cleanly (the dataplane is left as it is). */
export interface RunningAgent {
  readonly log: Logger;
  stop(): Promise<void>;
}

export async function startAgent(options: AgentOptions, env: NodeJS.ProcessEnv): Promise<RunningAgent> {
  const log = createLogger(options.logLevel, options.logDir);
  const settings = etcdSettings(env, options.timeout);
  const kv = new Etcd3KvStore(settings);
  log.info(`Starting calico-node on host ${options.hostname}, etcd ${settings.endpoints.join(',')}`);

  // A value that does not decode (a bad pool, say) is logged once and skipped: it never stops the agent.
  const report = reportOnce((message) => log.warning(message));
  await prepareDatastore(kv, env, log, report);
  await registerBgp(kv, options);

  // The plugin socket first: it also tells whether another agent already runs on this host, and
  // then this one must not touch the dataplane either.
  let server: Server | undefined;
  if (options.plugin) {
    const context = { kv, hostname: options.hostname, links: new LinkManager(systemRunner), engine: hostEngine(env), scopeMemory: fileScopeMemory(options.stateDir), log };
    server = createPluginServer({ ...networkDriverHandlers(context), ...ipamDriverHandlers(context) }, log);
    await listenOnSocket(server, options.socket);
    log.info(`Serving the Docker network and IPAM plugin on ${options.socket}`);
  }
  let dataplane: Dataplane | undefined;
  let ipip: IpipController | undefined;
  // `calicoctl config felix loglevel` changes the level of a running agent, so the syncer always runs.
  const targets: SyncTarget[] = [new LogLevelFollower(options.hostname, options.logLevel, log)];
  if (options.dataplane) {
    enableForwarding(log);
    const status = new StatusFile(options.stateDir, options.hostname, options.version, log);
    dataplane = new Dataplane(options.hostname, systemRunner, log, (report) => status.write({ lastApply: report }));
    dataplane.preload();
    targets.push(dataplane);
    // IPIP is routing between hosts that Debian's BIRD cannot do (src/agent/ipip/tunnel.ts).
    ipip = new IpipController(options.hostname, new TunnelAddressStore(kv, report), new TunnelApplier(systemRunner, log), log);
    targets.push(ipip);
  }
  const bgp = startBgp(options, log);
  if (bgp) targets.push(bgp.controller);
  const sync = new Syncer(kv, fanOut(targets), log, { report, prefix: AGENT_PREFIX });
  await sync.start();

  log.info(STARTED_MESSAGE);

  return {
    log,
    async stop() {
      log.info('Stopping calico-node (the dataplane stays as it is)');
      dataplane?.stop();
      ipip?.stop();
      sync.stop();
      // BIRD's routes stay in the kernel (`persist`), and peers keep this host's routes while it
      // restarts (graceful restart; src/agent/bgp/supervisor.ts), so established connections carry on.
      bgp?.stop();
      if (server) {
        await new Promise<void>((resolve) => server?.close(() => resolve()));
        try {
          unlinkSync(options.socket);
        } catch {
          // Already gone.
        }
      }
      kv.close();
    },
  };
}

/** One syncer feeds the dataplane and BGP alike; each takes the updates it needs. */
function fanOut(targets: readonly SyncTarget[]): SyncTarget {
  return {
    resync: (updates: readonly DatastoreUpdate[]) => targets.forEach((target) => target.resync(updates)),
    update: (updates: readonly DatastoreUpdate[]) => targets.forEach((target) => target.update(updates)),
  };
}

/** BIRD for each IP family this host has an address of, driven by a controller; none with --backend=none. */
function startBgp(options: AgentOptions, log: Logger): { controller: BgpController; stop(): void } | undefined {
  if (options.backend !== 'bird') {
    log.info('BGP backend: none (this node enforces policy only; routes between hosts are not exchanged)');
    return undefined;
  }
  if (options.ip === undefined) {
    log.warning('BGP backend bird needs this host\'s IPv4 address (--ip or IP): not running BIRD');
    return undefined;
  }
  const daemons = BIRD_DAEMONS(options.stateDir, options.stateDir);
  const supervisors = {
    4: new BirdSupervisor(daemons[4], systemBirdHost, log),
    ...(options.ip6 !== undefined && { 6: new BirdSupervisor(daemons[6], systemBirdHost, log) }),
  };
  const controller = new BgpController(options.hostname, { ipv4: options.ip, ...(options.ip6 !== undefined && { ipv6: options.ip6 }) }, supervisors, log);
  return {
    controller,
    stop() {
      controller.stop();
      for (const supervisor of Object.values(supervisors)) supervisor.stop();
    },
  };
}

/** Registers this host's BGP addresses and AS, as `calicoctl node` does, when they were given. */
async function registerBgp(kv: KvStore, options: AgentOptions): Promise<void> {
  if (options.ip === undefined && options.ip6 === undefined) return;
  const conflict = await new HostStore(kv).register({ hostname: options.hostname, ...(options.ip !== undefined && { ipv4: options.ip }), ...(options.ip6 !== undefined && { ipv6: options.ip6 }) });
  if (conflict) throw new Error(`IP address ${conflict.address} is already in use by host ${conflict.host}: each host needs its own address.`);
  await new BgpStore(kv).setHostAs(options.hostname, options.as);
}

/** Routing between containers needs IP forwarding; failing to enable it is reported, not fatal. */
function enableForwarding(log: Logger): void {
  for (const path of FORWARDING_SYSCTLS) {
    try {
      writeFileSync(path, '1');
    } catch (error) {
      log.warning(`Could not enable forwarding (${path}): ${(error as Error).message}`);
    }
  }
}

/** Waits for etcd (retrying, as a daemon must), then writes the global config, Ready flag and default pools. */
async function prepareDatastore(kv: KvStore, env: NodeJS.ProcessEnv, log: Logger, report: CorruptReporter): Promise<void> {
  const hosts = new HostStore(kv, report);
  for (let attempt = 1; ; attempt++) {
    try {
      await kv.serverVersion();
      break;
    } catch (error) {
      if (error instanceof DatastoreRefusedError) throw error;
      log.warning(`${(error as Error).message} Retrying (attempt ${attempt}).`);
      await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 250 * attempt)));
    }
  }
  await hosts.ensureGlobalConfig();
  for (const pool of await hosts.ensureDefaultPools({ noDefaultPools: noDefaultPools(env), ipv6: existsSync(KERNEL_IPV6_FILE) })) log.info(defaultPoolMessage(pool));
}

/** `calico-node --cleanup`. */
export async function runCleanup(options: AgentOptions): Promise<void> {
  await cleanupDataplane(systemRunner, createLogger(options.logLevel, options.logDir));
}
