/**
 * ASCII tables drawn exactly as the original calicoctl's PrettyTable 0.7.2 drew them: `+---+`
 * borders, one space of padding, every cell centred, and when centring leaves an odd number of
 * spare spaces the extra one goes right for odd-length text and left for even-length text.
 * Multi-line cells take several physical lines, top-aligned.
 */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[], align: 'center' | 'left' = 'center'): string {
  const cells = rows.map((row) => row.map((cell) => cell.split('\n')));
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...cells.map((row) => Math.max(...(row[column] ?? ['']).map((line) => line.length)))),
  );
  const border = `+${widths.map((width) => '-'.repeat(width + 2)).join('+')}+`;
  const line = (values: readonly string[]) =>
    `|${values.map((value, column) => ` ${fit(value, widths[column] as number, align)} `).join('|')}|`;
  const body = cells.flatMap((row) => {
    const height = Math.max(1, ...row.map((lines) => lines.length));
    return Array.from({ length: height }, (_, i) => line(widths.map((_, column) => row[column]?.[i] ?? '')));
  });
  const lines = [border, line(headers), border, ...body, border];
  return `${lines.join('\n')}\n`;
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
