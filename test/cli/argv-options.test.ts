import { reorderWords } from '../../src/cli/argv';
import { SPECS } from '../../src/cli/commands';
import type { Deps } from '../../src/cli/context';
import { buildProgram } from '../../src/cli/program';
import type { CommandSpec } from '../../src/cli/spec';

/**
 * argv -> options for every verb, without running anything: the program is built with an action
 * that only records which spec was chosen and the options it would have been given.
 */
function parse(argv: string[]): { path: string; options: Record<string, unknown> } {
  let chosen: { path: string; options: Record<string, unknown> } | undefined;
  const deps = { io: { out: { write: () => true }, err: { write: () => true } }, env: {}, version: '0.0.0-test' } as unknown as Deps;
  const { root } = buildProgram(deps, (spec: CommandSpec<unknown>, options) => {
    chosen = { path: spec.path.join(' '), options };
  });
  root.parse(reorderWords(argv), { from: 'user' });
  if (!chosen) throw new Error(`no command ran for ${argv.join(' ')}`);
  return chosen;
}

const CASES: [string, string, Record<string, unknown>][] = [
  ['profile show', 'profile show', { output: 'table' }],
  ['profile show --detailed -o json', 'profile show', { detailed: true, output: 'json' }],
  ['profile show -q', 'profile show', { output: 'table', quiet: true }],
  ['profile add web', 'profile add', { name: 'web' }],
  ['profile add web --dry-run', 'profile add', { name: 'web', dryRun: true }],
  ['profile remove web', 'profile remove', { name: 'web', check: true }],
  ['profile remove web --no-check', 'profile remove', { name: 'web', check: false }],
  ['profile web rule add inbound allow tcp to ports 80', 'profile rule add', { name: 'web', words: ['inbound', 'allow', 'tcp', 'to', 'ports', '80'] }],
  ['profile web rule add inbound --at=2 deny', 'profile rule add', { name: 'web', words: ['inbound', 'deny'], at: '2' }],
  ['profile web rule add outbound --at 1 allow icmp', 'profile rule add', { name: 'web', words: ['outbound', 'allow', 'icmp'], at: '1' }],
  ['profile web rule remove inbound --at=1', 'profile rule remove', { name: 'web', words: ['inbound'], at: '1' }],
  ['profile web rule remove outbound allow', 'profile rule remove', { name: 'web', words: ['outbound', 'allow'] }],
  ['profile web rule show', 'profile rule show', { name: 'web', output: 'table' }],
  ['profile web rule show -o yaml', 'profile rule show', { name: 'web', output: 'yaml' }],
  ['profile web rule show --counts -o json', 'profile rule show', { name: 'web', counts: true, output: 'json' }],
  ['profile web rule json', 'profile rule json', { name: 'web' }],
  ['profile web rule update', 'profile rule update', { name: 'web' }],
  ['profile web tag show', 'profile tag show', { name: 'web', output: 'table' }],
  ['profile web tag add db', 'profile tag add', { name: 'web', tag: 'db' }],
  ['profile web tag remove db', 'profile tag remove', { name: 'web', tag: 'db' }],
  ['endpoint show', 'endpoint show', { output: 'table' }],
  ['endpoint show --host h1 --orchestrator o --workload w --endpoint e --detailed', 'endpoint show', { host: 'h1', orchestrator: 'o', workload: 'w', endpoint: 'e', detailed: true, output: 'table' }],
  ['endpoint e1 profile append p1 p2', 'endpoint profile append', { id: 'e1', names: ['p1', 'p2'] }],
  ['endpoint e1 profile remove p1 --host h1', 'endpoint profile remove', { id: 'e1', names: ['p1'], host: 'h1' }],
  ['endpoint e1 profile set', 'endpoint profile set', { id: 'e1', names: [] }],
  ['endpoint e1 profile show --workload w', 'endpoint profile show', { id: 'e1', workload: 'w' }],
  ['container add web 10.65.0.5', 'container add', { container: 'web', ip: '10.65.0.5', interface: 'eth1' }],
  ['container add web ipv6 --interface=eth2', 'container add', { container: 'web', ip: 'ipv6', interface: 'eth2' }],
  ['container remove web', 'container remove', { container: 'web' }],
  ['container web ip add 10.65.0.0/16', 'container ip add', { container: 'web', ip: '10.65.0.0/16', interface: 'eth1' }],
  ['container web ip remove 10.65.0.5 --interface eth2', 'container ip remove', { container: 'web', ip: '10.65.0.5', interface: 'eth2' }],
  ['container web endpoint show', 'container endpoint show', { container: 'web' }],
  ['container web profile append p1 p2', 'container profile append', { container: 'web', names: ['p1', 'p2'] }],
  ['container web profile remove p1', 'container profile remove', { container: 'web', names: ['p1'] }],
  ['container web profile set', 'container profile set', { container: 'web', names: [] }],
  ['container web profile show', 'container profile show', { container: 'web' }],
  ['policy trace app1 db1', 'policy trace', { from: 'app1', to: 'db1', words: [], output: 'table' }],
  ['policy trace --any applications db1 tcp 3306 -o json', 'policy trace', { from: 'applications', to: 'db1', words: ['tcp', '3306'], any: true, output: 'json' }],
  ['policy matrix', 'policy matrix', { words: [], output: 'table' }],
  ['policy matrix --network a --network b --containers udp 53', 'policy matrix', { words: ['udp', '53'], network: ['a', 'b'], containers: true, output: 'table' }],
  ['pool add 10.0.0.0/16 fd00::/64 --nat-outgoing', 'pool add', { cidrs: ['10.0.0.0/16', 'fd00::/64'], natOutgoing: true }],
  ['pool add 10.0.0.0/16 --ipip', 'pool add', { cidrs: ['10.0.0.0/16'], ipip: true }],
  ['pool remove 10.0.0.0/16', 'pool remove', { cidrs: ['10.0.0.0/16'] }],
  ['pool range add 10.0.0.0 10.0.1.255', 'pool range add', { start: '10.0.0.0', end: '10.0.1.255' }],
  ['pool show --ipv4', 'pool show', { ipv4: true, output: 'table' }],
  ['bgp peer add 192.0.2.1 as 64512', 'bgp peer add', { ip: '192.0.2.1', as: 'as', asNum: '64512' }],
  ['bgp peer add fd00::1 as 1.10 --dry-run', 'bgp peer add', { ip: 'fd00::1', as: 'as', asNum: '1.10', dryRun: true }],
  ['bgp peer remove 192.0.2.1', 'bgp peer remove', { ip: '192.0.2.1' }],
  ['bgp peer show', 'bgp peer show', { output: 'table' }],
  ['bgp peer show --ipv6 -o json', 'bgp peer show', { ipv6: true, output: 'json' }],
  ['bgp node-mesh', 'bgp node-mesh', { output: 'table' }],
  ['bgp node-mesh off', 'bgp node-mesh', { state: 'off', output: 'table' }],
  ['bgp node-mesh on --dry-run', 'bgp node-mesh', { state: 'on', output: 'table', dryRun: true }],
  ['bgp default-node-as', 'bgp default-node-as', { output: 'table' }],
  ['bgp default-node-as 64512', 'bgp default-node-as', { asNum: '64512', output: 'table' }],
  ['bgp default-node-as -o yaml', 'bgp default-node-as', { output: 'yaml' }],
  ['ipam info 10.0.0.1', 'ipam info', { ip: '10.0.0.1' }],
  ['ipam release 10.0.0.1', 'ipam release', { ip: '10.0.0.1' }],
  ['node', 'node', { nodeImage: 'calicoctl/calico-node:0.0.0-test', runtime: 'docker', logDir: '/var/log/calico', detach: 'true', pull: true }],
  [
    'node --ip=192.0.2.2 --ip6 fd00::2 --name h1 --runtime=process --detach=false --no-pull --dry-run',
    'node',
    { ip: '192.0.2.2', ip6: 'fd00::2', name: 'h1', nodeImage: 'calicoctl/calico-node:0.0.0-test', runtime: 'process', logDir: '/var/log/calico', detach: 'false', pull: false, dryRun: true },
  ],
  ['node stop --force', 'node stop', { force: true }],
  ['node remove --hostname h2 --remove-endpoints', 'node remove', { hostname: 'h2', removeEndpoints: true }],
  ['node show -o json', 'node show', { output: 'json' }],
  ['node --as=64512 --backend=none', 'node', { as: '64512', backend: 'none', nodeImage: 'calicoctl/calico-node:0.0.0-test', runtime: 'docker', logDir: '/var/log/calico', detach: 'true', pull: true }],
  ['config felix loglevel', 'config felix', { name: 'loglevel', output: 'table' }],
  ['config felix loglevel debug --dry-run', 'config felix', { name: 'loglevel', value: 'debug', output: 'table', dryRun: true }],
  ['config felix loglevel --remove', 'config felix', { name: 'loglevel', remove: true, output: 'table' }],
  ['config felix LogFilePath none --force', 'config felix', { name: 'LogFilePath', value: 'none', force: true, output: 'table' }],
  ['config bgp loglevel -o json', 'config bgp', { name: 'loglevel', output: 'json' }],
  ['config bgp --force loglevel verbose', 'config bgp', { name: 'loglevel', value: 'verbose', force: true, output: 'table' }],
  ['config node bgp loglevel none', 'config node bgp', { name: 'loglevel', value: 'none', output: 'table' }],
  ['config node bgp loglevel --remove --dry-run', 'config node bgp', { name: 'loglevel', remove: true, output: 'table', dryRun: true }],
  ['node bgp peer add 192.0.2.1 as 64512', 'node bgp peer add', { ip: '192.0.2.1', as: 'as', asNum: '64512' }],
  ['node bgp peer remove fd00::1', 'node bgp peer remove', { ip: 'fd00::1' }],
  ['node bgp peer show --ipv4', 'node bgp peer show', { ipv4: true, output: 'table' }],
  ['node bird --libnetwork --libnetwork-image=calico/node-libnetwork:v0.10.0', 'node', { bareBackend: 'bird', libnetwork: true, libnetworkImage: 'calico/node-libnetwork:v0.10.0', nodeImage: 'calicoctl/calico-node:0.0.0-test', runtime: 'docker', logDir: '/var/log/calico', detach: 'true', pull: true }],
  ['status --runtime=docker', 'status', { runtime: 'docker', output: 'table' }],
  ['checksystem --fix --libnetwork --runtime=docker', 'checksystem', { fix: true, libnetwork: true, runtime: 'docker' }],
  ['status', 'status', { output: 'table' }],
  ['status --backend=none -o json', 'status', { backend: 'none', output: 'json' }],
  ['checksystem', 'checksystem', {}],
  ['checksystem --backend none', 'checksystem', { backend: 'none' }],
  ['diags --log-dir /tmp/logs', 'diags', { logDir: '/tmp/logs', output: 'table' }],
  ['diags --check', 'diags', { logDir: '/var/log/calico', check: true, output: 'table' }],
  ['diags --check --fix -o json', 'diags', { logDir: '/var/log/calico', check: true, fix: true, output: 'json' }],
  ['version --client', 'version', { client: true }],
  ['completion bash', 'completion', { shell: 'bash' }],
];

describe('argv -> options, for every verb', () => {
  it.each(CASES)('calicoctl %s', (line, path, options) => {
    expect(parse(line.split(' '))).toEqual({ path, options });
  });

  it('every command in the specs has a case', () => {
    const covered = new Set(CASES.map(([, path]) => path));
    const commands = SPECS.filter((spec) => spec.kind === 'command').map((spec) => spec.path.join(' '));
    expect(commands.filter((path) => !covered.has(path))).toEqual([]);
  });

  it('global options are not the command\'s', () => {
    expect(parse(['--timeout', '2s', '-l', 'debug', 'profile', 'web', 'rule', 'show'])).toEqual({ path: 'profile rule show', options: { name: 'web', output: 'table' } });
  });
});
