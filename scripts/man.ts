/**
 * Man pages generated from the command trees themselves, so they cannot drift from the code:
 * calicoctl(1), one page per command group, and calico-node(8). `scripts/gen-man` writes them to
 * man/; a test checks that the committed pages are what this produces.
 */
import { type Command, Help } from 'commander';
import { agentProgram } from '../src/agent/main';
import type { Deps } from '../src/cli/context';
import { buildProgram } from '../src/cli/program';

const GROUPS: Record<string, string> = {
  profile: 'manage profiles: the tags and rules that a Docker network\'s policy is made of',
  endpoint: 'show workload endpoints and change the profiles they use',
  container: 'give Docker containers Calico networking without the plugin, and manage their addresses and profiles',
  policy: 'ask what the stored policy does to a packet, and who can reach whom',
  pool: 'manage the IP pools Calico IPAM assigns container addresses from',
  bgp: "manage the cluster's BGP settings: global peers, the node-to-node mesh and the default AS",
  ipam: 'look at or release addresses assigned by Calico IPAM',
  node: 'start, stop, remove and list the Calico host agents',
  config: 'show or change low-level settings of the policy agent (Felix) and of BGP',
};

const PROSE: Record<string, string> = {
  profile: `A profile is a set of tags and of inbound and outbound rules. A Docker network made with
--driver calico --ipam-driver calico is a profile named by the network ID, whose tag is that ID; by
default its members accept traffic only from each other and may send anywhere. Wherever a profile
name or a tag is typed, a Docker network name may be typed instead: calicoctl maps it to the ID
through the Docker Engine. Rules are printed in the words of rule add, so a printed rule can be
pasted back. Every change is a compare-and-swap transaction in etcd.`,
  endpoint: 'An endpoint is a container interface that Calico polices; it uses its profiles in order.',
  container: `The add verb makes a veth pair, moves one end into the running container's
network namespace (as the interface named by --interface, eth1 by default), gives it an address
from Calico IPAM and routes the container's traffic through it, then writes the endpoint under
orchestrator docker with the full container ID as the workload, so that calico-node on this host
routes and polices it. The container may have been started with --net=none or be on Docker's
bridge. Any step that fails is undone. Run on the container's host, as root.`,
  policy: `The policy of every host is in etcd, and calico-node renders it deterministically, so
what the kernel will do with a connection's first packet can be computed without sending one: the sender's outbound profiles in order, then the receiver's inbound profiles in order, the
first matching rule of a profile deciding. policy trace exits 0 when the packet is allowed and 1
when it is dropped. A --dry-run of a rule, tag or endpoint profile change also lists the pairs of
endpoints it would newly allow or newly drop.`,
  pool: 'Pools are the address ranges Calico IPAM assigns from; the agent routes each pool locally.',
  bgp: `calico-node runs BIRD on each host and peers it with every other host (the node-to-node
mesh, unless it is turned off), with the global peers, and with the host's own peers (calicoctl
node bgp peer). A host's AS is its own (calicoctl node --as) or the default AS. AS numbers are
asplain (64512) or dotted (1.10, stored as 65546). Every setting is a key under /calico/bgp/v1/.`,
  ipam: 'Each assigned address is one key in etcd, created by a transaction.',
  node: `calicoctl node checks the host, registers it in etcd (its addresses, the Ready flag, the
default pool unless NO_DEFAULT_POOLS=true), and starts calico-node as the container calico-node, as
a host process, or not at all.`,
  config: `Each setting is one key in etcd: config felix under /calico/v1/config/ (loglevel is
LogSeverityScreen, which every calico-node follows without a restart), config bgp under
/calico/bgp/v1/global/ and config node bgp under /calico/bgp/v1/host/<this host>/ (loglevel is
BIRD's log level; a node's own wins over the global one). Names and values that are not recognized
are refused unless --force is given.`,
};

