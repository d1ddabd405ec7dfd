import { BIRD_FAMILIES, PEER_KINDS, parseProtocolName, STATE_DIR } from '../../agent/contract';
import { BgpStore } from '../../datastore/bgp';
import { HostStore } from '../../datastore/hosts';
import type { IpVersion } from '../../policy/ast';
import type { CommandContext } from '../context';
import { renderTable } from '../table';
import { type Backend, CONTAINER_NAME } from './node/plan';

/**
 * The BGP part of `calicoctl status`: per IP family, this host's address and AS from etcd, and
 * BIRD's protocol table as `birdc show protocols` gives it, read back into peers by the names
 * calico-node gives its protocols (src/agent/contract.ts).
 */

export interface BgpPeerStatus {
  readonly address: string;
  readonly type: string;
  readonly state: string;
  readonly since: string;
  readonly info: string;
}

export interface BgpFamilyStatus {
  /** This host's address for BGP; absent: none configured, and nothing else is told. */
  readonly ip?: string;
  readonly asNum?: string;
  readonly asInherited?: boolean;
  /** BIRD's sessions, when BIRD answered. */
  readonly peers?: BgpPeerStatus[];
  /** Why there are no sessions to show (BIRD not running, not asked, …), in one line. */
  readonly bird?: string;
}

export interface BgpStatus {
  readonly backend: Backend;
  readonly ipv4: BgpFamilyStatus;
  readonly ipv6: BgpFamilyStatus;
}

export async function collectBgpStatus(ctx: CommandContext, hostname: string, backend: Backend, runtime?: 'docker' | 'process'): Promise<BgpStatus> {
  const bgp = new BgpStore(ctx.kv());
  const [hosts, own, defaultAs] = await Promise.all([new HostStore(ctx.kv()).list(), bgp.hostAs(hostname), bgp.defaultAs()]);
  const host = hosts.find((h) => h.hostname === hostname);
  const family = async (version: IpVersion, ip: string | undefined): Promise<BgpFamilyStatus> => {
    if (!ip) return {};
    const as = { ip, asNum: own ?? defaultAs, asInherited: own === undefined };
    if (backend === 'none') return { ...as, bird: 'BIRD is not run on this host (backend none).' };
    return { ...as, ...(await birdProtocols(ctx, version, runtime)) };
  };
  const [ipv4, ipv6] = await Promise.all([family(4, host?.ipv4), family(6, host?.ipv6)]);
  return { backend, ipv4, ipv6 };
}

async function birdProtocols(ctx: CommandContext, version: IpVersion, runtime: 'docker' | 'process' | undefined): Promise<{ peers: BgpPeerStatus[] } | { bird: string }> {
  const { client, socket } = BIRD_FAMILIES[version];
  const path = `${STATE_DIR}/${socket}`;
  if (!ctx.deps.host.exists(path)) return { bird: `BIRD is not running (no ${path}).` };
  const ask = [client, '-s', path, 'show', 'protocols'];
  let output: string;
  try {
    output = await ctx.deps.runner.run(client, ask.slice(1));
  } catch (error) {
    const text = (error as Error).message;
    if (!/ENOENT/.test(text)) return { bird: `Could not ask BIRD (${client} -s ${path}): ${text.split('\n')[0]}` };
    if (runtime !== 'docker') return { bird: `${client} is not installed: BIRD's sessions cannot be shown.` };
    // The host need not have BIRD when the agent runs as a container: its image does.
    try {
      output = await ctx.deps.runner.run('docker', ['exec', CONTAINER_NAME, ...ask]);
    } catch (inside) {
      return { bird: `${client} is not installed here, and asking it in the ${CONTAINER_NAME} container failed: ${(inside as Error).message.split('\n')[0]}` };
    }
  }
  const peers = parseBirdProtocols(output, version);
  return peers ? { peers } : { bird: `BIRD's answer was not a protocol table: ${output.trim().split('\n')[0] ?? ''}` };
}

/**
 * The BGP sessions in `birdc show protocols`, or undefined when the output holds no protocol table.
 * Protocols that are not peers (kernel, device, direct) are left out.
 */
export function parseBirdProtocols(output: string, version: IpVersion): BgpPeerStatus[] | undefined {
  const peers: BgpPeerStatus[] = [];
  let found = false;
  for (const raw of output.split('\n')) {
    // birdc reading commands from a terminal reprints its prompt over the output.
    const line = (raw.startsWith('bird>') ? raw.slice(5) : raw).trim();
    if (!line) continue;
    const columns = splitColumns(line);
    if (columns.join(' ') === 'name proto table state since info') {
      found = true;
      continue;
    }
    if (!found || columns.length < 5) continue;
    const peer = parseProtocolName(columns[0] as string, version);
    if (!peer) continue;
    peers.push({ address: peer.ip, type: PEER_KINDS[peer.kind], state: columns[3] as string, since: columns[4] as string, info: columns[5] ?? '' });
  }
  return found ? peers : undefined;
}

/** Five whitespace-separated columns and the rest of the line (BIRD's info column may hold spaces). */
function splitColumns(line: string): string[] {
  const match = /^(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)(?:\s+(.*))?$/.exec(line);
  if (!match) return line.split(/\s+/);
  return match.slice(1).filter((c): c is string => c !== undefined);
}

/** The text v0.23 printed after the agent's status: per family, the address, the AS and the sessions. */
export function describeBgpStatus(status: BgpStatus): string {
  let text = '';
  for (const [version, family] of [[4, status.ipv4], [6, status.ipv6]] as const) {
    text += `${version === 4 ? '\n' : ''}IPv${version} BGP status\n`;
    if (family.ip === undefined) {
      text += `No IPv${version} address configured.\n\n`;
      continue;
    }
    text += `IP: ${family.ip}    AS Number: ${family.asNum}${family.asInherited ? ' (inherited)' : ''}\n`;
    if (family.peers) text += `${renderTable(['Peer address', 'Peer type', 'State', 'Since', 'Info'], family.peers.map((p) => [p.address, p.type, p.state, p.since, p.info]))}\n`;
    else text += `${family.bird}\n\n`;
  }
  return text;
}
