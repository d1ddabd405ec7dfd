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

/**
 * Host interfaces the agent creates and owns: the prefix, then 1-11 plain characters (Linux allows
 * 15). Anything that deletes a link by a name read from etcd checks it first, so that a stored name
 * such as `docker0` never reaches `ip link del`.
 */
export function isCalicoInterface(name: string): boolean {
  return /^cali[A-Za-z0-9_.-]{1,11}$/.test(name);
}

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
  readonly lastApply?: {
    readonly at: string;
    readonly ok: boolean;
    readonly durationMs: number;
    readonly error?: string;
    /** Kernel objects (a chain, a set) the kernel refused, each with its error; everything else was applied. */
    readonly failures?: readonly { readonly item: string; readonly error: string }[];
  };
}

/**
 * Where `calicoctl node` leaves the etcd password for the agent it starts (mode 0600, in STATE_DIR,
 * which the container also mounts): the agent's environment, command line and labels are visible
 * to anyone who may list processes or inspect containers, so the password is in none of them.
 */
export const PASSWORD_FILE = `${STATE_DIR}/etcd-password`;
/** The variable naming that file; the agent reads it when ETCD_PASSWORD itself is not set. */
export const PASSWORD_FILE_VAR = 'ETCD_PASSWORD_FILE';

/**
 * Hides the etcd password wherever a command line or environment is shown to a user. The value
 * runs to the end of its shell word, whichever way that word is quoted, also when the quote opened
 * before the name (`'--env=ETCD_PASSWORD=a b'`), so no part of a value with spaces or quotes shows.
 */
export function maskPassword(text: string): string {
  const name = 'ETCD_PASSWORD=';
  let out = '';
  let quote: "'" | '"' | undefined; // the quote open at position i
  let i = 0;
  while (i < text.length) {
    if (text.startsWith(name, i)) {
      const opened = quote;
      i += name.length;
      // Consume the rest of the word: up to unquoted white space (or a newline), tracking quotes.
      for (; i < text.length; i++) {
        const c = text[i] as string;
        if (quote === undefined) {
          if (/\s/.test(c)) break;
          if (c === "'" || c === '"') quote = c;
          else if (c === '\\') i++;
        } else if (quote === '"') {
          if (c === '\\') i++;
          else if (c === '"') quote = undefined;
        } else if (c === "'") quote = undefined;
        if (c === '\n') break;
      }
      // Close the quote that was open before the name, as the word did.
      out += `${name}<hidden>${opened ?? ''}`;
      quote = undefined;
      continue;
    }
    const c = text[i] as string;
    if (quote === undefined) {
      if (c === "'" || c === '"') quote = c;
      else if (c === '\n') quote = undefined;
    } else if (c === quote || c === '\n') quote = undefined;
    else if (quote === '"' && c === '\\') {
      out += c;
      i++;
      out += text[i] ?? '';
      i++;
      continue;
    }
    out += c;
    i++;
  }
  return out;
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
