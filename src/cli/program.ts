import { Command, Help, Option } from 'commander';
import { makeEndpointCommand } from './endpoint';
import { makeIpamCommand } from './ipam';
import { makeChecksystemCommand } from './checksystem';
import { makeCompletionCommands } from './completion';
import { makeDiagsCommand } from './diags';
import { UsageError } from './errors';
import { makeNodeCommand } from './node';
import { makeStatusCommand } from './status';
import { makePoolCommand } from './pool';
import { PROFILE_EXAMPLES, PROFILE_USAGE, RULE_GRAMMAR } from './help';
import type { IO } from './io';
import { makeProfileAddCommand } from './profile-add';
import { makeProfileRemoveCommand } from './profile-remove';
import { makeProfileShowCommand } from './profile-show';
import { makeTagCommand } from './profile-tag';
import { makeRuleAddCommand } from './rule-add';
import { makeRuleJsonCommand } from './rule-json';
import { makeRuleRemoveCommand } from './rule-remove';
import { makeRuleShowCommand } from './rule-show';
import { makeRuleUpdateCommand } from './rule-update';
import type { Session } from './session';
import { makeVersionCommand } from './version';

/** Usage lines that differ from Commander's own, for commands whose argument sits between words. */
const displayUsage = new WeakMap<Command, string>();

export function buildProgram(session: Session): Command {
  const program = new Command('calicoctl')
    .description('Manage Calico network policy for Docker networks, kept in etcd')
    .option('-c, --config <file>', 'a config file, YAML or JSON (default /etc/calico/calicoctl.cfg when it exists); the environment wins')
    .option('--timeout <duration>', 'bound on each etcd and Docker request, e.g. 5, 2.5s, 500ms (env ETCD_TIMEOUT; default 5s)')
    .addOption(new Option('-l, --log-level <level>', 'debug prints every etcd and Docker call on stderr').choices(['error', 'warning', 'info', 'debug']).default('error'))
    .option('--debug', 'print stack traces on errors, and every etcd and Docker call')
    .option('--no-color', 'no colour, even on a terminal (also: NO_COLOR=1)')
    .version(session.deps.version, '--version', 'print the calicoctl version')
    .addHelpText(
      'after',
      `
Environment:
  ETCD_ENDPOINTS       comma list of http[s]://HOST:PORT (overrides the next two)
  ETCD_AUTHORITY       HOST:PORT of etcd (default 127.0.0.1:2379)
  ETCD_SCHEME          http or https (default http)
  ETCD_CA_CERT_FILE, ETCD_CERT_FILE, ETCD_KEY_FILE   TLS files (the CA is required with https)
  ETCD_USERNAME, ETCD_PASSWORD                       etcd authentication
  DOCKER_HOST          the Docker Engine, used to map network names to profiles

Run 'calicoctl <command> --help' for a command's usage and examples.`,
    );

  program.addCommand(makeProfileCommand(session));
  const endpoint = makeEndpointCommand(session);
  for (const command of endpoint.commands.find((c) => c.name() === 'profile')?.commands ?? []) {
    const profiles = command.name() === 'show' ? '' : ' [<PROFILES>...]';
    displayUsage.set(command, `endpoint <ENDPOINT_ID> profile ${command.name()} [--host=<HOSTNAME>] [--orchestrator=<ORCHESTRATOR_ID>] [--workload=<WORKLOAD_ID>]${profiles}`);
  }
  program.addCommand(endpoint);
  program.addCommand(makePoolCommand(session));
  program.addCommand(makeIpamCommand(session));
  program.addCommand(makeNodeCommand(session));
  program.addCommand(makeStatusCommand(session));
  program.addCommand(makeChecksystemCommand(session));
  program.addCommand(makeDiagsCommand(session));
  program.addCommand(makeVersionCommand(session));
  const [completion, complete] = makeCompletionCommands(session, () => program);
  program.addCommand(completion as Command);
  program.addCommand(complete as Command, { hidden: true });

  // Commands that write take --dry-run: the session then describes writes instead of making them.
  // `node` has a --dry-run of its own, and Commander gives it the flag also when it follows a node
  // subcommand (`node remove --dry-run`), so the subcommand must look at its parent's too.
  const writers = new Set(writeCommands(program));
  program.hook('preAction', (_root, action) => {
    if (action.name() === 'node') return;
    const fromNode = action.parent?.name() === 'node' && action.parent.opts().dryRun === true;
    if (action.opts().dryRun !== true && !fromNode) return;
    if (!writers.has(action)) throw new UsageError(`'node ${action.name()}' has no --dry-run: it would run for real.`);
    session.dryRun = true;
  });
  for (const command of writers) command.option('--dry-run', 'print what would change in etcd, and change nothing');

  configureTree(program, session.deps.io);
  return program;
}

