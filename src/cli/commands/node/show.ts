import { HostStore } from '../../../datastore/hosts';
import { isDataFormat, OUTPUT_OPTION, type OutputFormat, renderData } from '../../output';
import { command } from '../../spec';
import { renderTable, sortRows } from '../../table';

export default command<{ output: OutputFormat }>({
  path: ['node', 'show'],
  summary: 'List the hosts registered in etcd',
  options: [OUTPUT_OPTION],
  writes: false,
  async run({ output }, ctx) {
    const [hosts, endpoints] = await Promise.all([new HostStore(ctx.kv()).list(), ctx.endpoints().list()]);
    if (isDataFormat(output)) {
      const documents = hosts.map((h) => ({ ...h, endpoints: endpoints.filter((e) => e.hostname === h.hostname).length }));
      ctx.io.out.write(renderData(output, documents.sort((a, b) => (a.hostname < b.hostname ? -1 : 1))));
      return;
    }
    const rows = hosts.map((h) => [h.hostname, h.ipv4, h.ipv6, String(endpoints.filter((e) => e.hostname === h.hostname).length)]);
    ctx.io.out.write(renderTable(['Hostname', 'IPv4', 'IPv6', 'Endpoints'], sortRows(rows)));
  },
});
