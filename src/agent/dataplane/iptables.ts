import type { CommandRunner } from '../../host/exec';
import type { Logger } from '../log';
import { CHAIN_PREFIX, type Family, NAT_TOP_CHAINS, TOP_CHAINS } from './contract';
import type { RestoreCommitter } from './restore-session';

/** A table the agent writes, and the kernel chains its top-level chains hang from (with the jump each gets). */
export interface TableSpec {
  readonly name: 'filter' | 'nat';
  readonly jumps: readonly (readonly [string, string])[];
}

export const FILTER_TABLE: TableSpec = { name: 'filter', jumps: Object.entries(TOP_CHAINS) };
export const NAT_TABLE: TableSpec = { name: 'nat', jumps: Object.entries(NAT_TOP_CHAINS) };

/**
 * Writes chains to one of the kernel's tables (filter, or nat for outgoing NAT) with `iptables-restore --noflush`: one atomic
 * transaction per batch that rewrites only the chains that changed, leaving every chain that is not
 * ours (Docker's, the admin's) untouched. The rules are never read back (iptables normalises them):
 * the applier remembers what it wrote.
 */
export class IptablesApplier {
  /** What we wrote to each of our chains; undefined content means "exists, content unknown". */
  private readonly programmed = new Map<string, readonly string[] | undefined>();
  /** INPUT, FORWARD and OUTPUT as loadExisting read them, until the first apply puts our jumps in. */
  private kernelRules: Map<string, string[]> | undefined;

  constructor(
    readonly family: Family,
    private readonly runner: CommandRunner,
    private readonly log: Logger,
    /** Where chain updates go when not through a one-shot iptables-restore (see RestoreSession). */
    private readonly session?: RestoreCommitter,
    private readonly table: TableSpec = FILTER_TABLE,
  ) {}

  private get restore(): string {
    return this.family === 4 ? 'iptables-restore' : 'ip6tables-restore';
  }

  private get save(): string {
    return this.family === 4 ? 'iptables-save' : 'ip6tables-save';
  }

  /**
   * Learns which of our chains already exist (left by an earlier run): they are kept until
   * replaced. `saved` is this family's `iptables-save -t <table>` when the caller has it already.
   */
  async loadExisting(saved?: string): Promise<string[]> {
    const text = saved ?? (await this.runner.run(this.save, ['-t', this.table.name]));
    const chains = [...text.matchAll(/^:(\S+)/gm)].map((m) => m[1] as string).filter((name) => name.startsWith(CHAIN_PREFIX));
    for (const name of chains) if (!this.programmed.has(name)) this.programmed.set(name, undefined);
    this.kernelRules = new Map(this.table.jumps.map(([kernelChain]) => [kernelChain, rulesOf(text, kernelChain)]));
    return chains;
  }

  /**
   * Applies the named chains' desired contents; names absent from `desired` are deleted. The first
   * apply after loadExisting also puts our jumps first in INPUT, FORWARD and OUTPUT, in the same
   * transaction: start-up then needs no more processes, and the chains and their jumps appear
   * together.
   */
  async apply(desired: ReadonlyMap<string, readonly string[]>, names: Iterable<string>): Promise<void> {
    const input = buildRestore(desired, names, this.programmed, this.table.name);
    // The jumps go with the first write in which all three of their targets exist (written chain by
    // chain, after a failure, the first writes may not hold them all yet).
    const targets = this.table.jumps.every(([, ours]) => this.programmed.has(ours) || input?.written.includes(ours));
    const jumps = this.kernelRules && targets ? jumpFixes(this.kernelRules, this.table.jumps) : [];
    if (!input && jumps.length === 0) return;
    const text = input ? input.text.replace(/COMMIT\n$/, [...jumps, 'COMMIT\n'].join('\n')) : `*${this.table.name}\n${[...jumps, 'COMMIT\n'].join('\n')}`;
    if (this.session) await this.session.commit(text);
    else await this.runner.run(this.restore, ['--noflush'], text);
    this.kernelRules = undefined;
    if (jumps.length > 0) this.log.info(`IPv${this.family}: put the jumps to our chains first in ${this.kernelChainNames()}`);
    for (const name of input?.written ?? []) this.programmed.set(name, desired.get(name));
    for (const name of input?.deleted ?? []) this.programmed.delete(name);
  }

  /** Names of our chains the kernel has that `desired` does not: left over from an earlier run. */
  orphans(desired: ReadonlyMap<string, readonly string[]>): string[] {
    return [...this.programmed.keys()].filter((name) => !desired.has(name));
  }

  /**
   * Puts the jump to each top-level chain first in its kernel chain (Docker's FORWARD policy is
   * DROP, and Docker inserts its own rules at the top when it restarts; its POSTROUTING MASQUERADE
   * of docker0 must not see our pools' traffic first either).
   */
  async ensureJumps(): Promise<boolean> {
    const current = new Map<string, string[]>();
    for (const [kernelChain] of this.table.jumps) {
      // One chain at a time: iptables-save of a table with thousands of our chains takes ~0.5 s.
      current.set(kernelChain, rulesOf(await this.runner.run(this.family === 4 ? 'iptables' : 'ip6tables', ['-t', this.table.name, '-S', kernelChain]), kernelChain));
    }
    const lines = jumpFixes(current, this.table.jumps);
    if (lines.length === 0) return false;
    await this.runner.run(this.restore, ['--noflush'], `*${this.table.name}\n${lines.join('\n')}\nCOMMIT\n`);
    this.log.info(`IPv${this.family}: put the jumps to our chains first in ${this.kernelChainNames()}`);
    return true;
  }