const ENVIRONMENT = `.TP
.B ETCD_ENDPOINTS
Comma list of http[s]://HOST:PORT; overrides ETCD_AUTHORITY and ETCD_SCHEME.
.TP
.B ETCD_AUTHORITY\\fR, \\fBETCD_SCHEME
HOST:PORT of etcd (default 127.0.0.1:2379) and http or https.
.TP
.B ETCD_CA_CERT_FILE\\fR, \\fBETCD_CERT_FILE\\fR, \\fBETCD_KEY_FILE
TLS files; the CA is required with https, the certificate and key go together.
.TP
.B ETCD_USERNAME\\fR, \\fBETCD_PASSWORD
etcd authentication.
.TP
.B ETCD_TIMEOUT
Bound on each etcd and Docker request (default 5 s).
.TP
.B DOCKER_HOST
The Docker Engine, used to map network names to profiles.
.TP
.B HOSTNAME
This host's name in etcd.
.TP
.B NO_DEFAULT_POOLS
When true, neither default pool is created (192.168.0.0/16 when there is no IPv4 pool, fd80:24e2:f998:72d6::/64 when there is no IPv6 pool and the kernel has IPv6).
`;

const EXIT_STATUS = `.TP
.B 0
Success.
.TP
.B 1
A failure: not found, an invalid value, etcd or Docker unreachable; or the packet policy trace asked about is dropped.
.TP
.B 2
The words do not fit the grammar (a usage error).
.TP
.B 130
Interrupted (Ctrl-C).
`;

/** Every man page, by file name. */
export function generateManPages(version: string): Map<string, string> {
  const program = cliProgram(version);
  const pages = new Map<string, string>();
  const top = [...GROUP_COMMANDS(program)];
  pages.set(
    'calicoctl.1',
    page('CALICOCTL', 1, version, 'calicoctl', 'manage Calico network policy for Docker networks, kept in etcd', [
      section('SYNOPSIS', `.nf\ncalicoctl [\\fIOPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR...]\n.fi`),
      section('DESCRIPTION', escape(program.description())),
      section('OPTIONS', options(program)),
      section('COMMANDS', top.map((c) => `.TP\n.B ${escape(usage(c))}\n${escape(c.description())}${c.commands.length > 0 ? `\nSee \\fBcalicoctl-${c.name()}\\fR(1).` : ''}`).join('\n')),
      section('EXAMPLES', examples(program)),
      section('ENVIRONMENT', ENVIRONMENT),
      section('FILES', '.TP\n.B /etc/calico/calicoctl.cfg\nThe default config file (YAML or JSON; the environment wins).'),
      section('EXIT STATUS', EXIT_STATUS),
      section('SEE ALSO', [...Object.keys(GROUPS).map((g) => `\\fBcalicoctl-${g}\\fR(1)`), '\\fBcalico-node\\fR(8)'].join(', ')),
    ]),
  );
  for (const [group, summary] of Object.entries(GROUPS)) {
    const command = program.commands.find((c) => c.name() === group) as Command;
    const leaves = descendants(command);
    pages.set(
      `calicoctl-${group}.1`,
      page(`CALICOCTL-${group.toUpperCase()}`, 1, version, `calicoctl-${group}`, summary, [
        section('SYNOPSIS', `.nf\n${leaves.map((c) => escape(usage(c))).join('\n')}\n.fi`),
        section('DESCRIPTION', escape(PROSE[group] ?? '')),
        section('COMMANDS', leaves.map((c) => `.TP\n.B ${escape(usage(c))}\n${escape(c.description())}${optionList(c)}`).join('\n')),
        section('EXAMPLES', examples(command)),
        section('ENVIRONMENT', ENVIRONMENT),
        section('EXIT STATUS', EXIT_STATUS),
        section('SEE ALSO', '\\fBcalicoctl\\fR(1), \\fBcalico-node\\fR(8)'),
      ]),
    );
  }
  const agent = agentProgram({}, version);
  pages.set(
    'calico-node.8',
    page('CALICO-NODE', 8, version, 'calico-node', 'the Calico host agent: Docker network and IPAM plugin, and policy dataplane', [
      section('SYNOPSIS', '.nf\ncalico-node [\\fIOPTIONS\\fR]\n.fi'),
      section(
        'DESCRIPTION',
        escape(`calico-node serves the Docker network and IPAM plugin on /run/docker/plugins/calico.sock, watches
everything under /calico/v1/ in etcd, and programs the kernel: iptables chains named cali-*, ipsets
cali4-* and cali6-*, /32 routes (proto 157), proxy ARP and strict reverse-path filtering. It stops
cleanly on SIGTERM and leaves the dataplane in place; --cleanup removes it. calicoctl node starts it.`),
      ),
      section('OPTIONS', options(agent)),
      section('ENVIRONMENT', ENVIRONMENT),
      section('FILES', '.TP\n.B /var/run/calico/calico-node.json\nThe agent\'s status: when the dataplane was last applied, and whether that worked.'),
      section('SEE ALSO', '\\fBcalicoctl\\fR(1), \\fBcalicoctl-node\\fR(1)'),
    ]),
  );
  return pages;
}

