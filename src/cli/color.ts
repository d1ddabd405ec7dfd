import type { Environment } from './context';

/**
 * Colour only where a person reads it: on a terminal, unless NO_COLOR is set (to anything but
 * empty), TERM is dumb, or --no-color was given. Never in piped or machine-readable output.
 */
export function colorEnabled(isTTY: boolean, env: Environment, noColorFlag: boolean): boolean {
  if (noColorFlag || (env.NO_COLOR !== undefined && env.NO_COLOR !== '') || env.TERM === 'dumb') return false;
  return isTTY;
}

export interface Palette {
  bold(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  red(text: string): string;
}

const plain: Palette = { bold: (t) => t, green: (t) => t, yellow: (t) => t, red: (t) => t };

/** chalk, forced to 16 colours (whether to colour at all is decided above); loaded on first use. */
let chalk: import('chalk').Chalk | undefined;
const styled = (style: 'bold' | 'green' | 'yellow' | 'red') => (text: string) => {
  chalk ??= new (require('chalk') as typeof import('chalk')).Instance({ level: 1 });
  return chalk[style](text);
};
const coloured: Palette = { bold: styled('bold'), green: styled('green'), yellow: styled('yellow'), red: styled('red') };

export function palette(enabled: boolean): Palette {
  return enabled ? coloured : plain;
}
