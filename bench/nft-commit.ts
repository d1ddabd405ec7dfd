import { spawnSync } from 'child_process';
import { profileChain, TOP_CHAINS } from '../src/agent/dataplane/contract';
import { syntheticState } from './synthetic';
import { percentile } from './timing';

/**
 * What the kernel charges for one rule added to the filter table, against the size of what is
 * already there. Each case is built in a network namespace of its own (nothing on the host is
 * touched) and loaded with iptables-nft; then one rule is appended to a profile chain, `RUNS`
 * times, each a separate `iptables-restore --noflush` as the agent runs it.
 *
 * - "agent layout": the chains and ipsets the agent renders for N endpoints and P profiles (the
 *   same synthetic shape as bench/dataplane-scale), jumped to from INPUT, FORWARD and OUTPUT.
 * - "profile chains only": just the P profiles' chains, each jumped to once from one chain that
 *   FORWARD jumps to: less than any layout with a chain per profile can have, so a floor for
 *   such layouts.
 *
 * nf_tables validates the whole jump graph of a table on every commit that adds a rule (kernel
 * 6.18: nft_table_validate from each base chain), so the cost grows with the ruleset whoever adds
 * the rule. Ratios are against the small case of the same layout, measured in the same run.
 */
const RUNS = Number(process.env.RUNS ?? 40);
const NAMESPACE = `calibench${process.pid}`;

function run(argv: string[], input?: string): string {
  const result = spawnSync(argv[0] as string, argv.slice(1), { input, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`${argv.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}

// nsenter rather than `ip netns exec`, which also remounts /sys and so adds a millisecond to each run.
const inNamespace = (argv: string[], input?: string) => run(['nsenter', `--net=/run/netns/${NAMESPACE}`, ...argv], input);

interface Ruleset {
  readonly sets: Map<string, Set<string>>;
  readonly chains: Map<string, readonly string[]>;
  readonly jumps: string[];
}

/** The shapes bench/dataplane-scale writes to etcd, handed to the agent's renderer directly. */
function agentLayout(endpoints: number, profiles: number): Ruleset {
  const state = syntheticState(endpoints, profiles);
  const jumps = Object.entries(TOP_CHAINS).map(([kernel, ours]) => `-I ${kernel} 1 -j ${ours}`);
  return { sets: state.sets(4), chains: state.chains[4], jumps };
}

function profileChainsOnly(profiles: number): Ruleset {
  const chains = new Map<string, readonly string[]>();
  const sets = new Map<string, Set<string>>();
  const dispatch: string[] = [];
  const template = agentLayout(1, 1);
  for (let p = 0; p < profiles; p++) {
    for (const direction of ['inbound', 'outbound'] as const) {
      const name = profileChain(`synthetic-${p}`, direction);
      const rules = (template.chains.get(profileChain('synthetic-0', direction)) ?? []).map((r) => r.replaceAll('synthetic-0', `synthetic-${p}`));
      chains.set(name, rules);
      dispatch.push(`-j ${name}`);
    }
    sets.set(`cali4-t-synthetic-${p}`, new Set());
  }
  chains.set(TOP_CHAINS.FORWARD, dispatch);
  return { sets, chains, jumps: [`-I FORWARD 1 -j ${TOP_CHAINS.FORWARD}`] };
}

function commitMs(ruleset: Ruleset): { rules: number; samples: number[] } {
  run(['ip', 'netns', 'add', NAMESPACE]);
  try {
    const setLines = [...ruleset.sets].flatMap(([name, members]) => [`create ${name} hash:ip family inet`, ...[...members].map((m) => `add ${name} ${m.replace(/\/32$/, '')}`)]);
    inNamespace(['ipset', 'restore'], `${setLines.join('\n')}\n`);
    const lines = ['*filter', ...[...ruleset.chains.keys()].map((name) => `:${name} - [0:0]`)];
    for (const [name, rules] of ruleset.chains) for (const r of rules) lines.push(`-A ${name} ${r}`);
    lines.push(...ruleset.jumps, 'COMMIT', '');
    inNamespace(['iptables-restore', '--noflush'], lines.join('\n'));
    const rules = inNamespace(['iptables-save', '-t', 'filter']).split('\n').filter((line) => line.startsWith('-A ')).length;
    const target = profileChain('synthetic-0', 'inbound');
    const samples: number[] = [];
    for (let i = 0; i < RUNS + 3; i++) {
      const input = `*filter\n-A ${target} -p tcp -m multiport --destination-ports ${6000 + i} -j MARK --set-xmark 0x1000000/0x1000000\nCOMMIT\n`;
      const started = process.hrtime.bigint();
      inNamespace(['iptables-restore', '--noflush'], input);
      if (i >= 3) samples.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
    return { rules, samples };
  } finally {
    run(['ip', 'netns', 'delete', NAMESPACE]);
  }
}

function main(): void {
  console.log(`nft-commit: one rule appended to a profile chain, ${RUNS} commits per case, each in a fresh network namespace`);
  console.log('layout                endpoints  profiles  rules in table  commit p50 ms  p90 ms  ratio to small');
  const cases: [string, (endpoints: number, profiles: number) => Ruleset][] = [
    ['agent layout', agentLayout],
    ['profile chains only', (_endpoints, profiles) => profileChainsOnly(profiles)],
  ];
  for (const [label, build] of cases) {
    let small = NaN;
    for (const [endpoints, profiles] of [
      [20, 20],
      [2000, 1000],
    ] as const) {
      const { rules, samples } = commitMs(build(endpoints, profiles));
      const p50 = percentile(samples, 50);
      if (Number.isNaN(small)) small = p50;
      console.log(
        `${label.padEnd(20)}  ${String(endpoints).padStart(9)}  ${String(profiles).padStart(8)}  ${String(rules).padStart(14)}  ${p50.toFixed(1).padStart(13)}  ${percentile(samples, 90).toFixed(1).padStart(6)}  ${(p50 / small).toFixed(2).padStart(13)}x`,
      );
    }
  }
}

main();
