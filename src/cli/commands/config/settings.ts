import { ConfigStore, type ConfigScope, configKey } from '../../../datastore/component-config';
import type { CommandContext } from '../../context';
import { CommandError, UsageError } from '../../errors';
import { isDataFormat, OUTPUT_OPTION, type OutputFormat, renderData } from '../../output';
import type { ArgumentSpec, OptionSpec } from '../../spec';

/**
 * What `config felix`, `config bgp` and `config node bgp` share: the names they know (the word
 * typed, the name it is stored under, and the values allowed), the checks made before etcd is
 * touched, and showing, setting or removing one value.
 */

interface KnownName {
  /** The name the value is stored under. */
  readonly stored: string;
  readonly values: readonly string[];
}

/** The BGP log levels are the ones src/agent/bgp/bird-config.ts renders for BIRD. */
const BGP_NAMES: Readonly<Record<string, KnownName>> = { loglevel: { stored: 'loglevel', values: ['none', 'debug', 'info'] } };

/** calico-node follows LogSeverityScreen live (src/agent/log-config.ts), as Felix does. */
export const FELIX_NAMES: Readonly<Record<string, KnownName>> = {
  loglevel: { stored: 'LogSeverityScreen', values: ['none', 'debug', 'info', 'warning', 'error', 'critical'] },
};

export function knownNames(scope: ConfigScope): Readonly<Record<string, KnownName>> {
  return scope.component === 'felix' ? FELIX_NAMES : BGP_NAMES;
}

export const CONFIG_ARGS: readonly ArgumentSpec[] = [
  { syntax: '<NAME>', key: 'name', description: 'the setting: loglevel, or (with --force) any name, stored as given' },
  { syntax: '[VALUE]', key: 'value', description: 'the value to set; without it (and without --remove), print the value' },
];

export const CONFIG_OPTIONS: readonly OptionSpec[] = [
  { flags: '--remove', description: 'remove the value' },
  { flags: '--force', description: 'set or remove a name or value that is not recognized' },
  OUTPUT_OPTION,
];

export interface ConfigFlags {
  name: string;
  value?: string;
  remove?: boolean;
  force?: boolean;
  output: OutputFormat;
}

/** The valid names and values, for each verb's --help. */
export const VALID_CONFIGURATION = `
Valid configuration:
  Command         | <NAME>   | <VALUE>s
  ----------------+----------+----------------------------------------
  config felix    | loglevel | none debug info warning error critical
  config bgp      | loglevel | none debug info
  config node bgp | loglevel | none debug info

With --force any other <NAME> (stored under that very name) and any <VALUE> are accepted.`;

/**
 * Checks the words, then shows, sets or removes the value. An unrecognized name or value is
 * refused (exit 1, nothing written) unless --force is given, and then only noted on stderr. v0.23
 * printed the same sentences as paragraphs on stdout; here the refusal is the one error line and the
 * note goes to stderr, so that a forced show prints only the value.
 */
export async function runConfig(scope: ConfigScope, flags: ConfigFlags, ctx: CommandContext): Promise<void> {
  if (flags.remove && flags.value !== undefined) throw new UsageError('Give a <VALUE> or --remove, not both.');
  const name = storedName(scope, flags, ctx);
  const store = new ConfigStore(ctx.kv());
  if (flags.remove) {
    ctx.io.out.write((await store.remove(scope, name)) ? 'Value removed\n' : 'No value configured\n');
  } else if (flags.value !== undefined) {
    await store.set(scope, name, flags.value);
  } else {
    const value = await store.get(scope, name);
    if (isDataFormat(flags.output)) ctx.io.out.write(renderData(flags.output, { name: flags.name, key: configKey(scope, name), value: value ?? null }));
    else ctx.io.out.write(`${value ?? 'No value configured'}\n`);
  }
}

/** The name the value is stored under, once the name and the value passed the checks (or --force). */
function storedName(scope: ConfigScope, { name, value, force }: ConfigFlags, ctx: CommandContext): string {
  // Even --force cannot make a name that is not one key: it would write (or remove) somewhere else.
  if (name === '' || name.includes('/')) throw new CommandError(`'${name}' cannot be a configuration name: it must be one word, without '/'.`);
  const refuse = (sentence: string): string => {
    if (!force) throw new CommandError(`${sentence} Use the --force option to override.`);
    ctx.io.err.write(`${sentence} The --force option is set.\n`);
    return sentence;
  };
  const known = Object.hasOwn(knownNames(scope), name) ? knownNames(scope)[name] : undefined;
  if (!known) {
    refuse(`The configuration '${name}' is not recognized as a valid option.`);
    return name;
  }
  // The whole value must be one of the words (v0.23's pattern matched a prefix only, so it let 'debugging' through).
  if (value !== undefined && !known.values.includes(value)) refuse(`The configuration value '${value}' is not recognized as a valid value.`);
  return known.stored;
}
