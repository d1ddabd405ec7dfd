import { CommandFailedError, type CommandRunner } from '../../src/host/exec';

/**
 * An in-memory stand-in for iproute2 across network namespaces, for `calicoctl container`: the
 * root namespace and one namespace per container PID, each with its links (a veth remembers its
 * peer, and deleting either end deletes both, wherever the other is), addresses and routes.
 * `nsenter -t <pid> -n ip …` runs `ip …` in that PID's namespace, `nsenter --net=<path> ip …` in a
 * namespace file's (added with addNamespacePath). `failOn` makes the next command
 * that matches fail the way the kernel would, to test that every step is undone.
 */

export interface FakeLink {
  name: string;
  peer?: FakeLink;
  ns: string;
  up: boolean;
  mac?: string;
  addresses: string[];
}

export class FakeNetns implements CommandRunner {
  /** Every command, as one line. */
  readonly calls: string[] = [];
  readonly links: FakeLink[] = [];
  /** Routes per namespace (`root` or the PID), as `ip route replace` was given them. */
  readonly routes = new Map<string, string[]>();
  private readonly failures: { match: RegExp; message: string }[] = [];
  /** PIDs that have a namespace (a container's running process). */
  readonly pids = new Set<number>();

  /** Namespace files (/var/run/netns/NAME) that exist. */
  readonly paths = new Set<string>();

  /** A namespace file's namespace, with its loopback. */
  addNamespacePath(path: string, ...links: string[]): void {
    this.paths.add(path);
    for (const name of ['lo', ...links]) this.links.push({ name, ns: path, up: true, addresses: [] });
  }

  /** A container's namespace, with its loopback (and eth0 when it is on Docker's bridge). */
  addNamespace(pid: number, ...links: string[]): void {
    this.pids.add(pid);
    for (const name of ['lo', ...links]) this.links.push({ name, ns: String(pid), up: true, addresses: [] });
  }

  failOn(match: RegExp, message = 'RTNETLINK answers: Operation not permitted'): void {
    this.failures.push({ match, message });
  }

  /** What a namespace holds, for assertions: its links with their addresses, and its routes. */
  state(ns: string): { links: string[]; routes: string[] } {
    return {
      links: this.links.filter((l) => l.ns === ns).map((l) => `${l.name}${l.addresses.length > 0 ? ` ${l.addresses.join(' ')}` : ''}`),
      // A route goes with its device.
      routes: (this.routes.get(ns) ?? []).filter((r) => this.links.some((l) => l.ns === ns && l.name === r.split(' dev ')[1]?.split(' ')[0])),
    };
  }

  async run(file: string, args: readonly string[]): Promise<string> {
    const line = `${file} ${args.join(' ')}`;
    this.calls.push(line);
    const failure = this.failures.findIndex((f) => f.match.test(line));
    if (failure >= 0) {
      const [f] = this.failures.splice(failure, 1);
      throw new CommandFailedError(line, f!.message, 2);
    }
    if (file === 'nsenter' && args[0]?.startsWith('--net=')) {
      const [net, tool, ...rest] = args as [string, ...string[]];
      const path = net.slice('--net='.length);
      if (tool !== 'ip') throw new CommandFailedError(line, 'unsupported nsenter call', 1);
      if (!this.paths.has(path)) throw new CommandFailedError(line, `nsenter: cannot open ${path}: No such file or directory`, 1);
      return this.ip(path, rest, line);
    }
    if (file === 'nsenter') {
      const [t, pid, n, tool, ...rest] = args;
      if (t !== '-t' || n !== '-n' || tool !== 'ip') throw new CommandFailedError(line, 'unsupported nsenter call', 1);
      if (!this.pids.has(Number(pid))) throw new CommandFailedError(line, `nsenter: cannot open /proc/${pid}/ns/net: No such file or directory`, 1);
      return this.ip(String(pid), rest, line);
    }
    if (file === 'ip') return this.ip('root', args, line);
    throw new CommandFailedError(line, `${file}: command not found`, 127);
  }

