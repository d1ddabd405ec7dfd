import type { CommandRunner } from '../../host/exec';
import type { Logger } from '../log';
import { CHAIN_PREFIX, type Family, TOP_CHAINS } from './contract';
import type { RestoreCommitter } from './restore-session';

/** The kernel chains our top-level chains hang from, and the jump each gets. */
const JUMPS = Object.entries(TOP_CHAINS) as [keyof typeof TOP_CHAINS, string][];

/**
 * Writes chains to the kernel's filter table with `iptables-restore --noflush`: one atomic
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
  ) {}

  private get restore(): string {
    return this.family === 4 ? 'iptables-restore' : 'ip6tables-restore';
  }

  private get save(): string {
    return this.family === 4 ? 'iptables-save' : 'ip6tables-save';
  }

  /**
   * Learns which of our chains already exist (left by an earlier run): they are kept until
   * replaced. `saved` is this family's `iptables-save -t filter` when the caller has it already.
   */
  async loadExisting(saved?: string): Promise<string[]> {
    const text = saved ?? (await this.runner.run(this.save, ['-t', 'filter']));
    const chains = [...text.matchAll(/^:(\S+)/gm)].map((m) => m[1] as string).filter((name) => name.startsWith(CHAIN_PREFIX));
    for (const name of chains) if (!this.programmed.has(name)) this.programmed.set(name, undefined);
    this.kernelRules = new Map(JUMPS.map(([kernelChain]) => [kernelChain, rulesOf(text, kernelChain)]));
    return chains;
  }

  /**
   * Applies the named chains' desired contents; names absent from `desired` are deleted. The first
   * apply after loadExisting also puts our jumps first in INPUT, FORWARD and OUTPUT, in the same
   * transaction: start-up then needs no more processes, and the chains and their jumps appear
   * together.
   */
  async apply(desired: ReadonlyMap<string, readonly string[]>, names: Iterable<string>): Promise<void> {
    const input = buildRestore(desired, names, this.programmed);
    // The jumps go with the first write in which all three of their targets exist (written chain by
    // chain, after a failure, the first writes may not hold them all yet).
    const targets = JUMPS.every(([, ours]) => this.programmed.has(ours) || input?.written.includes(ours));
    const jumps = this.kernelRules && targets ? jumpFixes(this.kernelRules) : [];
    if (!input && jumps.length === 0) return;
    const text = input ? input.text.replace(/COMMIT\n$/, [...jumps, 'COMMIT\n'].join('\n')) : `*filter\n${[...jumps, 'COMMIT\n'].join('\n')}`;
    if (this.session) await this.session.commit(text);
    else await this.runner.run(this.restore, ['--noflush'], text);
    this.kernelRules = undefined;
    if (jumps.length > 0) this.log.info(`IPv${this.family}: put the jumps to our chains first in INPUT, FORWARD and OUTPUT`);
    for (const name of input?.written ?? []) this.programmed.set(name, desired.get(name));
    for (const name of input?.deleted ?? []) this.programmed.delete(name);
  }

  /** Names of our chains the kernel has that `desired` does not: left over from an earlier run. */
  orphans(desired: ReadonlyMap<string, readonly string[]>): string[] {
    return [...this.programmed.keys()].filter((name) => !desired.has(name));
  }

  /**
   * Puts the jump to each top-level chain first in INPUT, FORWARD and OUTPUT (Docker's FORWARD
   * policy is DROP, and Docker inserts its own rules at the top when it restarts).
   */
  async ensureJumps(): Promise<boolean> {
    const current = new Map<string, string[]>();
    for (const [kernelChain] of JUMPS) {
      // One chain at a time: iptables-save of a table with thousands of our chains takes ~0.5 s.
      current.set(kernelChain, rulesOf(await this.runner.run(this.family === 4 ? 'iptables' : 'ip6tables', ['-t', 'filter', '-S', kernelChain]), kernelChain));
    }
    const lines = jumpFixes(current);
    if (lines.length === 0) return false;
    await this.runner.run(this.restore, ['--noflush'], `*filter\n${lines.join('\n')}\nCOMMIT\n`);
    this.log.info(`IPv${this.family}: put the jumps to our chains first in INPUT, FORWARD and OUTPUT`);
    return true;
  }

  /**
   * Forgets what was written, so the next apply rewrites everything (after a failed restore); the
   * next apply also starts a new iptables-restore, which reads the kernel's ruleset afresh.
   */
  forget(): void {
    for (const name of this.programmed.keys()) this.programmed.set(name, undefined);
    this.session?.close();
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
function jumpFixes(rules: ReadonlyMap<string, readonly string[]>): string[] {
  const lines: string[] = [];
  for (const [kernelChain, ours] of JUMPS) {
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
  return { text: `*filter\n${lines.join('\n')}\nCOMMIT\n`, written: [...rewritten, ...extended.map(([name]) => name)], deleted };
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
