import type { CommandRunner } from '../../host/exec';
import { type Family, isOurSet, tempTagSet } from './contract';

/** How many times a destroy waits for the kernel to release a set (5 ms, doubling: 315 ms in all). */
const DESTROY_RETRIES = 6;

/**
 * Tag sets in the kernel, through `ipset restore`. A changed set is rebuilt under a temporary name
 * and swapped in, so a packet sees either the old members or the new ones, never a partial set.
 */
export class IpsetApplier {
  private readonly programmed = new Map<string, ReadonlySet<string> | undefined>();

  constructor(
    readonly family: Family,
    private readonly runner: CommandRunner,
  ) {}

  /** Learns which of our sets already exist, so they are swapped rather than re-created. */
  async loadExisting(): Promise<string[]> {
    const text = await this.runner.run('ipset', ['list', '-n']);
    const sets = text.split('\n').filter((name) => isOurSet(name, this.family));
    for (const name of sets) if (!this.programmed.has(name)) this.programmed.set(name, undefined);
    return sets;
  }

  /** Creates or updates sets. Deletions wait for `destroy`, after iptables stops using them. */
  async update(sets: ReadonlyMap<string, ReadonlySet<string>>): Promise<void> {
    const lines: string[] = [];
    const done: [string, ReadonlySet<string>][] = [];
    const temps: string[] = [];
    const type = `hash:net family ${this.family === 4 ? 'inet' : 'inet6'} maxelem 1048576`;
    for (const [name, members] of sets) {
      const current = this.programmed.get(name);
      if (current && sameMembers(current, members)) continue;
      if (!this.programmed.has(name)) {
        lines.push(`create ${name} ${type} -exist`, `flush ${name}`, ...[...members].sort().map((m) => `add ${name} ${m}`));
      } else {
        const temp = tempTagSet(name);
        lines.push(`create ${temp} ${type} -exist`, `flush ${temp}`, ...[...members].sort().map((m) => `add ${temp} ${m}`), `swap ${temp} ${name}`, `destroy ${temp}`);
        temps.push(temp);
      }
      done.push([name, members]);
    }
    if (lines.length === 0) return;
    await this.runner.run('ipset', ['restore'], `${lines.join('\n')}\n`);
    for (const [name, members] of done) this.programmed.set(name, new Set(members));
    // A temp set left by an earlier run was adopted by loadExisting; it is gone now.
    for (const temp of temps) this.programmed.delete(temp);
  }

  /**
   * Writes one set member by member, each in its own restore, skipping the members the kernel
   * refuses: after `update` failed on it, the set still exists (chains match on it) with every
   * member the kernel takes. Resolves to the refused members with the kernel's error for each.
   */
  async updateLeniently(name: string, members: ReadonlySet<string>): Promise<{ member: string; error: string }[]> {
    const type = `hash:net family ${this.family === 4 ? 'inet' : 'inet6'} maxelem 1048576`;
    const existed = this.programmed.has(name);
    const target = existed ? tempTagSet(name) : name;
    await this.runner.run('ipset', ['restore'], `create ${target} ${type} -exist\nflush ${target}\n`);
    const refused: { member: string; error: string }[] = [];
    const accepted = new Set<string>();
    for (const member of [...members].sort()) {
      try {
        await this.runner.run('ipset', ['restore'], `add ${target} ${member} -exist\n`);
        accepted.add(member);
      } catch (error) {
        refused.push({ member, error: (error as Error).message.replace(/\s+/g, ' ').trim() });
      }
    }
    if (existed) await this.runner.run('ipset', ['restore'], `swap ${target} ${name}\ndestroy ${target}\n`);
    // Recorded as what the kernel holds, so that once the refusal is fixed the set is rewritten.
    this.programmed.set(name, accepted);
    return refused;
  }

  /**
   * Destroys sets that no rule uses any more. nf_tables frees deleted rules (and drops their
   * references to sets) in deferred work after the commit returns, so a set can be "in use by a
   * kernel component" for a moment after the last rule using it went: that is waited out, briefly.
   */
  async destroy(names: Iterable<string>): Promise<void> {
    let doomed = [...names].filter((name) => this.programmed.has(name));
    for (let attempt = 0; doomed.length > 0; attempt++) {
      try {
        await this.runner.run('ipset', ['restore'], `${doomed.map((name) => `destroy ${name}`).join('\n')}\n`);
        break;
      } catch (error) {
        if (attempt >= DESTROY_RETRIES || !/in use by a kernel component/.test((error as Error).message)) throw error;
        await new Promise((resolve) => setTimeout(resolve, 5 << attempt));
        // ipset restore stops at the failing line: the sets before it are gone already.
        const present = new Set((await this.runner.run('ipset', ['list', '-n'])).split('\n'));
        for (const name of doomed) if (!present.has(name)) this.programmed.delete(name);
        doomed = doomed.filter((name) => present.has(name));
      }
    }
    for (const name of doomed) this.programmed.delete(name);
  }

  orphans(desired: ReadonlyMap<string, unknown>): string[] {
    return [...this.programmed.keys()].filter((name) => !desired.has(name));
  }

  forget(): void {
    for (const name of this.programmed.keys()) this.programmed.set(name, undefined);
  }
}

function sameMembers(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  return a.size === b.size && [...a].every((member) => b.has(member));
}
