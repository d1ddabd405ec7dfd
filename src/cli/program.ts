import { Argument, Command, Help, InvalidArgumentError, Option } from 'commander';
import { colorEnabled } from './color';
import { SPECS } from './commands';
import { completeCommand } from './completion';
import { CommandContext, type Deps, type GlobalOptions } from './context';
import { UsageError } from './errors';
import type { IO } from './io';
import type { AnySpec, CommandSpec, OptionSpec } from './spec';

/** What a parsed command line does with its command: run it (or, in tests, only look at the options). */
export type Execute = (spec: CommandSpec<unknown>, options: Record<string, unknown>, ctx: CommandContext) => Promise<void> | void;

export interface Program {
  readonly root: Command;
  /** The context the command runs with; its options read the root flags once they are parsed. */
  readonly context: CommandContext;
}

const runSpec: Execute = (spec, options, ctx) => spec.run(options as never, ctx);

/** The options every command takes, before or after its words (argv.ts steps over their values). */
export const GLOBAL_OPTIONS: readonly OptionSpec[] = [
  { flags: '-c, --config <file>', description: 'a config file, YAML or JSON (default /etc/calico/calicoctl.cfg when it exists); the environment wins' },
  { flags: '--timeout <duration>', description: 'bound on each etcd and Docker request, e.g. 5, 2.5s, 500ms (env ETCD_TIMEOUT; default 5s)' },
  { flags: '-l, --log-level <level>', description: 'debug prints every etcd and Docker call on stderr', choices: ['error', 'warning', 'info', 'debug'], default: 'error' },
  { flags: '--debug', description: 'print stack traces on errors, and every etcd and Docker call' },
  { flags: '--no-color', description: 'no colour, even on a terminal (also: NO_COLOR=1)' },
];

/** The Commander tree, built from the specs under commands/ in their order. */
export function buildProgram(deps: Deps, execute: Execute = runSpec): Program {
  const program = new Command('calicoctl').description('Manage Calico network policy for Docker networks, kept in etcd');
  for (const option of GLOBAL_OPTIONS) program.addOption(toOption(option, deps.version));
  program
    .version(deps.version, '--version', 'print the calicoctl version')
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

  let dryRun = false;
  const context = new CommandContext(deps, () => globalOptions(program, deps, dryRun));
  const usages = new WeakMap<Command, string>();
  const specs = new WeakMap<Command, AnySpec>();
  const byPath = new Map<string, Command>([['', program]]);
  for (const spec of SPECS) {
    const parent = byPath.get(spec.path.slice(0, -1).join(' '));
    if (!parent) throw new Error(`${spec.path.join(' ')} comes before its group`);
    const command = parent.command(spec.path[spec.path.length - 1] as string).description(spec.summary);
    if (spec.usage !== undefined) usages.set(command, `calicoctl ${spec.usage}`);
    if (spec.help !== undefined) command.addHelpText('after', spec.help);
    if (spec.kind === 'command') defineAction(command, spec, deps.version, (options) => execute(spec, options, context));
    specs.set(command, spec);
    byPath.set(spec.path.join(' '), command);
  }
  program.addCommand(completeCommand(context, program, specs), { hidden: true });

  // Commands that write take --dry-run: the context then describes writes instead of making them.
  // `node` has a --dry-run of its own, and Commander gives it the flag also when it follows a node
  // subcommand (`node remove --dry-run`, `node bgp peer add … --dry-run`), so the subcommand must
  // look at its ancestors' too.
  const owners = new Set<Command>();
  const writers = new Set<Command>();
  for (const [path, command] of byPath) {
    const spec = specs.get(command);
    if (spec?.kind !== 'command') continue;
    if (spec.options?.some((o) => o.flags === '--dry-run')) owners.add(command);
    else if (spec.writes) writers.add(command);
    if (spec.writes && owners.has(command)) throw new Error(`${path}: --dry-run is declared twice`);
  }
  program.hook('preAction', (_root, action) => {
    if (owners.has(action)) return;
    let fromAncestor = false;
    for (let up = action.parent; up !== null; up = up.parent) if (owners.has(up) && up.opts().dryRun === true) fromAncestor = true;
    if (action.opts().dryRun !== true && !fromAncestor) return;
    if (!writers.has(action)) throw new UsageError(`'${action.parent?.name()} ${action.name()}' has no --dry-run: it would run for real.`);
    dryRun = true;
  });
  for (const command of writers) command.option('--dry-run', 'print what would change in etcd, and change nothing');

  configureTree(program, deps.io, usages);
  return { root: program, context };
}

function defineAction(command: Command, spec: CommandSpec<unknown>, version: string, action: (options: Record<string, unknown>) => Promise<void> | void): void {
  for (const arg of spec.args ?? []) {
    const argument = new Argument(arg.syntax, arg.description);
    // Commander's own message for a fixed word ("Allowed choices are as.") reads oddly; say what belongs there.
    const choices = arg.choices;
    if (choices) {
      argument.choices(choices).argParser((value: string) => {
        if (choices.includes(value)) return value;
        throw new InvalidArgumentError(choices.length === 1 ? `The word '${choices[0]}' belongs here.` : `Give one of: ${choices.join(', ')}.`);
      });
    }
    command.addArgument(argument);
  }
  for (const option of spec.options ?? []) command.addOption(toOption(option, version));
  // Commander keeps the order: the words before the first unknown option, then it and the rest.
  if (spec.args?.some((arg) => arg.dashWords)) command.allowUnknownOption();
  command.action(async (...received: unknown[]) => {
    const self = received[received.length - 1] as Command;
    const options: Record<string, unknown> = { ...self.opts() };
    (spec.args ?? []).forEach((arg, index) => (options[arg.key] = received[index]));
    await action(options);
  });
}

function toOption(spec: OptionSpec, version: string): Option {
  const option = new Option(spec.flags, spec.description);
  if (spec.choices) option.choices(spec.choices);
  if (spec.repeatable) option.argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]);
  if (spec.default !== undefined) option.default(typeof spec.default === 'function' ? spec.default(version) : spec.default);
  return option;
}

function globalOptions(program: Command, deps: Deps, dryRun: boolean): GlobalOptions {
  const opts = program.opts() as { debug?: boolean; timeout?: string; config?: string; color?: boolean; logLevel?: string };
  const debug = opts.debug === true;
  return {
    debug,
    ...(opts.timeout !== undefined && { timeout: opts.timeout }),
    ...(opts.config !== undefined && { config: opts.config }),
    // Colour on stdout: a terminal, and neither NO_COLOR, TERM=dumb nor --no-color.
    color: colorEnabled(deps.io.stdoutIsTTY, deps.env, opts.color === false),
    trace: debug || opts.logLevel === 'debug',
    dryRun,
  };
}

/**
 * Commander does not pass exitOverride, output and help settings down through addCommand, so
 * they are applied to every node: errors become exceptions for main, output goes through IO.
 */
function configureTree(command: Command, io: IO, usages: WeakMap<Command, string>): void {
  command
    .exitOverride()
    .configureOutput({ writeOut: (text) => io.out.write(text), writeErr: (text) => io.err.write(text) })
    .configureHelp({ commandUsage: (cmd) => usages.get(cmd) ?? new Help().commandUsage(cmd) });
  for (const sub of command.commands) configureTree(sub, io, usages);
}