export function cliProgram(version: string): Command {
  const deps = { io: { out: { write: () => true }, err: { write: () => true } }, env: {}, version } as unknown as Deps;
  return buildProgram(deps).root;
}

/** Every command with an action, below `command` (the command itself when it has one). */
export function descendants(command: Command): Command[] {
  const own = (command as unknown as { _actionHandler?: unknown })._actionHandler ? [command] : [];
  return [...own, ...command.commands.filter((c) => c.name() !== '__complete').flatMap(descendants)];
}

function GROUP_COMMANDS(program: Command): Command[] {
  return program.commands.filter((c) => c.name() !== '__complete');
}

export function usage(command: Command): string {
  return command.createHelp().commandUsage(command);
}

/** The full --help text, 'after' sections (grammar, examples) included. */
export function helpText(command: Command): string {
  let text = '';
  command.configureOutput({ writeOut: (s) => (text += s), writeErr: (s) => (text += s) });
  command.outputHelp();
  return text;
}

/** Example command lines from a command's --help text (and its subcommands'). */
export function exampleLines(command: Command): string[] {
  const lines = [command, ...command.commands].flatMap((c) => helpText(c).split('\n'));
  return [...new Set(lines.map((l) => l.trim()).filter((l) => l.startsWith('calicoctl ') && !/[<[(|]/.test(l.replace(/#.*$/, ''))))];
}

function examples(command: Command): string {
  const lines = exampleLines(command);
  return lines.length === 0 ? 'See the command\'s --help.' : `.nf\n${lines.map(escape).join('\n')}\n.fi`;
}

function options(command: Command): string {
  return [...command.options, new Help().visibleOptions(command).find((o) => o.long === '--help')]
    .filter((o): o is NonNullable<typeof o> => o !== undefined)
    .map((o) => `.TP\n.B ${escape(o.flags)}\n${escape(describeOption(o))}`)
    .join('\n');
}

function optionList(command: Command): string {
  return command.options.length === 0 ? '' : `\n.RS\n${options(command)}\n.RE`;
}

function describeOption(option: { description: string; argChoices?: string[]; defaultValue?: unknown; negate?: boolean }): string {
  const extras = [
    ...(option.argChoices ? [`one of: ${option.argChoices.join(', ')}`] : []),
    ...(option.defaultValue !== undefined && !option.negate && typeof option.defaultValue !== 'boolean' ? [`default: ${String(option.defaultValue)}`] : []),
  ];
  return extras.length > 0 ? `${option.description} (${extras.join('; ')})` : option.description;
}

function page(title: string, sectionNumber: number, version: string, name: string, summary: string, sections: string[]): string {
  return `.TH ${title} ${sectionNumber} "" "calicoctl ${version}" "calicoctl manual"\n.SH NAME\n${name} \\- ${escape(summary)}\n${sections.join('\n')}\n`;
}

function section(title: string, body: string): string {
  return `.SH ${title}\n${body}`;
}

function escape(text: string): string {
  return text
    .replace(/\\/g, '\\\\')
    .replace(/-/g, '\\-')
    .split('\n')
    .map((line) => (/^[.']/.test(line) ? `\\&${line}` : line))
    .join('\n');
}
