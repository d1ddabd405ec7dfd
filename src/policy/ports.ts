import type { PortSpec } from './ast';

export const MAX_PORT = 65535;

/**
 * Parses `80,443,8000:8080`. Each item is a port 0-65535 or a range `low:high` with low < high,
 * as the original's validation required (it rejected `80-90` and `80:80`). Returns undefined on
 * any bad item; order and duplicates are kept, as typed.
 */
export function parsePorts(text: string): PortSpec[] | undefined {
  const specs: PortSpec[] = [];
  for (const item of text.split(',')) {
    const spec = parsePortItem(item);
    if (!spec) return undefined;
    specs.push(spec);
  }
  return specs;
}

function parsePortItem(item: string): PortSpec | undefined {
  const match = /^(\d+)(?::(\d+))?$/.exec(item);
  if (!match) return undefined;
  const low = Number(match[1]);
  if (low > MAX_PORT) return undefined;
  if (match[2] === undefined) return { kind: 'port', port: low };
  const high = Number(match[2]);
  if (high > MAX_PORT || low >= high) return undefined;
  return { kind: 'range', low, high };
}

export function formatPort(spec: PortSpec): string {
  return spec.kind === 'port' ? String(spec.port) : `${spec.low}:${spec.high}`;
}

export function formatPorts(specs: readonly PortSpec[]): string {
  return specs.map(formatPort).join(',');
}

/**
 * The set a port list matches, as a sorted, de-duplicated list of items: `443,80` and `80,443,80`
 * describe the same traffic, so rules that differ only that way are the same rule.
 */
export function canonicalPorts(specs: readonly PortSpec[]): string {
  return [...new Set(specs.map(formatPort))]
    .sort((a, b) => portSortKey(a) - portSortKey(b) || a.localeCompare(b))
    .join(',');
}

function portSortKey(item: string): number {
  return Number(item.split(':')[0]);
}
