/**
 * What calico-node promises to whoever starts and inspects it (`calicoctl node`, `status`,
 * `diags`, `version`): where it reports, what it prints when it is ready, which settings it reads.
 * The CLI may import this module and nothing else of the agent's, so it imports nothing itself;
 * see ARCHITECTURE.md ("Layers").
 */

/** The line the agent logs once it serves the plugin and its dataplane is in sync. */
export const STARTED_MESSAGE = 'Calico node started successfully';

/** Where the agent keeps its state on the host; bind-mounted into the node container. */
export const STATE_DIR = '/var/run/calico';
/** The status file the agent rewrites atomically in STATE_DIR (see AgentStatus). */
export const STATUS_FILE = 'calico-node.json';
/** `calicoctl node --runtime=process` records the agent's pid here (older layout)… */
export const PID_FILE = `${STATE_DIR}/calico-node.pid`;
/** …and its pid with a fingerprint of its settings here. */
export const PROCESS_FILE = `${STATE_DIR}/calico-node.process.json`;

/** Routing between containers needs both; the agent and `calicoctl node` turn them on. */
export const FORWARDING_SYSCTLS = ['/proc/sys/net/ipv4/ip_forward', '/proc/sys/net/ipv6/conf/all/forwarding'] as const;

/**
 * Host interfaces the agent creates and owns: the prefix, then 1-11 plain characters (Linux allows
 * 15). Anything that deletes a link by a name read from etcd checks it first, so that a stored name
 * such as `docker0` never reaches `ip link del`.
 */
export function isCalicoInterface(name: string): boolean {
  return /^cali[A-Za-z0-9_.-]{1,11}$/.test(name);
}

/** The environment variable that stops the agent and `calicoctl node` from creating the default pool. */
export const NO_DEFAULT_POOLS = 'NO_DEFAULT_POOLS';
export function noDefaultPools(env: NodeJS.ProcessEnv): boolean {
  return (env[NO_DEFAULT_POOLS] ?? '').toLowerCase() === 'true';
}

/** What the status file holds: who runs, since when, and how the last dataplane apply went. */
export interface AgentStatus {
  readonly pid: number;
  readonly version: string;
  readonly hostname: string;
  readonly startedAt: string;
  readonly lastApply?: { readonly at: string; readonly ok: boolean; readonly durationMs: number; readonly error?: string };
}

/**
 * Hides the etcd password wherever a command line or environment is shown to a user, in any form
 * a shell may quote it (`ETCD_PASSWORD=s3cret`, `'ETCD_PASSWORD=a b'`, `ETCD_PASSWORD='a b'`).
 */
export function maskPassword(text: string): string {
  return text
    .replace(/'ETCD_PASSWORD=(?:[^']|'\\'')*'/g, "'ETCD_PASSWORD=<hidden>'")
    .replace(/ETCD_PASSWORD='(?:[^']|'\\'')*'/g, 'ETCD_PASSWORD=<hidden>')
    .replace(/ETCD_PASSWORD="(?:[^"\\]|\\.)*"/g, 'ETCD_PASSWORD=<hidden>')
    .replace(/ETCD_PASSWORD=(?!<hidden>)\S+/g, 'ETCD_PASSWORD=<hidden>');
}
