import { type Family, profileChain, ruleNumberOfComment, TOP_CHAINS } from '../../../agent/dataplane/contract';
import type { Direction } from '../../../policy/ast';
import type { CommandRunner } from '../../../host/exec';
import { CommandError } from '../../errors';

/**
 * The kernel's counters of a profile's rules on this host, for `rule show --counts`. The agent
 * renders each of a profile's rules into that profile's chain with the comment naming its number
 * (src/agent/dataplane/contract.ts, ruleComment), so the counters are found by chain and comment, not
 * by position: a rule may render to several iptables rules (port lists longer than multiport
 * takes) or to none in a family, and each one found is added to the rule's total.
 */
export interface Counter {
  readonly packets: number;
  readonly bytes: number;
}

/** What one or both families' `iptables-save -c` showed: rule counters by chain, then by rule number. */
export interface KernelCounters {
  /** The agent's top chain is in the kernel: calico-node programs this host. */
  readonly programmed: boolean;
  /** Every chain of the filter table that was seen, with its counted rules (possibly none). */
  readonly chains: ReadonlyMap<string, ReadonlyMap<number, Counter>>;
}

/** Adds one family's `iptables-save -c -t filter` text to `into`; returns whether it had cali-FORWARD. */
export function parseCounters(text: string, into: Map<string, Map<number, Counter>>): boolean {
  let programmed = false;
  for (const line of text.split('\n')) {
    const declared = /^:(\S+)/.exec(line);
    if (declared) {
      const name = declared[1] as string;
      if (name === TOP_CHAINS.FORWARD) programmed = true;
      if (!into.has(name)) into.set(name, new Map());
      continue;
    }
    // `[packets:bytes] -A <chain> ... -m comment --comment r<N> ...`; the comment is plain, so unquoted.
    const rule = /^\[(\d+):(\d+)\] -A (\S+) .*?-m comment --comment (\S+)/.exec(line);
    if (!rule) continue;
    const number = ruleNumberOfComment(rule[4] as string);
    if (number === undefined) continue;
    const chain = into.get(rule[3] as string) ?? new Map<number, Counter>();
    into.set(rule[3] as string, chain);
    const before = chain.get(number) ?? { packets: 0, bytes: 0 };
    chain.set(number, { packets: before.packets + Number(rule[1]), bytes: before.bytes + Number(rule[2]) });
  }
  return programmed;
}

const SAVE: Record<Family, string> = { 4: 'iptables-save', 6: 'ip6tables-save' };

/**
 * Reads both families' counters. IPv4's must be readable (it is where every host has Calico's
 * chains); a host without IPv6 filtering has no IPv6 counters to add.
 */
export async function readCounters(runner: CommandRunner): Promise<KernelCounters> {
  const chains = new Map<string, Map<number, Counter>>();
  let text: string;
  try {
    text = await runner.run(SAVE[4], ['-c', '-t', 'filter']);
  } catch (error) {
    throw new CommandError(`Cannot read the kernel's rule counters (calicoctl must run as root on the host): ${(error as Error).message.split('\n')[0]}`);
  }
  const programmed = parseCounters(text, chains);
  const v6 = await runner.run(SAVE[6], ['-c', '-t', 'filter']).catch(() => '');
  return { programmed: parseCounters(v6, chains) || programmed, chains };
}

/** A rule's counter on this host, or null when the kernel has none for it. */
export type RuleCount = Counter | null;

/**
 * Each rule's counter in a profile's two lists, and whether the profile's chains are on this host
 * at all (the agent renders a profile only where a local endpoint uses it).
 */
export function profileCounts(counters: KernelCounters, profileId: string, lengths: Readonly<Record<Direction, number>>): { present: boolean; counts: Record<Direction, RuleCount[]> } {
  const one = (direction: Direction) => {
    const chain = counters.chains.get(profileChain(profileId, direction));
    return Array.from({ length: lengths[direction] }, (_, i) => chain?.get(i + 1) ?? null);
  };
  const present = counters.chains.has(profileChain(profileId, 'inbound')) || counters.chains.has(profileChain(profileId, 'outbound'));
  return { present, counts: { inbound: one('inbound'), outbound: one('outbound') } };
}
