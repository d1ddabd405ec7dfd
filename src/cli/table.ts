import type { Table as CliTable, TableConstructorOptions } from 'cli-table3';
import { printable } from './printable';

/**
 * ASCII tables drawn as the original calicoctl's PrettyTable 0.7.2 drew them: `+---+` borders,
 * one space of padding, every cell centred, and when centring leaves an odd number of spare
 * spaces the extra one goes right for odd-length text and left for even-length text.
 * Multi-line cells take several physical lines, top-aligned. cli-table3 draws the table; the
 * cells are padded to their column's width first, because its own centring splits spare space
 * the other way. It is loaded on first use, so commands without a table never pay for it.
 *
 * cli-table3 measures every padded cell again, line by line, which grows with the square of a
 * cell's length: one 10,000-character name from a hostile datastore took minutes to list
 * (test/e2e/hostile-etcd.test.ts). A table with a line that long is drawn here in one pass
 * instead, to the same bytes (test/unit/cli/table.test.ts compares the two).
 */
export function renderTable(rawHeaders: readonly string[], rows: readonly (readonly string[])[], align: 'center' | 'left' = 'center'): string {
  // A cell's own line breaks make it several lines; any other control character is shown escaped.
  const headers = rawHeaders.map(printable);
  const cells = rows.map((row) => headers.map((_, column) => (row[column] ?? '').split('\n').map(printable)));
  const widths = headers.map((header, column) => cells.reduce((max, row) => (row[column] as string[]).reduce((m, line) => Math.max(m, line.length), max), header.length));
  return Math.max(0, ...widths) > LONG_LINE ? drawInOnePass(headers, cells, widths, align) : drawWithCliTable(headers, cells, widths, align);
}

/** Beyond this many characters in one cell's line, cli-table3's layout takes seconds. */
export const LONG_LINE = 500;

export function drawWithCliTable(headers: readonly string[], cells: readonly (readonly string[][])[], widths: readonly number[], align: 'center' | 'left'): string {
  const pad = (lines: readonly string[], column: number) => lines.map((line) => fit(line, widths[column] as number, align)).join('\n');
  const Table = require('cli-table3') as new (options: TableConstructorOptions) => CliTable;
  const table = new Table({ head: headers.map((header, column) => pad([header], column)), chars: ASCII, style: { head: [], border: [], compact: true } });
  for (const row of cells) table.push(row.map(pad));
  const drawn = table.toString();
  // PrettyTable closes an empty body with a second border; cli-table3 draws none.
  return cells.length === 0 ? `${drawn}\n${drawn.slice(0, drawn.indexOf('\n'))}\n` : `${drawn}\n`;
}

export function drawInOnePass(headers: readonly string[], cells: readonly (readonly string[][])[], widths: readonly number[], align: 'center' | 'left'): string {
  const border = `+${widths.map((width) => '-'.repeat(width + 2)).join('+')}+`;
  const out: string[] = [border, `| ${headers.map((header, column) => fit(header, widths[column] as number, align)).join(' | ')} |`, border];
  for (const row of cells) {
    const height = row.reduce((max, lines) => Math.max(max, lines.length), 1);
    for (let i = 0; i < height; i++) out.push(`| ${row.map((lines, column) => fit(lines[i] ?? '', widths[column] as number, align)).join(' | ')} |`);
  }
  out.push(border);
  return `${out.join('\n')}\n`;
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
