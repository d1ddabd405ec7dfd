import { type Peer, parseAsNumber } from '../../../datastore/bgp';
import type { IpVersion } from '../../../policy/ast';
import { parseIp } from '../../../policy/cidr';
import type { CommandContext } from '../../context';
import { CommandError, UsageError } from '../../errors';
import { isDataFormat, OUTPUT_OPTION, type OutputFormat, renderData } from '../../output';
import type { ArgumentSpec, OptionSpec } from '../../spec';
import { renderTable } from '../../table';

/**
 * What `bgp peer …` (global peers) and `node bgp peer …` (this host's peers) share: the words,
 * the checks of <PEER_IP> and <AS_NUM> made before etcd is touched, and the peer table.
 */

/** `<PEER_IP> as <AS_NUM>`: the middle word is a literal, which Commander checks as a one-word choice. */
export const PEER_ADD_ARGS: readonly ArgumentSpec[] = [
  { syntax: '<PEER_IP>', key: 'ip', description: "the peer's IPv4 or IPv6 address" },
  { syntax: '<as>', key: 'as', description: 'the word as', choices: ['as'] },
  { syntax: '<AS_NUM>', key: 'asNum', description: "the peer's AS number, asplain (64512) or dotted (1.10)" },
];

export const PEER_SHOW_OPTIONS: readonly OptionSpec[] = [
  { flags: '--ipv4', description: 'IPv4 peers only' },
  { flags: '--ipv6', description: 'IPv6 peers only' },
  OUTPUT_OPTION,
];

export interface PeerShowFlags {
  ipv4?: boolean;
  ipv6?: boolean;
  output: OutputFormat;
}

/** <PEER_IP>, IPv4 or IPv6, in its canonical text. */
export function peerAddress(text: string): { version: IpVersion; text: string } {
  const parsed = parseIp(text);
  if (!parsed) throw new CommandError('Invalid IP address specified.');
  return parsed;
}

/** <AS_NUM> (or --as), asplain or dotted, as asplain text. */
export function asNumber(text: string): string {
  const asNum = parseAsNumber(text);
  if (asNum === undefined) throw new CommandError('Invalid AS Number specified.');
  return asNum;
}

/**
 * Per IP version, a left-aligned table `<heading> | AS Num` sorted by address, or `empty(version)`
 * and an empty line; with -o json|yaml, one list of `{ip, version, as_num}`.
 */
export async function showPeers(
  ctx: CommandContext,
  flags: PeerShowFlags,
  list: (version: IpVersion) => Promise<Peer[]>,
  heading: (version: IpVersion) => string,
  empty: (version: IpVersion) => string,
): Promise<void> {
  if (flags.ipv4 && flags.ipv6) throw new UsageError('Give --ipv4 or --ipv6, not both.');
  const versions: IpVersion[] = flags.ipv4 ? [4] : flags.ipv6 ? [6] : [4, 6];
  const peers = await Promise.all(versions.map(async (version) => ({ version, peers: await list(version) })));
  if (isDataFormat(flags.output)) {
    const documents = peers.flatMap(({ version, peers: found }) => sortedPeers(found).map((p) => ({ ip: p.ip, version, as_num: p.asNum })));
    ctx.io.out.write(renderData(flags.output, documents));
    return;
  }
  for (const { version, peers: found } of peers) {
    if (found.length === 0) ctx.io.out.write(`${empty(version)}\n\n`);
    else ctx.io.out.write(renderTable([heading(version), 'AS Num'], sortedPeers(found).map((p) => [p.ip, p.asNum]), 'left'));
  }
}

/** By address, compared as v0.23's PrettyTable compared them: as text. */
export function sortedPeers(peers: readonly Peer[]): Peer[] {
  return [...peers].sort((a, b) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0));
}

/** `<ip> as <as>`, one per line: a peers cell of `node show`. */
export function peerLines(peers: readonly Peer[]): string {
  return sortedPeers(peers).map((p) => `${p.ip} as ${p.asNum}`).join('\n');
}
