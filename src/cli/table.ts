import { printable } from './printable';

/**
 * ASCII tables drawn as the original calicoctl's PrettyTable 0.7.2 drew them: `+---+` borders,
 * one space of padding, every cell centred, and when centring leaves an odd number of spare
 * spaces the extra one goes right for odd-length text and left for even-length text.
 * Multi-line cells take several physical lines, top-aligned. Drawn here rather than by
 * cli-table3, which measured every padded cell again: a listing with one 10,000-character name
 * from etcd took seconds per few hundred rows, and minutes for a hostile datastore
 * (test/e2e/hostile-etcd.test.ts). Here each line costs its own length.
 */
export function renderTable(rawHeaders: readonly string[], rows: readonly (readonly string[])[], align: 'center' | 'left' = 'center'): string {
  // A cell's own line breaks make it several lines; any other control character is shown escaped.
  const headers = rawHeaders.map(printable);
  const cells = rows.map((row) => headers.map((_, column) => (row[column] ?? '').split('\n').map(printable)));
  const widths = headers.map((header, column) => cells.reduce((max, row) => (row[column] as string[]).reduce((m, line) => Math.max(m, line.length), max), header.length));
  const border = `+${widths.map((width) => '-'.repeat(width + 2)).join('+')}+`;
  const out: string[] = [border, `| ${headers.map((header, column) => fit(header, widths[column] as number, align)).join(' | ')} |`, border];
  for (const row of cells) {
    const height = row.reduce((max, lines) => Math.max(max, lines.length), 1);
    for (let i = 0; i < height; i++) out.push(`| ${row.map((lines, column) => fit(lines[i] ?? '', widths[column] as number, align)).join(' | ')} |`);
  }
  // PrettyTable closes an empty body with a second border.
  out.push(border);
  return `${out.join('\n')}\n`;
}

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