  private find(ns: string, name: string | undefined, line: string): FakeLink {
    const link = this.links.find((l) => l.ns === ns && l.name === name);
    if (!link) throw new CommandFailedError(line, `Cannot find device "${name}"`, 1);
    return link;
  }

  private ip(ns: string, args: readonly string[], line: string): string {
    const words = [...args];
    const family = words[0] === '-4' || words[0] === '-6' || words[0] === '-o' ? words.splice(0, words[0] === '-6' && words[1] === '-o' ? 2 : 1) : [];
    const [object, verb, ...rest] = words;
    if (object === 'link' && verb === 'add') {
      const [name, type, kind, peerWord, nameWord, peerName] = rest;
      if (type !== 'type' || kind !== 'veth' || peerWord !== 'peer' || nameWord !== 'name' || !name || !peerName) throw new CommandFailedError(line, 'bad link add', 1);
      if (this.links.some((l) => l.ns === ns && (l.name === name || l.name === peerName))) throw new CommandFailedError(line, 'RTNETLINK answers: File exists', 2);
      const a: FakeLink = { name, ns, up: false, addresses: [] };
      const b: FakeLink = { name: peerName, ns, up: false, addresses: [], peer: a };
      a.peer = b;
      this.links.push(a, b);
      return '';
    }
    if (object === 'link' && verb === 'del') {
      const link = this.find(ns, rest[0], line);
      for (const l of [link, link.peer]) if (l) this.links.splice(this.links.indexOf(l), 1);
      return '';
    }
    if (object === 'link' && verb === 'show') {
      this.find(ns, rest[0] === 'dev' ? rest[1] : rest[0], line);
      return `2: ${rest[1]}: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500\n`;
    }
    if (object === 'link' && verb === 'set') {
      const link = this.find(ns, rest[0], line);
      const [, what, value] = rest;
      if (what === 'up') link.up = true;
      else if (what === 'address') link.mac = value;
      else if (what === 'name') {
        if (this.links.some((l) => l.ns === ns && l.name === value)) throw new CommandFailedError(line, 'RTNETLINK answers: File exists', 2);
        link.name = value as string;
      } else if (what === 'netns') {
        if (value?.startsWith('/') ? !this.paths.has(value) : !this.pids.has(Number(value))) throw new CommandFailedError(line, 'RTNETLINK answers: No such process', 2);
        link.ns = String(value);
        link.up = false;
      } else throw new CommandFailedError(line, `unsupported link set ${what}`, 1);
      return '';
    }
    if (object === 'addr' && verb === 'show') {
      const link = this.find(ns, rest[1], line);
      return link.up && link.peer?.up ? `5: ${link.name} inet6 fe80::ecee:eeff:feee:eeee/64 scope link \\       valid_lft forever\n` : '';
    }
    if (object === 'addr' && (verb === 'add' || verb === 'del')) {
      const [address, dev, name] = rest;
      if (dev !== 'dev') throw new CommandFailedError(line, 'bad addr', 1);
      const link = this.find(ns, name, line);
      const at = link.addresses.indexOf(address as string);
      if (verb === 'add') {
        if (at >= 0) throw new CommandFailedError(line, 'RTNETLINK answers: File exists', 2);
        link.addresses.push(address as string);
      } else {
        if (at < 0) throw new CommandFailedError(line, 'RTNETLINK answers: Cannot assign requested address', 2);
        link.addresses.splice(at, 1);
      }
      return '';
    }
    if (object === 'route' && verb === 'replace') {
      const dev = rest[rest.indexOf('dev') + 1];
      this.find(ns, dev, line);
      const route = `${family.join(' ')} ${rest.join(' ')}`.trim();
      const routes = (this.routes.get(ns) ?? []).filter((r) => r.split(' dev')[0]?.replace(/ via .*/, '') !== route.split(' dev')[0]?.replace(/ via .*/, ''));
      this.routes.set(ns, [...routes, route]);
      return '';
    }
    throw new CommandFailedError(line, `unsupported ip ${args.join(' ')}`, 1);
  }
}
