import { spawnSync } from 'child_process';

/** A container's Calico endpoint as the host sees it: its address and its host-side interface. */
export interface ContainerEndpoint {
  readonly container: string;
  readonly ip: string;
  readonly iface: string;
}

/** Reads a running container's address and host veth name (`cali` + the first 11 characters of its endpoint ID). */
export function containerEndpoint(container: string): ContainerEndpoint {
  const result = spawnSync('docker', ['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.EndpointID}} {{.IPAddress}}{{end}}', container], { encoding: 'utf8' });
  const [endpointId = '', ip = ''] = result.stdout.trim().split(' ');
  return { container, ip, iface: `cali${endpointId.slice(0, 11)}` };
}

function run(argv: readonly string[]): string {
  const result = spawnSync(argv[0] as string, argv.slice(1), { encoding: 'utf8', maxBuffer: 64 << 20 });
  return `${result.stdout ?? ''}${result.stderr ?? ''}`.trimEnd() || `(exit ${result.status}, no output)`;
}

function sysctl(path: string): string {
  return run(['cat', `/proc/sys/${path}`]);
}

/**
 * What the host's kernel has for each endpoint, for a test or benchmark whose packets did not get
 * through: the interface, its route and neighbour entry, proxy ARP and rp_filter, the filter rules
 * that name it (dispatch entries and its own chains), `extraChains` in full, the agent's routes
 * and the tail of the agent's log. Each line says which of the usual suspects is missing.
 */
export function diagnoseDataplane(endpoints: readonly ContainerEndpoint[], agentLog: string, extraChains: readonly string[] = []): string {
  const filter = run(['iptables-save', '-t', 'filter']).split('\n');
  const out: string[] = [];
  for (const e of endpoints) {
    if (!e.ip || e.iface === 'cali') {
      out.push(`--- ${e.container}: no Calico endpoint (is it running?): ${run(['docker', 'ps', '-a', '--filter', `name=${e.container}`, '--format', '{{.Status}}'])}`);
      continue;
    }
    const suffix = e.iface.slice(4);
    const route = run(['ip', '-4', 'route', 'show', 'exact', `${e.ip}/32`]);
    const neigh = run(['ip', 'neigh', 'show', e.ip, 'dev', e.iface]);
    out.push(
      `--- ${e.container}: ${e.ip} on ${e.iface}`,
      `link:      ${run(['ip', '-o', 'link', 'show', 'dev', e.iface])}`,
      `route:     ${route.includes(e.iface) ? route : `MISSING (ip route show exact ${e.ip}/32: ${route || 'nothing'})`}`,
      `route get: ${run(['ip', 'route', 'get', e.ip])}`,
      `neigh:     ${neigh.includes('PERMANENT') ? neigh : `MISSING permanent entry (${neigh || 'nothing'})`}`,
      `proxy_arp: ${sysctl(`net/ipv4/conf/${e.iface}/proxy_arp`)}  rp_filter: ${sysctl(`net/ipv4/conf/${e.iface}/rp_filter`)}`,
      'rules naming it:',
      ...filter.filter((line) => line.includes(e.iface) || line.includes(`-${suffix} `) || line.endsWith(`-${suffix}`)).map((line) => `  ${line}`),
    );
  }
  for (const chain of extraChains) {
    out.push(`--- chain ${chain}:`, ...filter.filter((line) => line.startsWith(`-A ${chain} `) || line.startsWith(`:${chain} `)).map((line) => `  ${line}`));
  }
  const tagSets = run(['ipset', 'list', '-n'])
    .split('\n')
    .filter((name) => /^cali4-t-/.test(name) && !/^cali4-t-synthetic-/.test(name));
  for (const set of tagSets) out.push(`--- ipset ${set}: ${run(['ipset', 'list', set]).split('\n').filter((l) => /^\d/.test(l)).join(' ') || '(empty)'}`);
  out.push('--- agent log (last 40 lines):', ...agentLog.trimEnd().split('\n').slice(-40));
  return out.join('\n');
}
