import type { Table as CliTable, TableConstructorOptions } from 'cli-table3';
import { printable } from './printable';

/**
 * ASCII tables drawn as the original calicoctl's PrettyTable 0.7.2 drew them: `+---+` borders,
 * one space of padding, every cell centred, and when centring leaves an odd number of spare
 * spaces the extra one goes right for odd-length text and left for even-length text.
 * Multi-line cells take several physical lines, top-aligned. cli-table3 draws the table; the
 * cells are padded to their column's width first, because its own centring splits spare space
 * the other way. It is loaded on first use, so commands without a table never pay for it.
 */
export function renderTable(rawHeaders: readonly string[], rows: readonly (readonly string[])[], align: 'center' | 'left' = 'center'): string {
  // A cell's own line breaks make it several lines; any other control character is shown escaped.
  const headers = rawHeaders.map(printable);
  const cells = rows.map((row) => headers.map((_, column) => (row[column] ?? '').split('\n').map(printable)));
  const widths = headers.map((header, column) => Math.max(header.length, ...cells.map((row) => Math.max(...(row[column] as string[]).map((line) => line.length)))));
  const pad = (lines: readonly string[], column: number) => lines.map((line) => fit(line, widths[column] as number, align)).join('\n');
  const Table = require('cli-table3') as new (options: TableConstructorOptions) => CliTable;
  const table = new Table({ head: headers.map((header, column) => pad([header], column)), chars: ASCII, style: { head: [], border: [], compact: true } });
  for (const row of cells) table.push(row.map(pad));
  const drawn = table.toString();
  // PrettyTable closes an empty body with a second border; cli-table3 draws none.
  return rows.length === 0 ? `${drawn}\n${drawn.slice(0, drawn.indexOf('\n'))}\n` : `${drawn}\n`;
}

const ASCII = {
  top: '-', 'top-mid': '+', 'top-left': '+', 'top-right': '+',
  bottom: '-', 'bottom-mid': '+', 'bottom-left': '+', 'bottom-right': '+',
  left: '|', 'left-mid': '+', mid: '-', 'mid-mid': '+', right: '|', 'right-mid': '+', middle: '|',
};

function fit(text: string, width: number, align: 'center' | 'left'): string {
  const spare = width - text.length;
  if (align === 'left') return text + ' '.repeat(spare);
  const left = Math.floor(spare / 2) + (spare % 2 === 1 && text.length % 2 === 0 ? 1 : 0);
  return ' '.repeat(left) + text + ' '.repeat(spare - left);
}

/** Sorts rows by their cells in order, comparing code units as Python compared byte strings. */
export function sortRows<T extends readonly string[]>(rows: T[]): T[] {
  return [...rows].sort((a, b) => {
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const x = a[i] ?? '';
      const y = b[i] ?? '';
      if (x !== y) return x < y ? -1 : 1;
    }
    return 0;
  });
}
