import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';

export interface HostAddress {
  readonly iface: string;
  readonly address: string;
  readonly family: 4 | 6;
}

/** Facts about this machine that `calicoctl node`, `status` and `checksystem` look at. */
export interface HostFacts {
  isRoot(): boolean;
  hostname(): string;
  addresses(): HostAddress[];
  /** A file's text, or undefined when it cannot be read. */
  readFile(path: string): string | undefined;
  exists(path: string): boolean;
  /** Writes a file (a sysctl); resolves to an error message, or undefined on success. */
  writeFile(path: string, text: string): string | undefined;
}

export const systemHostFacts: HostFacts = {
  isRoot: () => process.getuid?.() === 0,
  hostname: () => hostname(),
  addresses: () =>
    Object.entries(networkInterfaces()).flatMap(([iface, list]) =>
      (list ?? []).map((entry) => ({ iface, address: entry.address, family: entry.family === 'IPv6' ? (6 as const) : (4 as const) })),
    ),
  readFile: (path) => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return undefined;
    }
  },
  exists: (path) => existsSync(path),
  writeFile: (path, text) => {
    try {
      writeFileSync(path, text);
      return undefined;
    } catch (error) {
      return (error as Error).message;
    }
  },
};

/** Interfaces that never carry the host's own address: containers, bridges, tunnels (as calico/node skipped). */
const SKIPPED_INTERFACES = /^(docker|cbr|virbr|lxcbr|veth|cali|tunl|flannel|br-|lo$)/;

/** The first IPv4 (or IPv6) address on a real interface, as the original calico/node autodetected it. */
export function detectAddress(facts: HostFacts, family: 4 | 6): string | undefined {
  return facts
    .addresses()
    .find((a) => a.family === family && !SKIPPED_INTERFACES.test(a.iface) && !(family === 6 && a.address.toLowerCase().startsWith('fe80:')))?.address;
}
