import { BIRD_FAMILIES } from '../../agent/contract';
import { type Palette, palette } from '../color';
import type { CommandContext } from '../context';

export type CheckStatus = 'OK' | 'WARN' | 'FAIL';

export interface CheckResult {
  readonly status: CheckStatus;
  readonly name: string;
  readonly detail: string;
}

const MODULES = ['ip_set', 'xt_set', 'nf_conntrack', 'ip6_tables'];

/**
 * What Calico needs from a host: root, the kernel's set and conntrack support, the tools the agent
 * runs, Docker and etcd, and IP forwarding. A WARN is something that could not be told for sure
 * (e.g. a kernel without /lib/modules); only FAILs stop `calicoctl node`.
 */
export async function runSystemChecks(ctx: CommandContext, options: { docker: boolean; forwarding: boolean; bird: boolean }): Promise<CheckResult[]> {
  const { host, runner } = ctx.deps;
  const results: CheckResult[] = [];
  const add = (status: CheckStatus, name: string, detail: string) => results.push({ status, name, detail });

  add(host.isRoot() ? 'OK' : 'FAIL', 'running as root', host.isRoot() ? 'yes' : 'iptables, ipset and routes need root');

  const release = host.readFile('/proc/sys/kernel/osrelease')?.trim() ?? '';
  const builtin = host.readFile(`/lib/modules/${release}/modules.builtin`);
  const available = host.readFile(`/lib/modules/${release}/modules.dep`);
  for (const module of MODULES) {
    const listed = (text: string | undefined) => text !== undefined && new RegExp(`/${module}\\.ko`).test(text);
    if (host.exists(`/sys/module/${module}`)) add('OK', `kernel module ${module}`, 'loaded');
    else if (listed(builtin)) add('OK', `kernel module ${module}`, 'built in');
    else if (listed(available)) add('OK', `kernel module ${module}`, 'available');
    else if (builtin === undefined && available === undefined) add('WARN', `kernel module ${module}`, `cannot tell: no /lib/modules/${release}`);
    else add(module === 'ip6_tables' ? 'WARN' : 'FAIL', `kernel module ${module}`, 'neither loaded, built in nor available');
  }

  const tools: [string, string, string[], CheckStatus][] = [
    ['iptables', 'iptables-save', ['-t', 'filter'], 'FAIL'],
    ['ip6tables', 'ip6tables-save', ['-t', 'filter'], 'WARN'],
    ['ipset', 'ipset', ['list', '-n'], 'FAIL'],
    ['ip (iproute2)', 'ip', ['-V'], 'FAIL'],
    ['conntrack', 'conntrack', ['--version'], 'WARN'],
  ];
  for (const [name, file, args, severity] of tools) {
    try {
      await runner.run(file, args);
      add('OK', name, 'works');
    } catch (error) {
      add(severity, name, firstLine((error as Error).message));
    }
  }

  if (options.bird) {
    // calico-node runs the daemon and reloads it with its client (src/agent/bgp/supervisor.ts);
    // IPv6 needs the second pair only on hosts with an IPv6 address, so its absence is a warning.
    for (const [version, severity] of [[4, 'FAIL'], [6, 'WARN']] as const) {
      const { binary, client } = BIRD_FAMILIES[version];
      const missing = [binary, client].filter((name) => onPath(ctx, name) === undefined);
      if (missing.length === 0) add('OK', `BIRD (IPv${version})`, `${binary} and ${client} installed`);
      else add(severity, `BIRD (IPv${version})`, `${missing.join(' and ')} not found in PATH: install BIRD 1.6 (e.g. apt-get install bird), or use --backend=none`);
    }
  }

  if (options.docker) {
    try {
      const { version, apiVersion } = await ctx.dockerEngine().version();
      add('OK', 'Docker', `Engine ${version} (API ${apiVersion})`);
    } catch (error) {
      add('FAIL', 'Docker', (error as Error).message);
    }
  }
  try {
    const version = await ctx.kv().serverVersion();
    add('OK', 'etcd', `${ctx.settings().endpoints.join(',')} (etcd ${version})`);
  } catch (error) {
    add('FAIL', 'etcd', (error as Error).message);
  }
  if (options.forwarding) {
    const enabled = host.readFile('/proc/sys/net/ipv4/ip_forward')?.trim() === '1';
    add(enabled ? 'OK' : 'FAIL', 'IPv4 forwarding', enabled ? 'enabled' : "disabled: 'calicoctl node' enables it, or sysctl -w net.ipv4.ip_forward=1");
  }
  return results;
}

export function formatChecks(results: readonly CheckResult[], colors: Palette = palette(false)): string {
  const paint = { OK: colors.green, WARN: colors.yellow, FAIL: colors.red };
  return results.map((r) => `${paint[r.status](r.status.padEnd(4))} ${r.name}: ${r.detail}\n`).join('');
}

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Where `name` is in PATH, looked up without running it (BIRD's tools have no --version to ask). */
function onPath(ctx: CommandContext, name: string): string | undefined {
  const dirs = (ctx.env.PATH || DEFAULT_PATH).split(':').filter(Boolean);
  return dirs.map((dir) => `${dir}/${name}`).find((file) => ctx.deps.host.exists(file));
}

function firstLine(text: string): string {
  return text.split('\n')[0]?.trim() ?? text;
}
