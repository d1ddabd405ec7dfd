import { unlinkSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { hostname as osHostname } from 'node:os';
import { Command, CommanderError, Option } from 'commander';
import { etcdSettings } from '../datastore/config';
import { Etcd3KvStore } from '../datastore/etcd3-store';
import { HostStore } from '../datastore/hosts';
import type { KvStore } from '../datastore/kv';
import { Syncer } from '../datastore/syncer';
import { cleanupDataplane } from './dataplane/cleanup';
import { Dataplane } from './dataplane/driver';
import { systemRunner } from '../host/exec';
import { FORWARDING_SYSCTLS, noDefaultPools, STARTED_MESSAGE, STATE_DIR } from './contract';
import { StatusFile } from './status';
import { createLogger, type Logger, type LogLevel } from './log';
import { ipamDriverHandlers } from './plugin/ipam-driver';
import { LinkManager } from './plugin/links';
import { networkDriverHandlers } from './plugin/network-driver';
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
}

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
  }>();
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
  };
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

  await prepareDatastore(kv, env, log);

  // The plugin socket first: it also tells whether another agent already runs on this host, and
  // then this one must not touch the dataplane either.
  let server: Server | undefined;
  if (options.plugin) {
    const context = { kv, hostname: options.hostname, links: new LinkManager(systemRunner), log };
    server = createPluginServer({ ...networkDriverHandlers(context), ...ipamDriverHandlers(context) }, log);
    await listenOnSocket(server, options.socket);
    log.info(`Serving the Docker network and IPAM plugin on ${options.socket}`);
  }
  let dataplane: Dataplane | undefined;
  let sync: Syncer | undefined;
  if (options.dataplane) {
    enableForwarding(log);
    const status = new StatusFile(options.stateDir, options.hostname, options.version, log);
    dataplane = new Dataplane(options.hostname, systemRunner, log, (report) => status.write({ lastApply: report }));
    sync = new Syncer(kv, dataplane, log);
    await sync.start();
  }

  log.info(STARTED_MESSAGE);

  return {
    log,
    async stop() {
      log.info('Stopping calico-node (the dataplane stays as it is)');
      dataplane?.stop();
      sync?.stop();
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

/** Waits for etcd (retrying, as a daemon must), then writes the global config, Ready flag and default pool. */
async function prepareDatastore(kv: KvStore, env: NodeJS.ProcessEnv, log: Logger): Promise<void> {
  const hosts = new HostStore(kv);
  for (let attempt = 1; ; attempt++) {
    try {
      await kv.serverVersion();
      break;
    } catch (error) {
      log.warning(`${(error as Error).message} Retrying (attempt ${attempt}).`);
      await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 250 * attempt)));
    }
  }
  await hosts.ensureGlobalConfig();
  const pool = await hosts.ensureDefaultPool(noDefaultPools(env));
  if (pool) log.info(`Created the default IPv4 pool ${pool}`);
}

/** `calico-node --cleanup`. */
export async function runCleanup(options: AgentOptions): Promise<void> {
  await cleanupDataplane(systemRunner, createLogger(options.logLevel, options.logDir));
}