  private kernelChainNames(): string {
    const names = this.table.jumps.map(([kernelChain]) => kernelChain);
    return names.length === 1 ? `${names[0]} (${this.table.name})` : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
  }

  /**
   * Forgets what was written, so the next apply rewrites everything (after a failed restore); the
   * next apply also starts a new iptables-restore, which reads the kernel's ruleset afresh.
   */
  forget(): void {
    for (const name of this.programmed.keys()) this.programmed.set(name, undefined);
    this.session?.close();
  }

  /** Starts the restore process early (see RestoreSession); it writes nothing until a commit. */
  warm(): void {
    this.session?.warm?.();
  }

  close(): void {
    this.session?.close();
  }
}

/** A kernel chain's rules (what follows `-A <chain> `), from iptables-save or `iptables -S` output. */
function rulesOf(text: string, chain: string): string[] {
  return [...text.matchAll(new RegExp(`^-A ${chain} (.*)$`, 'gm'))].map((m) => m[1] as string);
}

/** The lines that leave exactly one jump to each of our top-level chains, first in its kernel chain. */
function jumpFixes(rules: ReadonlyMap<string, readonly string[]>, jumps: TableSpec['jumps']): string[] {
  const lines: string[] = [];
  for (const [kernelChain, ours] of jumps) {
    const current = rules.get(kernelChain) ?? [];
    const jump = `-j ${ours}`;
    const count = current.filter((rule) => rule === jump).length;
    if (current[0] === jump && count === 1) continue;
    for (let i = 0; i < count; i++) lines.push(`-D ${kernelChain} ${jump}`);
    lines.push(`-I ${kernelChain} 1 ${jump}`);
  }
  return lines;
}

/**
 * The iptables-restore input that makes the named chains match `desired`. Declaring a chain
 * (`:name - [0:0]`) creates it or flushes it; deleted chains are flushed first and removed last,
 * after every chain that jumped to them has been rewritten in the same transaction.
 *
 * A chain whose new rules only add to what it had (a rule added to a profile) gets `-A` (or `-I`)
 * lines instead of a rewrite: iptables-nft must fetch the whole ruleset to flush a chain, which
 * costs ~15 ms with thousands of chains, but not to append to one, so the cost of the common
 * change does not grow with the number of endpoints.
 */
export function buildRestore(
  desired: ReadonlyMap<string, readonly string[]>,
  names: Iterable<string>,
  programmed: ReadonlyMap<string, readonly string[] | undefined>,
  table: TableSpec['name'] = 'filter',
): { text: string; written: string[]; deleted: string[] } | undefined {
  const rewritten: string[] = [];
  const extended: [string, { position: number; rule: string }[]][] = [];
  const deleted: string[] = [];
  for (const name of new Set(names)) {
    const rules = desired.get(name);
    const current = programmed.get(name);
    if (rules) {
      if (programmed.has(name) && current !== undefined && sameRules(current, rules)) continue;
      const additions = current === undefined ? undefined : insertions(current, rules);
      if (additions) extended.push([name, additions]);
      else rewritten.push(name);
    } else if (programmed.has(name)) {
      deleted.push(name);
    }
  }
  if (rewritten.length === 0 && extended.length === 0 && deleted.length === 0) return undefined;
  // Declare every rewritten chain before any rule, so rules may jump to chains created in this batch.
  const lines = [...rewritten, ...deleted].sort().map((name) => `:${name} - [0:0]`);
  for (const name of rewritten.sort()) for (const rule of desired.get(name) ?? []) lines.push(`-A ${name} ${rule}`);
  for (const [name, additions] of extended) {
    // Appending needs no rule handle; inserting at position n > 1 makes iptables-nft fetch rules.
    let length = (programmed.get(name) ?? []).length;
    for (const { position, rule } of additions) {
      lines.push(position === length + 1 ? `-A ${name} ${rule}` : `-I ${name} ${position} ${rule}`);
      length++;
    }
  }
  for (const name of deleted.sort()) lines.push(`-X ${name}`);
  return { text: `*${table}\n${lines.join('\n')}\nCOMMIT\n`, written: [...rewritten, ...extended.map(([name]) => name)], deleted };
}

/**
 * The 1-based insertions (in order) that turn `before` into `after`, or undefined when `after`
 * also removes or changes a rule of `before` (then the chain is rewritten).
 */
export function insertions(before: readonly string[], after: readonly string[]): { position: number; rule: string }[] | undefined {
  const additions: { position: number; rule: string }[] = [];
  let kept = 0;
  after.forEach((rule, index) => {
    if (kept < before.length && rule === before[kept]) kept++;
    else additions.push({ position: index + 1, rule });
  });
  return kept === before.length ? additions : undefined;
}

function sameRules(a: readonly string[] | undefined, b: readonly string[]): boolean {
  return a !== undefined && a.length === b.length && a.every((rule, i) => rule === b[i]);
}
