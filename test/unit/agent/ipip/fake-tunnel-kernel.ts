import type { CommandRunner } from '../../../../src/host/exec';

/**
 * Just enough of `ip` for the tunnel applier: tunl0 (absent until the ipip module is loaded or
 * `ip tunnel add` makes it, unless the kernel has no IPIP at all), its addresses and state, and
 * the routes of every protocol.
 */
export class FakeTunnelKernel implements CommandRunner {
  device: { up: boolean; mtu: string; addresses: string[] } | undefined;
  readonly routes = new Map<string, { via: string; dev: string; proto: string }>();
  readonly calls: string[] = [];

  constructor(private readonly ipipSupported = true) {}

  exists = (): boolean => this.device !== undefined;

  async run(file: string, args: readonly string[], input?: string): Promise<string> {
    const line = `${file} ${args.join(' ')}`;
    this.calls.push(input === undefined ? line : `${line} <<${input.trim().split('\n').join('; ')}`);
    if (file === 'modprobe') {
      if (!this.ipipSupported) throw new Error('modprobe: FATAL: Module ipip not found');
      this.device ??= { up: false, mtu: '1480', addresses: [] };
      return '';
    }
    const words = args.join(' ');
    let m: RegExpExecArray | null;
    if (words === 'tunnel add tunl0 mode ipip') {
      if (!this.ipipSupported) throw new Error('add tunnel "tunl0" failed: No such device');
      this.device ??= { up: false, mtu: '1480', addresses: [] };
      return '';
    }
    if ((m = /^link set tunl0 (?:mtu (\d+) )?(up|down)$/.exec(words))) {
      if (!this.device) throw new Error('Cannot find device "tunl0"');
      if (m[1]) this.device.mtu = m[1];
      this.device.up = m[2] === 'up';
      return '';
    }
    if (words === '-4 -o addr show dev tunl0') return (this.device?.addresses ?? []).map((a) => `5: tunl0    inet ${a}/32 scope global tunl0\n`).join('');
    if ((m = /^-4 addr (add|del) (\S+)\/32 dev tunl0$/.exec(words))) {
      if (!this.device) throw new Error('Cannot find device "tunl0"');
      const address = m[2] as string;
      this.device.addresses = m[1] === 'add' ? [...this.device.addresses, address] : this.device.addresses.filter((a) => a !== address);
      return '';
    }
    if (words === '-4 addr flush dev tunl0') {
      if (this.device) this.device.addresses = [];
      return '';
    }
    if ((m = /^-4 route show proto (\S+)$/.exec(words))) {
      const proto = m[1];
      return [...this.routes].filter(([, r]) => r.proto === proto).map(([net, r]) => `${net} via ${r.via} dev ${r.dev} onlink\n`).join('');
    }
    if (words === '-4 -force -batch -') {
      for (const command of (input ?? '').split('\n').filter(Boolean)) {
        if ((m = /^route replace (\S+) via (\S+) dev (\S+) onlink proto (\S+)$/.exec(command))) {
          if (m[3] === 'tunl0' && !this.device?.up) throw new Error('Error: Device for nexthop is not up.');
          this.routes.set(m[1] as string, { via: m[2] as string, dev: m[3] as string, proto: m[4] as string });
        } else if ((m = /^route del (\S+) proto (\S+)$/.exec(command))) {
          if (this.routes.get(m[1] as string)?.proto === m[2]) this.routes.delete(m[1] as string);
        } else throw new Error(`fake ip: unsupported batch line ${command}`);
      }
      return '';
    }
    throw new Error(`fake ip: unsupported ${line}`);
  }
}
