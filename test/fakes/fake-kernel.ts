import { isIPv4, isIPv6 } from 'node:net';
import { CommandFailedError, type CommandRunner } from '../../src/host/exec';

/**
 * An in-memory stand-in for the host tools the agent runs (iptables-save/-restore, ip6tables-*,
 * ipset, ip, conntrack), for unit tests that need neither root nor a kernel. It keeps the filter
 * table of each family, the ipsets, routes and neighbours, applies what the agent sends with the
 * semantics of the real tools (iptables-restore transactions are atomic; `ipset restore` works line
 * by line and stops at the first error), and records every call. Unknown commands reject.
 */

export type Family = 4 | 6;
export type Table = Map<string, string[]>;

export interface RecordedCall {
  readonly file: string;
  readonly args: readonly string[];
  readonly input?: string;
}

export interface FakeSet {
  readonly type: string;
  readonly family: 'inet' | 'inet6';
  members: Set<string>;
}

export interface FakeRoute {
  readonly dst: string;
  readonly dev?: string;
  readonly blackhole: boolean;
  readonly proto: string;
}

export const BUILTIN_CHAINS = ['INPUT', 'FORWARD', 'OUTPUT'] as const;
export const NAT_BUILTIN_CHAINS = ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'] as const;
export type TableName = 'filter' | 'nat';
const BUILTINS: Record<TableName, readonly string[]> = { filter: BUILTIN_CHAINS, nat: NAT_BUILTIN_CHAINS };

/** Targets that are not chains (the ones the agent or Docker could use). */
const TARGETS = new Set(['ACCEPT', 'DROP', 'RETURN', 'REJECT', 'MARK', 'CONNMARK', 'LOG', 'NFLOG', 'QUEUE', 'NFQUEUE', 'CT', 'NOTRACK', 'TCPMSS']);
/** Targets the nat table alone takes. */
const NAT_TARGETS = new Set(['MASQUERADE', 'SNAT', 'DNAT', 'REDIRECT']);

/** Docker's nat chains and rules (Docker 20.10 with one bridge). */
export function dockerNatTable(family: Family): Table {
  const table: Table = new Map(NAT_BUILTIN_CHAINS.map((name) => [name, []]));
  if (family === 4) {
    table.set('PREROUTING', ['-m addrtype --dst-type LOCAL -j DOCKER']);
    table.set('OUTPUT', ['! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER']);
    table.set('POSTROUTING', ['-s 172.17.0.0/16 ! -o docker0 -j MASQUERADE']);
    table.set('DOCKER', ['-i docker0 -j RETURN']);
  }
  return table;
}

/** Docker's filter chains and rules (Docker 20.10 with one bridge), which the agent must never touch. */
export function dockerTable(family: Family): Table {
  const table: Table = new Map([
    ['INPUT', ['-i lo -j ACCEPT']],
    ['FORWARD', ['-j DOCKER-USER']],
    ['OUTPUT', []],
    ['DOCKER-USER', ['-j RETURN']],
  ]);
  if (family === 4) {
    table.set('FORWARD', [
      '-j DOCKER-USER',
      '-j DOCKER-ISOLATION-STAGE-1',
      '-o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
      '-o docker0 -j DOCKER',
      '-i docker0 ! -o docker0 -j ACCEPT',
      '-i docker0 -o docker0 -j ACCEPT',
    ]);
    table.set('DOCKER', []);
    table.set('DOCKER-ISOLATION-STAGE-1', ['-i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2', '-j RETURN']);
    table.set('DOCKER-ISOLATION-STAGE-2', ['-o docker0 -j DROP', '-j RETURN']);
  }
  return table;
}

export class FakeKernelError extends CommandFailedError {}