function makeProfileCommand(session: Session): Command {
  const profile = new Command('profile')
    .description('Manage profiles: the tags and rules that a Docker network\'s policy is made of')
    .addHelpText('after', `\n${PROFILE_USAGE}\n${RULE_GRAMMAR}\n${PROFILE_EXAMPLES}`);
  displayUsage.set(profile, 'profile (show|add|remove) … | profile <PROFILE> (rule|tag) …');

  const rule = new Command('rule')
    .description("Show or change a profile's inbound and outbound rules")
    .addHelpText('after', `\n${RULE_GRAMMAR}\n${PROFILE_EXAMPLES}`);
  displayUsage.set(rule, 'profile <PROFILE> rule (add|remove|show|json|update) …');
  const usages: [Command, string][] = [
    [makeRuleAddCommand(session), 'profile <PROFILE> rule add (inbound|outbound) [--at=<POSITION>] (allow|deny) [RULE-MATCH]'],
    [makeRuleRemoveCommand(session), 'profile <PROFILE> rule remove (inbound|outbound) (--at=<POSITION> | (allow|deny) [RULE-MATCH])'],
    [makeRuleShowCommand(session), 'profile <PROFILE> rule show'],
    [makeRuleJsonCommand(session), 'profile <PROFILE> rule json'],
    [makeRuleUpdateCommand(session), 'profile <PROFILE> rule update < rules.json'],
  ];
  for (const [command, usage] of usages) {
    displayUsage.set(command, usage);
    if (command.name() === 'add' || command.name() === 'remove') command.addHelpText('after', `\n${RULE_GRAMMAR}\n${PROFILE_EXAMPLES}`);
    rule.addCommand(command);
  }

  const tag = makeTagCommand(session);
  displayUsage.set(tag, 'profile <PROFILE> tag (show|add <TAG>|remove <TAG>)');
  for (const command of tag.commands) {
    displayUsage.set(command, `profile <PROFILE> tag ${command.name()}${command.name() === 'show' ? '' : ' <TAG>'}`);
  }

  profile.addCommand(makeProfileShowCommand(session));
  profile.addCommand(makeProfileAddCommand(session));
  profile.addCommand(makeProfileRemoveCommand(session));
  profile.addCommand(rule);
  profile.addCommand(tag);
  return profile;
}

/** The leaf commands that change etcd (`node` has a --dry-run of its own). */
function writeCommands(program: Command): Command[] {
  const paths = [
    'profile add', 'profile remove', 'profile rule add', 'profile rule remove', 'profile rule update', 'profile tag add', 'profile tag remove',
    'pool add', 'pool remove', 'pool range add', 'ipam release', 'endpoint profile append', 'endpoint profile remove', 'endpoint profile set', 'node remove',
  ];
  return paths.map((path) =>
    path.split(' ').reduce<Command>((command, name) => {
      const next = command.commands.find((c) => c.name() === name);
      if (!next) throw new Error(`no command ${path}`);
      return next;
    }, program),
  );
}

/**
 * Commander does not pass exitOverride, output and help settings down through addCommand, so
 * they are applied to every node: errors become exceptions for main, output goes through IO.
 */
function configureTree(command: Command, io: IO): void {
  command
    .exitOverride()
    .configureOutput({ writeOut: (text) => io.out.write(text), writeErr: (text) => io.err.write(text) })
    .configureHelp({
      commandUsage: (cmd) => {
        const custom = displayUsage.get(cmd);
        return custom !== undefined ? `calicoctl ${custom}` : new Help().commandUsage(cmd);
      },
    });
  for (const sub of command.commands) configureTree(sub, io);
}
