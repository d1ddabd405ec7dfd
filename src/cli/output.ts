import type { OptionSpec } from './spec';

/**
 * Machine-readable output for the `show` commands. Without `-o` a command prints exactly what the
 * original calicoctl printed (`table`); `wide` adds columns; `json` and `yaml` print documented,
 * stable shapes (2-space indent, keys in a fixed order), never decorated, whatever the terminal.
 */
export type OutputFormat = 'table' | 'wide' | 'json' | 'yaml';

export const OUTPUT_OPTION: OptionSpec = { flags: '-o, --output <FORMAT>', description: 'output format', choices: ['table', 'wide', 'json', 'yaml'], default: 'table' };

export const QUIET_OPTION: OptionSpec = { flags: '-q, --quiet', description: 'print only the names, one per line' };

/** JSON or YAML text of `data`; YAML is loaded only when asked for (it costs ~25 ms). */
export function renderData(format: 'json' | 'yaml', data: unknown): string {
  if (format === 'json') return `${JSON.stringify(data, null, 2)}\n`;
  const YAML = require('yaml') as typeof import('yaml');
  return YAML.stringify(data, { indent: 2, lineWidth: 0 });
}

export function isDataFormat(format: OutputFormat): format is 'json' | 'yaml' {
  return format === 'json' || format === 'yaml';
}

/** Parses JSON, or YAML when the text is not JSON (the `rule update` and config file inputs). `what` is plural: "The rules on standard input". */
export function parseDocument(text: string, what: string): unknown {
  const trimmed = text.trim();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new Error(`${what} are not valid JSON: ${(error as Error).message}`);
    }
  }
  const YAML = require('yaml') as typeof import('yaml');
  try {
    return YAML.parse(text);
  } catch (error) {
    throw new Error(`${what} are neither valid JSON nor valid YAML: ${(error as Error).message.split('\n')[0]}`);
  }
}
