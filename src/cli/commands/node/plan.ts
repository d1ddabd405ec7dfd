import { maskPassword, PASSWORD_FILE, PASSWORD_FILE_VAR, STATE_DIR } from '../../../agent/contract';
import type { EtcdSettings } from '../../../datastore/config';
import type { ContainerSpec } from '../../../docker/containers';

export type Runtime = 'docker' | 'process' | 'none';
/** What routes between hosts: BIRD, or nothing (policy only). v0.23's gobgp is refused in start.ts. */
export type Backend = 'bird' | 'none';

export interface NodeOptions {
  readonly name: string;
  readonly ip?: string;
  readonly ip6?: string;
  /** This host's own AS (asplain); undefined: it inherits the cluster's default. */
  readonly asNum?: string;
  readonly backend: Backend;
  readonly image: string;
  readonly runtime: Runtime;
  readonly logDir: string;
  readonly detach: boolean;
  readonly noPull: boolean;
}

export const CONTAINER_NAME = 'calico-node';
export const SETTINGS_LABEL = 'org.projectcalico.calicoctl.settings';
const CERT_DIR = '/etc/calico/certs';

/**
 * What `calicoctl node` will start, as data: the container (or process) with its environment,
 * mounts and capabilities, in a stable order, so that --dry-run prints the same text every time
 * and a running node can be compared with the one asked for.
 */
export interface ContainerPlan {
  readonly runtime: 'docker';
  readonly spec: ContainerSpec;
}

export interface ProcessPlan {
  readonly runtime: 'process';
  readonly argv: readonly string[];
  readonly env: readonly [string, string][];
  readonly logFile: string;
}

export type StartPlan = ContainerPlan | ProcessPlan | { readonly runtime: 'none' };

/** The etcd variables the agent gets: the same endpoints, with TLS files at fixed in-container paths. */
export function agentEtcdEnv(settings: EtcdSettings, inContainer: boolean): { env: [string, string][]; binds: string[] } {
  const env: [string, string][] = [['ETCD_ENDPOINTS', settings.endpoints.join(',')]];
  const binds: string[] = [];
  const files: [string, string | undefined, string][] = [
    ['ETCD_CA_CERT_FILE', settings.caFile, `${CERT_DIR}/ca_cert.crt`],
    ['ETCD_CERT_FILE', settings.certFile, `${CERT_DIR}/cert.crt`],
    ['ETCD_KEY_FILE', settings.keyFile, `${CERT_DIR}/key.pem`],
  ];
  for (const [name, hostPath, containerPath] of files) {
    if (hostPath === undefined) continue;
    env.push([name, inContainer ? containerPath : hostPath]);
    if (inContainer) binds.push(`${hostPath}:${containerPath}:ro`);
  }
  if (settings.username !== undefined) {
    env.push(['ETCD_USERNAME', settings.username]);
    // The password itself goes into PASSWORD_FILE (start.ts): not into a visible environment, nor a label's hash.
    env.push([PASSWORD_FILE_VAR, PASSWORD_FILE]);
  }
  env.push(['ETCD_TIMEOUT', `${settings.timeoutMs}ms`]);
  return { env, binds };
}

export function planStart(
  options: NodeOptions,
  settings: EtcdSettings,
  env: Readonly<Record<string, string | undefined>>,
  host: { readonly agentCommand: readonly string[]; readonly modulesDirExists: boolean },
): StartPlan {
  if (options.runtime === 'none') return { runtime: 'none' };
  const inContainer = options.runtime === 'docker';
  const etcd = agentEtcdEnv(settings, inContainer);
  const agentEnv: [string, string][] = [
    ['HOSTNAME', options.name],
    ['IP', options.ip ?? ''],
    ['IP6', options.ip6 ?? ''],
    ['CALICO_NETWORKING_BACKEND', options.backend],
    ['AS', options.asNum ?? ''],
    ['NO_DEFAULT_POOLS', env.NO_DEFAULT_POOLS ?? ''],
    ...etcd.env,
  ];
  if (options.runtime === 'process') {
    return {
      runtime: 'process',
      argv: [...host.agentCommand, '--hostname', options.name],
      env: agentEnv,
      logFile: `${options.logDir}/calico-node.log`,
    };
  }
  const binds = [
    `${options.logDir}:/var/log/calico`,
    `${STATE_DIR}:${STATE_DIR}`,
    '/run/docker/plugins:/run/docker/plugins',
    // The plugin asks the engine (`docker info`) whether it has a cluster store, to answer scope
    // global or local (src/agent/plugin/scope.ts); the agent looks for it at Docker's default path.
    `${dockerSocket(env)}:${DEFAULT_DOCKER_SOCKET}`,
    ...(host.modulesDirExists ? ['/lib/modules:/lib/modules:ro'] : []),
    ...etcd.binds,
  ];
  const spec: Omit<ContainerSpec, 'labels'> = {
    name: CONTAINER_NAME,
    image: options.image,
    cmd: ['--log-dir', '/var/log/calico', '--hostname', options.name],
    env: agentEnv.map(([key, value]) => `${key}=${value}`),
    binds,
    // Exactly what the agent needs: iptables, ipset, routes and conntrack on the host's network,
    // and writable /proc/sys for proxy_arp and rp_filter. Not --privileged, which runc refuses here.
    capAdd: ['NET_ADMIN', 'NET_RAW'],
    securityOpt: ['systempaths=unconfined'],
  };
  return { runtime: 'docker', spec: { ...spec, labels: { [SETTINGS_LABEL]: settingsHash(spec) } } };
}

const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';

/** The engine's socket on this host: DOCKER_HOST's path when it is a unix socket, else Docker's default. */
function dockerSocket(env: Readonly<Record<string, string | undefined>>): string {
  const match = /^unix:\/\/(\/?.+)$/.exec(env.DOCKER_HOST ?? '');
  // `unix://var/run/docker.sock` (the original's spelling) names the same path as `unix:///var/run/…`.
  return match ? `/${(match[1] as string).replace(/^\/+/, '')}` : DEFAULT_DOCKER_SOCKET;
}

/** A fingerprint of everything that shapes the running agent. */
export function settingsHash(value: unknown): string {
  // Required here, not at the top: loading crypto costs every command ~2 ms of start-up.
  const { createHash } = require('node:crypto') as typeof import('node:crypto');
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);
}

/** The plan as the command a user could type, the etcd password hidden: the only way a plan is shown. */
export function describePlan(plan: StartPlan): string {
  return maskPassword(planCommand(plan));
}

function planCommand(plan: StartPlan): string {
  switch (plan.runtime) {
    case 'none':
      return 'Nothing would be started (--runtime=none).\n';
    case 'process':
      return `${plan.env.map(([key, value]) => `${key}=${shellQuote(value)}`).join(' ')} ${plan.argv.map(shellQuote).join(' ')} >> ${shellQuote(plan.logFile)} 2>&1 &\n`;
    case 'docker': {
      const { spec } = plan;
      const words = [
        'docker', 'run', '--detach', `--name=${spec.name}`, '--restart=always', '--net=host',
        ...spec.capAdd.map((cap) => `--cap-add=${cap}`),
        ...spec.securityOpt.map((opt) => `--security-opt=${opt}`),
        ...Object.entries(spec.labels).map(([key, value]) => `--label=${key}=${value}`),
        ...spec.env.map((pair) => `--env=${pair}`),
        ...spec.binds.map((bind) => `--volume=${bind}`),
        spec.image,
        ...spec.cmd,
      ];
      return `${words.map(shellQuote).join(' ')}\n`;
    }
  }
}

function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
