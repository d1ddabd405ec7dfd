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
const ansi = (code: number) => (text: string) => `\x1b[${code}m${text}\x1b[${code === 1 ? 22 : 39}m`;
const coloured: Palette = { bold: ansi(1), green: ansi(32), yellow: ansi(33), red: ansi(31) };

export function palette(enabled: boolean): Palette {
  return enabled ? coloured : plain;
}