export class FakeKernel implements CommandRunner {
  /** Every call, in order, including those that failed. */
  readonly calls: RecordedCall[] = [];
  readonly tables: Record<Family, Table> = { 4: dockerTable(4), 6: dockerTable(6) };
  readonly policies: Record<Family, Map<string, string>> = {
    4: new Map([['INPUT', 'ACCEPT'], ['FORWARD', 'DROP'], ['OUTPUT', 'ACCEPT']]),
    6: new Map([['INPUT', 'ACCEPT'], ['FORWARD', 'DROP'], ['OUTPUT', 'ACCEPT']]),
  };
  /** The nat table of each family. */
  readonly natTables: Record<Family, Table> = { 4: dockerNatTable(4), 6: dockerNatTable(6) };
  readonly natPolicies: Record<Family, Map<string, string>> = {
    4: new Map(NAT_BUILTIN_CHAINS.map((name) => [name, 'ACCEPT'])),
    6: new Map(NAT_BUILTIN_CHAINS.map((name) => [name, 'ACCEPT'])),
  };
  /** False: this host has no nat table (iptables-save -t nat fails). */
  nat = true;
  readonly sets = new Map<string, FakeSet>();
  /** Routes by family and destination (a /32 or /128 is kept with its prefix length). */
  readonly routes: Record<Family, Map<string, FakeRoute>> = {
    4: new Map([['0.0.0.0/0', { dst: '0.0.0.0/0', dev: 'eth0', blackhole: false, proto: 'boot' }], ['172.17.0.0/16', { dst: '172.17.0.0/16', dev: 'docker0', blackhole: false, proto: 'kernel' }]]),
    6: new Map(),
  };
  readonly neighbours: Record<Family, Map<string, { dev: string; lladdr: string }>> = { 4: new Map(), 6: new Map() };
  /** Every line sent to `ip -batch`, per family. */
  readonly ipBatchLines: Record<Family, string[]> = { 4: [], 6: [] };
  /** Network interfaces that exist ("/sys/class/net"). */
  readonly links = new Set<string>(['lo', 'eth0', 'docker0']);
  /** What `conntrack -L -f ipv4|ipv6` lists, one flow a line as conntrack prints it. */
  readonly flows: { family: 4 | 6; line: string }[] = [];
  /** False: this host has no ip6tables (ip6tables-* fail). */
  ipv6 = true;
  /** Called after every call, with its error if it failed: lets a test check invariants between steps. */
  readonly observers: ((call: RecordedCall, error?: Error) => void)[] = [];
  private readonly failures: { match: (call: RecordedCall) => boolean; message: string }[] = [];

  /** Makes the next call that `match` accepts fail (once), before it changes anything. */
  failOnce(match: (call: RecordedCall) => boolean, message = 'injected failure'): void {
    this.failures.push({ match, message });
  }

  /** The calls to one tool (e.g. 'iptables-restore'). */
  callsOf(file: string): RecordedCall[] {
    return this.calls.filter((call) => call.file === file);
  }

