import fc from 'fast-check';
import { drawInOnePass, drawWithCliTable, LONG_LINE, renderTable } from '../../../src/cli/table';
import { fuzzParams } from '../../fakes/fuzz';

/** The two ways src/cli/table.ts draws a table give the same bytes, so which one a listing takes never shows. */
describe('tables', () => {
  const line = fc.string({ unit: fc.constantFrom('a', 'B', '9', ' ', '.', '-', '/'), maxLength: 12 });
  const cell = fc.array(line, { minLength: 1, maxLength: 3 });

  it('cli-table3 and the one-pass drawing agree on every table', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.array(fc.array(cell, { minLength: 5, maxLength: 5 }), { maxLength: 6 }), fc.constantFrom('center' as const, 'left' as const), (columns, rawRows, align) => {
        const headers = Array.from({ length: columns }, (_, i) => `H${'x'.repeat(i)}`);
        const cells = rawRows.map((row) => row.slice(0, columns));
        const widths = headers.map((header, column) => Math.max(header.length, ...cells.map((row) => Math.max(...(row[column] as string[]).map((l) => l.length)))));
        expect(drawInOnePass(headers, cells, widths, align)).toBe(drawWithCliTable(headers, cells, widths, align));
      }),
      fuzzParams(200),
    );
  });

  it('draws a table with a very long name quickly, in the same layout', () => {
    const long = 'n'.repeat(10_000);
    const drawn = renderTable(['Name', 'Tags'], [[long, 'a'], ['b', 'c']]);
    expect(LONG_LINE).toBeLessThan(long.length);
    const lines = drawn.split('\n');
    expect(lines[0]).toBe(`+${'-'.repeat(10_002)}+------+`);
    expect(lines[3]).toBe(`| ${long} |  a   |`);
    expect(lines).toHaveLength(7);
  });
});
