import { BgpStore } from '../../../datastore/bgp';
import { HostStore } from '../../../datastore/hosts';
import { isDataFormat, OUTPUT_OPTION, type OutputFormat, renderData } from '../../output';
import { command } from '../../spec';
import { renderTable } from '../../table';
import { peerLines, sortedPeers } from '../bgp/peers';

export default command<{ output: OutputFormat }>({
  path: ['node', 'show'],
  summary: 'List the hosts registered in etcd, with their BGP addresses, AS and own peers (-o wide: and endpoints)',
  options: [OUTPUT_OPTION],
  writes: false,
  async run({ output }, ctx) {
    const bgp = new BgpStore(ctx.kv());
    const [hosts, endpoints, defaultAs] = await Promise.all([new HostStore(ctx.kv(), ctx.report).list(), ctx.endpoints().list(), bgp.defaultAs()]);
    const nodes = await Promise.all(
      [...hosts]
        .sort((a, b) => (a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0))
        .map(async (h) => {
          const [asNum, peersV4, peersV6] = await Promise.all([bgp.hostAs(h.hostname), bgp.nodePeers(h.hostname, 4), bgp.nodePeers(h.hostname, 6)]);
          return { ...h, asNum, peersV4, peersV6, endpoints: endpoints.filter((e) => e.hostname === h.hostname).length };
        }),
    );
    if (isDataFormat(output)) {
      const documents = nodes.map((n) => ({
        hostname: n.hostname,
        ipv4: n.ipv4,
        ipv6: n.ipv6,
        as_num: n.asNum ?? defaultAs,
        as_inherited: n.asNum === undefined,
        peers_v4: sortedPeers(n.peersV4).map((p) => ({ ip: p.ip, as_num: p.asNum })),
        peers_v6: sortedPeers(n.peersV6).map((p) => ({ ip: p.ip, as_num: p.asNum })),
        endpoints: n.endpoints,
      }));
      ctx.io.out.write(renderData(output, documents));
      return;
    }
    const wide = output === 'wide';
    const headers = ['Hostname', 'Bird IPv4', 'Bird IPv6', 'AS Num', 'BGP Peers v4', 'BGP Peers v6', ...(wide ? ['Endpoints'] : [])];
    const rows = nodes.map((n) => [
      n.hostname,
      n.ipv4,
      n.ipv6,
      n.asNum ?? `${defaultAs} (inherited)`,
      peerLines(n.peersV4),
      peerLines(n.peersV6),
      ...(wide ? [String(n.endpoints)] : []),
    ]);
    // As v0.23: the table, then an empty line.
    ctx.io.out.write(`${renderTable(headers, rows)}\n`);
  },
});