  /** Our chains (`cali-` prefix) in one table, with their rules. */
  chainsWithPrefix(family: Family, prefix = 'cali-'): Map<string, string[]> {
    return new Map([...this.tables[family]].filter(([name]) => name.startsWith(prefix)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  async run(file: string, args: readonly string[], input?: string): Promise<string> {
    const call: RecordedCall = input === undefined ? { file, args: [...args] } : { file, args: [...args], input };
    this.calls.push(call);
    let error: Error | undefined;
    try {
      return this.dispatch(call);
    } catch (caught) {
      error = caught as Error;
      throw caught;
    } finally {
      for (const observer of this.observers) observer(call, error);
    }
  }

  private dispatch(call: RecordedCall): string {
    const { file } = call;
    const index = this.failures.findIndex((failure) => failure.match(call));
    if (index >= 0) {
      const [failure] = this.failures.splice(index, 1);
      throw this.error(call, failure!.message, 1);
    }
    switch (file) {
      case 'iptables-save':
      case 'ip6tables-save':
        return this.save(call, file === 'iptables-save' ? 4 : 6);
      case 'iptables-restore':
      case 'ip6tables-restore':
        return this.restore(call, file === 'iptables-restore' ? 4 : 6);
      case 'iptables':
      case 'ip6tables':
        return this.list(call, file === 'iptables' ? 4 : 6);
      case 'ipset':
        return this.ipset(call);
      case 'ip':
        return this.ip(call);
      case 'conntrack':
        return call.args[0] === '-L' ? this.flows.filter((flow) => flow.family === (call.args[2] === 'ipv6' ? 6 : 4)).map((flow) => `${flow.line}\n`).join('') : '';
      default:
        throw this.error(call, `${file}: command not found`, 127);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // iptables
  // ---------------------------------------------------------------------------------------------

  private tableOf(family: Family, name: TableName): { rules: Table; policies: Map<string, string>; builtins: ReadonlySet<string> } {
    return name === 'filter'
      ? { rules: this.tables[family], policies: this.policies[family], builtins: new Set(BUILTIN_CHAINS) }
      : { rules: this.natTables[family], policies: this.natPolicies[family], builtins: new Set(NAT_BUILTIN_CHAINS) };
  }

  /** The table as `iptables-save -t <table>` prints it: built-in chains first, then the others sorted. */
  saveText(family: Family, tableName: TableName = 'filter'): string {
    const { rules: table, policies, builtins } = this.tableOf(family, tableName);
    const names = [...BUILTINS[tableName], ...[...table.keys()].filter((name) => !builtins.has(name)).sort()];
    const lines = ['# Generated by fake-kernel', `*${tableName}`];
    for (const name of names) lines.push(`:${name} ${builtins.has(name) ? policies.get(name) : '-'} [0:0]`);
    for (const name of names) for (const rule of table.get(name) ?? []) lines.push(`-A ${name} ${rule}`);
    lines.push('COMMIT', '# Completed', '');
    return lines.join('\n');
  }

  private save(call: RecordedCall, family: Family): string {
    if (family === 6 && !this.ipv6) throw this.error(call, 'ip6tables-save: unable to initialize table', 1);
    if (call.args.length !== 2 || call.args[0] !== '-t' || (call.args[1] !== 'filter' && call.args[1] !== 'nat')) throw this.error(call, `unsupported arguments ${call.args.join(' ')}`, 2);
    if (call.args[1] === 'nat' && !this.nat) throw this.error(call, `${family === 4 ? 'iptables' : 'ip6tables'}-save: table 'nat' does not exist`, 1);
    return this.saveText(family, call.args[1]);
  }

  /** `iptables -t filter -S CHAIN`: the chain's policy line, then its rules. */
  private list(call: RecordedCall, family: Family): string {
    if (family === 6 && !this.ipv6) throw this.error(call, 'ip6tables: unable to initialize table', 1);
    const [t, table, s, chain] = call.args;
    if (call.args.length !== 4 || t !== '-t' || (table !== 'filter' && table !== 'nat') || s !== '-S' || chain === undefined) throw this.error(call, `unsupported arguments ${call.args.join(' ')}`, 2);
    const chosen = this.tableOf(family, table);
    const rules = chosen.rules.get(chain);
    if (!rules) throw this.error(call, `iptables: No chain/target/match by that name.`, 1);
    const head = chosen.builtins.has(chain) ? `-P ${chain} ${chosen.policies.get(chain)}` : `-N ${chain}`;
    return [head, ...rules.map((rule) => `-A ${chain} ${rule}`), ''].join('\n');
  }

  private restore(call: RecordedCall, family: Family): string {
    if (family === 6 && !this.ipv6) throw this.error(call, 'ip6tables-restore: unable to initialize table', 1);
    const noflush = call.args.includes('--noflush') || call.args.includes('-n');
    for (const arg of call.args) if (!['--noflush', '-n', '--wait', '-w', '--verbose', '-v'].includes(arg)) throw this.error(call, `unknown option ${arg}`, 2);
    if (call.input === undefined) throw this.error(call, 'no input', 2);
    // Working copies: the live tables are replaced only when every line applied (atomic COMMIT).
    const works = new Map<TableName, { work: Table; policies: Map<string, string>; builtins: ReadonlySet<string> }>();
    let work: Table = new Map();
    let policies = new Map<string, string>();
    let builtins: ReadonlySet<string> = new Set();
    let inTable = false;
    let committed = false;
    const lines = call.input.split('\n');
    lines.forEach((raw, i) => {
      const line = raw.trim();
      const fail = (message: string): never => {
        throw this.error(call, `${family === 4 ? 'iptables' : 'ip6tables'}-restore: line ${i + 1} failed: ${message}`, 1);
      };
      if (line === '' || line.startsWith('#')) return;
      if (line.startsWith('*')) {
        if (inTable) fail('table declared inside another table');
        if (line !== '*filter' && line !== '*nat') fail(`this fake supports only the filter and nat tables, not ${line}`);
        if (line === '*nat' && !this.nat) fail(`table 'nat' does not exist`);
        const name = line.slice(1) as TableName;
        if (!works.has(name)) {
          const live = this.tableOf(family, name);
          works.set(name, { work: new Map([...live.rules].map(([chain, rules]) => [chain, [...rules]])), policies: new Map(live.policies), builtins: live.builtins });
        }
        ({ work, policies, builtins } = works.get(name)!);
        inTable = true;
        if (!noflush) {
          for (const chain of [...work.keys()]) if (!builtins.has(chain)) work.delete(chain);
          for (const chain of builtins) work.set(chain, []);
        }
        return;
      }
      if (!inTable) fail('no table declared');
      if (line === 'COMMIT') {
        inTable = false;
        committed = true;
        return;
      }
      if (line.startsWith(':')) {
        const m = /^:(\S+)\s+(\S+)(?:\s+\[\d+:\d+\])?$/.exec(line);
        if (!m) fail(`bad chain declaration ${line}`);
        const [, name, policy] = m!;
        checkChainName(name!, fail);
        if (builtins.has(name!)) {
          if (policy !== 'ACCEPT' && policy !== 'DROP') fail(`bad policy ${policy}`);
          policies.set(name!, policy!);
        } else {
          if (policy !== '-') fail(`a user-defined chain has no policy: ${line}`);
          work.set(name!, []); // creates it, or flushes it (--noflush)
        }
        return;
      }
      this.command(line, work, family, fail, builtins, builtins.has('POSTROUTING'));
    });
    if (inTable || !committed) throw this.error(call, `${family === 4 ? 'iptables' : 'ip6tables'}-restore: COMMIT expected at end of input`, 1);
    for (const [name, done] of works) {
      const live = this.tableOf(family, name);
      live.rules.clear();
      for (const [chain, rules] of done.work) live.rules.set(chain, rules);
      live.policies.clear();
      for (const [chain, policy] of done.policies) live.policies.set(chain, policy);
    }
    return '';
  }

  private command(line: string, work: Table, family: Family, fail: (message: string) => never, builtins: ReadonlySet<string>, nat: boolean): void {
    const chainOf = (name: string | undefined): string[] => {
      if (name === undefined) return fail('no chain given');
      const rules = work.get(name);
      if (!rules) return fail(`chain ${name} does not exist`);
      return rules;
    };
    let m: RegExpExecArray | null;
    if ((m = /^(?:-A|--append)\s+(\S+)\s+(.+)$/.exec(line))) {
      const rules = chainOf(m[1]);
      this.checkRule(m[2]!, work, family, fail, builtins, nat);
      rules.push(m[2]!);
    } else if ((m = /^(?:-I|--insert)\s+(\S+)(?:\s+(\d+))?\s+(.+)$/.exec(line))) {
      const rules = chainOf(m[1]);
      const position = m[2] === undefined ? 1 : Number(m[2]);
      if (position < 1 || position > rules.length + 1) fail(`index of insertion too big: ${position}`);
      this.checkRule(m[3]!, work, family, fail, builtins, nat);
      rules.splice(position - 1, 0, m[3]!);
    } else if ((m = /^(?:-D|--delete)\s+(\S+)\s+(.+)$/.exec(line))) {
      const rules = chainOf(m[1]);
      const index = /^\d+$/.test(m[2]!) ? Number(m[2]) - 1 : rules.indexOf(m[2]!);
      if (index < 0 || index >= rules.length) fail(`Bad rule (does a matching rule exist in that chain?): ${line}`);
      rules.splice(index, 1);
    } else if ((m = /^(?:-F|--flush)\s+(\S+)$/.exec(line))) {
      chainOf(m[1]).length = 0;
    } else if ((m = /^(?:-N|--new-chain|--new)\s+(\S+)$/.exec(line))) {
      checkChainName(m[1]!, fail);
      if (work.has(m[1]!)) fail(`chain ${m[1]} already exists`);
      work.set(m[1]!, []);
    } else if ((m = /^(?:-X|--delete-chain)\s+(\S+)$/.exec(line))) {
      const name = m[1]!;
      if (builtins.has(name)) fail(`cannot delete built-in chain ${name}`);
      const rules = chainOf(name);
      if (rules.length > 0) fail(`chain ${name} is not empty (Directory not empty)`);
      for (const [other, otherRules] of work) {
        if (other === name) continue;
        if (otherRules.some((rule) => jumpTarget(rule) === name)) fail(`chain ${name} is still referenced by ${other} (Too many links)`);
      }
      work.delete(name);
    } else {
      fail(`unknown command: ${line}`);
    }
  }

  /** A rule must be well quoted, jump only to targets or existing chains, and match only on existing sets of its family. */
  private checkRule(rule: string, work: Table, family: Family, fail: (message: string) => never, builtins: ReadonlySet<string>, nat: boolean): void {
    const words = tokenize(rule, fail);
    for (let i = 0; i < words.length; i++) {
      const word = words[i]!;
      if (word === '-j' || word === '--jump' || word === '-g' || word === '--goto') {
        const target = words[i + 1];
        if (target === undefined) fail(`${word} needs a target`);
        const isChain = work.has(target!) && !builtins.has(target!);
        const isTarget = TARGETS.has(target!) || (nat && NAT_TARGETS.has(target!));
        if (word === '-g' || word === '--goto' ? !isChain : !isChain && !isTarget) fail(`Couldn't load target \`${target}'`);
      }
      if (word === '--match-set') {
        const name = words[i + 1];
        const set = name === undefined ? undefined : this.sets.get(name);
        if (!set) fail(`Set ${name} doesn't exist.`);
        if (set!.family !== (family === 4 ? 'inet' : 'inet6')) fail(`The protocol family of set ${name} is incompatible`);
        if (words[i + 2] !== 'src' && words[i + 2] !== 'dst') fail(`--match-set ${name} needs src or dst`);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // ipset
  // ---------------------------------------------------------------------------------------------

  /** Names of the sets a rule in either table matches on. */
  private referencedSets(): Set<string> {
    const names = new Set<string>();
    for (const family of [4, 6] as const) {
      for (const table of [this.tables[family], this.natTables[family]]) {
        for (const rules of table.values()) for (const rule of rules) for (const m of rule.matchAll(/--match-set\s+(\S+)/g)) names.add(m[1]!);
      }
    }
    return names;
  }

  private ipset(call: RecordedCall): string {
    const args = call.args;
    if (args.length === 2 && args[0] === 'list' && args[1] === '-n') return [...this.sets.keys()].map((name) => `${name}\n`).join('');
    if (args.length !== 1 || args[0] !== 'restore') throw this.error(call, `ipset: unsupported arguments ${args.join(' ')}`, 1);
    if (call.input === undefined) throw this.error(call, 'ipset restore: no input', 1);
    // Like the real tool: each line takes effect in turn, and the first error stops the restore.
    call.input.split('\n').forEach((raw, i) => {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) return;
      const fail = (message: string): never => {
        throw this.error(call, `ipset v7.17: Error in line ${i + 1}: ${message}`, 1);
      };
      const words = line.split(/\s+/);
      const exist = words.includes('-exist');
      const plain = words.filter((word) => word !== '-exist');
      const [command, name] = plain;
      if (name === undefined) fail(`missing set name: ${line}`);
      const set = this.sets.get(name!);
      switch (command) {
        case 'create': {
          if (name!.length > 31) fail(`Syntax error: setname '${name}' is longer than 31 characters`);
          const type = plain[2];
          if (type !== 'hash:ip' && type !== 'hash:net') fail(`unsupported set type ${type}`);
          const options = plain.slice(3);
          let family: 'inet' | 'inet6' = 'inet';
          for (let j = 0; j < options.length; j += 2) {
            const [option, value] = [options[j], options[j + 1]];
            if (option === 'family' && (value === 'inet' || value === 'inet6')) family = value;
            else if ((option === 'maxelem' || option === 'hashsize') && value !== undefined && /^\d+$/.test(value)) continue;
            else fail(`unknown create option ${option} ${value ?? ''}`);
          }
          if (set) {
            if (!exist) fail('Set cannot be created: set with the same name already exists');
            if (set.type !== type || set.family !== family) fail('Set cannot be created: set with the same name already exists with a different type');
            return;
          }
          this.sets.set(name!, { type: type!, family, members: new Set() });
          return;
        }
        case 'flush':
          if (!set) fail(`The set with the given name does not exist`);
          set!.members.clear();
          return;
        case 'add':
        case 'del': {
          if (!set) fail(`The set with the given name does not exist`);
          const member = normaliseMember(plain[2], set!.family, fail);
          if (command === 'add') {
            if (set!.members.has(member) && !exist) fail("Element cannot be added to the set: it's already added");
            set!.members.add(member);
          } else {
            if (!set!.members.has(member) && !exist) fail("Element cannot be deleted from the set: it's not added");
            set!.members.delete(member);
          }
          return;
        }
        case 'swap': {
          const other = plain[2] === undefined ? undefined : this.sets.get(plain[2]);
          if (!set || !other) fail('The set with the given name does not exist');
          if (set!.type !== other!.type || set!.family !== other!.family) fail('The sets cannot be swapped: their type does not match');
          const members = set!.members;
          set!.members = other!.members;
          other!.members = members;
          return;
        }
        case 'destroy':
          if (!set) fail('The set with the given name does not exist');
          if (this.referencedSets().has(name!)) fail('Set cannot be destroyed: it is in use by a kernel component');
          this.sets.delete(name!);
          return;
        default:
          fail(`unknown command ${command}`);
      }
    });
    return '';
  }

  // ---------------------------------------------------------------------------------------------
  // ip route / neigh
  // ---------------------------------------------------------------------------------------------

  private ip(call: RecordedCall): string {
    const [flag, ...rest] = call.args;
    const family: Family | undefined = flag === '-4' ? 4 : flag === '-6' ? 6 : undefined;
    if (family === undefined) throw this.error(call, `ip: unsupported arguments ${call.args.join(' ')}`, 1);
    const routes = this.routes[family];
    if (rest.join(' ') === 'route show proto 157') {
      const hostBits = family === 4 ? '/32' : '/128';
      return [...routes.values()]
        .filter((route) => route.proto === '157')
        .map((route) => (route.blackhole ? `blackhole ${route.dst}\n` : `${route.dst.endsWith(hostBits) ? route.dst.slice(0, -hostBits.length) : route.dst} dev ${route.dev} scope link\n`))
        .join('');
    }
    if (rest.join(' ') === 'route show') {
      // As ip prints it: the protocol is shown unless it is boot, a /32 or /128 without its length.
      const hostBits = family === 4 ? '/32' : '/128';
      const dst = (route: FakeRoute) => (route.dst === '0.0.0.0/0' || route.dst === '::/0' ? 'default' : route.dst.endsWith(hostBits) ? route.dst.slice(0, -hostBits.length) : route.dst);
      const proto = (route: FakeRoute) => (route.proto === 'boot' ? '' : ` proto ${route.proto}`);
      return [...routes.values()].map((route) => (route.blackhole ? `blackhole ${dst(route)}${proto(route)}\n` : `${dst(route)} dev ${route.dev}${proto(route)} scope link\n`)).join('');
    }
    const flush = /^route flush proto (\S+)$/.exec(rest.join(' '));
    if (flush) {
      for (const [dst, route] of routes) if (route.proto === flush[1]) routes.delete(dst);
      return '';
    }
    if (rest.join(' ') !== '-force -batch -') throw this.error(call, `ip: unsupported arguments ${call.args.join(' ')}`, 1);
    // -force: every line is tried; the command fails at the end if any line did.
    const errors: string[] = [];
    for (const raw of (call.input ?? '').split('\n')) {
      const line = raw.trim();
      if (line === '') continue;
      this.ipBatchLines[family].push(line);
      const error = this.ipLine(line, family);
      if (error) errors.push(`${error} (${line})`);
    }
    if (errors.length > 0) throw this.error(call, errors.join('\n'), 1);
    return '';
  }

  private ipLine(line: string, family: Family): string | undefined {
    const routes = this.routes[family];
    const normal = (dst: string) => (dst.includes('/') ? dst : `${dst}/${family === 4 ? 32 : 128}`);
    const validAddress = (dst: string) => (family === 4 ? isIPv4 : isIPv6)(dst.split('/')[0]!);
    let m: RegExpExecArray | null;
    if ((m = /^route (replace|del) blackhole (\S+) proto (\S+)$/.exec(line))) {
      const dst = normal(m[2]!);
      if (!validAddress(dst)) return 'Invalid prefix';
      if (m[1] === 'replace') routes.set(dst, { dst, blackhole: true, proto: m[3]! });
      else if (routes.get(dst)?.blackhole) routes.delete(dst);
      else return 'RTNETLINK answers: No such process';
      return undefined;
    }
    if ((m = /^route (replace|del) (\S+) dev (\S+) proto (\S+)$/.exec(line))) {
      const dst = normal(m[2]!);
      if (!validAddress(dst)) return 'Invalid prefix';
      if (!this.links.has(m[3]!)) return `Cannot find device "${m[3]}"`;
      if (m[1] === 'replace') routes.set(dst, { dst, dev: m[3]!, blackhole: false, proto: m[4]! });
      else if (routes.get(dst)?.dev === m[3]) routes.delete(dst);
      else return 'RTNETLINK answers: No such process';
      return undefined;
    }
    if ((m = /^neigh (replace|del) (\S+) lladdr (\S+) dev (\S+) nud permanent$/.exec(line))) {
      if (!validAddress(m[2]!)) return 'Invalid address';
      if (!this.links.has(m[4]!)) return `Cannot find device "${m[4]}"`;
      if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(m[3]!)) return 'Invalid lladdr';
      if (m[1] === 'replace') this.neighbours[family].set(m[2]!, { dev: m[4]!, lladdr: m[3]!.toLowerCase() });
      else this.neighbours[family].delete(m[2]!);
      return undefined;
    }
    return `Unknown command "${line}"`;
  }

  private error(call: RecordedCall, message: string, code: number): FakeKernelError {
    return new FakeKernelError(`${call.file} ${call.args.join(' ')}`, message, code);
  }
}

/** The chain a rule jumps or goes to (the last -j/-g), if any. */
export function jumpTarget(rule: string): string | undefined {
  const matches = [...rule.matchAll(/(?:^|\s)(?:-j|--jump|-g|--goto)\s+(\S+)/g)];
  return matches.length === 0 ? undefined : matches[matches.length - 1]![1];
}

function checkChainName(name: string, fail: (message: string) => never): void {
  if (name.length === 0 || name.length > 28) fail(`chain name \`${name}' is longer than 28 characters`);
  if (/^[-!]/.test(name) || /[\s"'`]/.test(name)) fail(`invalid chain name \`${name}'`);
}

/** Splits a rule into words; double quotes group words (comments). */
function tokenize(rule: string, fail: (message: string) => never): string[] {
  const words: string[] = [];
  const re = /"([^"]*)"|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(rule))) {
    if (m[2] !== undefined && m[2].includes('"')) fail(`unbalanced quotes in ${rule}`);
    words.push(m[1] ?? m[2]!);
  }
  return words;
}

/** Like ipset's output: a host network is listed as its address. */
function normaliseMember(member: string | undefined, family: 'inet' | 'inet6', fail: (message: string) => never): string {
  if (member === undefined) return fail('missing element');
  const [address, prefix] = member.split('/');
  const v4 = family === 'inet';
  if (!(v4 ? isIPv4 : isIPv6)(address!)) fail(`Syntax error: cannot parse ${member}: resolving to ${v4 ? 'IPv4' : 'IPv6'} address failed`);
  const max = v4 ? 32 : 128;
  if (prefix === undefined || Number(prefix) === max) return address!;
  if (!/^\d+$/.test(prefix) || Number(prefix) > max || Number(prefix) === 0) fail(`invalid prefix in ${member}`);
  return member;
}
