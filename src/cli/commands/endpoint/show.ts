import type { Endpoint } from '../../../datastore/endpoints';
import { isDataFormat, OUTPUT_OPTION, type OutputFormat, QUIET_OPTION, renderData } from '../../output';
import { command } from '../../spec';
import { renderTable, sortRows } from '../../table';
import { ENDPOINT_OPTION, FILTER_OPTIONS, type Filters, findEndpoints } from './filters';
import { printableLines } from '../../printable';

export default command<Filters & { detailed?: boolean; output: OutputFormat; quiet?: boolean }>({
  path: ['endpoint', 'show'],
  summary: 'Summarise endpoints per host, or list them with --detailed',
  options: [...FILTER_OPTIONS, ENDPOINT_OPTION, { flags: '--detailed', description: 'one row per endpoint, with addresses, MAC, profiles and state' }, OUTPUT_OPTION, QUIET_OPTION],
  writes: false,
  async run(options, ctx) {
    const endpoints = await findEndpoints(ctx, options);
    if (options.quiet) {
      ctx.io.out.write(printableLines(endpoints.map((e) => e.endpoint).sort()));
      return;
    }
    if (isDataFormat(options.output)) {
      const documents = endpoints.map((e) => ({
        hostname: e.hostname,
        orchestrator: e.orchestrator,
        workload: e.workload,
        endpoint: e.endpoint,
        state: e.state,
        name: e.name,
        mac: e.mac,
        profile_ids: e.profileIds,
        ipv4_nets: e.ipv4Nets,
        ipv6_nets: e.ipv6Nets,
        labels: e.labels,
      }));
      ctx.io.out.write(renderData(options.output, documents.sort((a, b) => (`${a.hostname}/${a.endpoint}` < `${b.hostname}/${b.endpoint}` ? -1 : 1))));
      return;
    }
    if (options.detailed || options.output === 'wide') {
      ctx.io.out.write(detailedTable(endpoints));
      return;
    }
    const summary = new Map<string, { host: string; orchestrator: string; workloads: Set<string>; count: number }>();
    for (const e of endpoints) {
      const key = JSON.stringify([e.hostname, e.orchestrator]);
      const entry = summary.get(key) ?? { host: e.hostname, orchestrator: e.orchestrator, workloads: new Set(), count: 0 };
      entry.workloads.add(e.workload);
      entry.count++;
      summary.set(key, entry);
    }
    const rows = [...summary.values()].map((s) => [s.host, s.orchestrator, String(s.workloads.size), String(s.count)]);
    ctx.io.out.write(`${renderTable(['Hostname', 'Orchestrator ID', 'Number of Workloads', 'Number of Endpoints'], sortRows(rows))}\n`);
  },
});

/** One row per endpoint: `endpoint show --detailed` and `container <CONTAINER> endpoint show`. */
export function detailedTable(endpoints: readonly Endpoint[]): string {
  const rows = endpoints.map((e) => [e.hostname, e.orchestrator, e.workload, e.endpoint, [...e.ipv4Nets, ...e.ipv6Nets].join('\n'), e.mac, e.profileIds.join(','), e.state]);
  const headers = ['Hostname', 'Orchestrator ID', 'Workload ID', 'Endpoint ID', 'Addresses', 'MAC', 'Profiles', 'State'];
  return `${renderTable(headers, sortRows(rows))}\n`;
}
