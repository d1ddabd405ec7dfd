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
/** There exactly when the kernel has IPv6: the default IPv6 pool is made only then. */
export const KERNEL_IPV6_FILE = '/proc/sys/net/ipv6/conf/all/forwarding';
/** How the agent and `calicoctl node` report a default pool they made. */
export const defaultPoolMessage = (cidr: string): string => `Created the default IPv${cidr.includes(':') ? 6 : 4} pool ${cidr}`;

/** The environment variable that stops the agent and `calicoctl node` from creating the default pools. */
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

/**
 * BIRD as calico-node runs it (src/agent/bgp/supervisor.ts): per IP family, the daemon, its
 * control client and the control socket in STATE_DIR, which `calicoctl status` and `checksystem`
 * use too.
 */
export const BIRD_FAMILIES = {
  4: { binary: 'bird', client: 'birdc', socket: 'bird.ctl', config: 'bird.cfg' },
  6: { binary: 'bird6', client: 'birdc6', socket: 'bird6.ctl', config: 'bird6.cfg' },
} as const;

/** The kinds of BGP peer, as the first word of a BIRD protocol's name, and how `calicoctl status` calls them. */
export const PEER_KINDS = { Mesh: 'node-to-node mesh', Node: 'node specific', Global: 'global' } as const;
export type PeerKind = keyof typeof PEER_KINDS;

/** `Mesh_10_0_0_2`, `Global_fd00__1`: the BIRD protocol of one peer (BIRD names allow no dots or colons). */
export function protocolName(kind: PeerKind, ip: string): string {
  return `${kind}_${ip.split(ip.includes(':') ? ':' : '.').join('_')}`;
}

/** The peer a protocol name was made for by protocolName, or undefined for BIRD's other protocols (kernel, device, …). */
export function parseProtocolName(name: string, version: 4 | 6): { kind: PeerKind; ip: string } | undefined {
  const match = /^(Mesh|Node|Global)_([0-9A-Fa-f_]+)$/.exec(name);
  if (!match) return undefined;
  return { kind: match[1] as PeerKind, ip: (match[2] as string).split('_').join(version === 4 ? '.' : ':') };
}
