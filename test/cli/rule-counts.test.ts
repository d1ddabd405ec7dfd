import { profileChains } from '../../src/agent/dataplane/rules';
import { parseCounters } from '../../src/cli/commands/profile/counters';
import { decodeRules } from '../../src/datastore/profiles';
import type { FakeWorld } from '../fakes/cli';
import { fails, mustRun, ok, plainWorld, rulesKey, runUnchanged, words } from './helpers';

/**
 * `rule show --counts` against a kernel faked from the agent's own renderer: the chains that
 * profileChains renders for what is stored, each of its rules given a counter, printed as
 * `iptables-save -c` prints them. So these tests hold the agent and the CLI to one contract.
 */
type Counts = (family: 4 | 6, chain: string, index: number, rule: string) => [number, number] | undefined;

function kernelFor(world: FakeWorld, profileIds: string[], counts: Counts, extra = ''): void {
  world.runner = {
    run: async (file, args) => {
      expect(args).toEqual(['-c', '-t', 'filter']);
      const family = file === 'iptables-save' ? 4 : file === 'ip6tables-save' ? 6 : undefined;
      if (family === undefined) throw new Error(`${file}: unexpected`);
      const lines = ['*filter', ':FORWARD DROP [0:0]', ':cali-FORWARD - [0:0]'];
      for (const id of profileIds) {
        const stored = world.kv.dump()[rulesKey(id)];
        const rules = decodeRules({ key: rulesKey(id), value: JSON.stringify(stored), modRevision: 1, createRevision: 1, version: 1 } as never);
        for (const [chain, list] of profileChains(id, rules, family).chains) {
          lines.push(`:${chain} - [0:0]`);
          list.forEach((rule, i) => {
            const counted = counts(family, chain, i, rule);
            if (counted) lines.push(`[${counted[0]}:${counted[1]}] -A ${chain} ${rule}`);
          });
        }
      }
      return `${[...lines, extra, 'COMMIT'].join('\n')}\n`;
    },
  };
}

async function web(...rules: string[]): Promise<FakeWorld> {
  const world = await plainWorld('web');
  for (const rule of rules) await mustRun(world, ['profile', 'web', 'rule', 'add', ...words(rule)]);
  return world;
}

const show = (world: FakeWorld, ...extra: string[]) => runUnchanged(world, ['profile', 'web', 'rule', 'show', '--counts', ...extra]);

describe('rule show --counts', () => {
  it("prints rule show's lines with the packets and bytes of each rule, both families added up", async () => {
    const world = await web('inbound allow tcp to ports 3306', 'outbound deny udp to ports 53');
    // Every iptables rule gets 1 packet of 100 bytes in IPv4 and 2 of 300 in IPv6; the RETURN
    // after an allow has its own counter, which must not be added.
    kernelFor(world, ['web'], (family) => (family === 4 ? [1, 100] : [2, 300]));
    expect(await show(world)).toEqual(
      ok(
        'Inbound rules:                packets  bytes\n' +
          '   1 allow from tag web             3    400\n' +
          '   2 allow tcp to ports 3306        3    400\n' +
          'Outbound rules:               packets  bytes\n' +
          '   1 allow                          3    400\n' +
          '   2 deny udp to ports 53           3    400\n',
      ),
    );
  });

  it('adds up the several iptables rules of one long port list, and only its own', async () => {
    const ports = Array.from({ length: 20 }, (_, i) => i + 1).join(',');
    const world = await web(`inbound deny tcp to ports ${ports}`);
    let n = 0;
    // Distinct counters per iptables rule (IPv4 only), so a wrong sum shows.
    kernelFor(world, ['web'], (family) => (family === 4 ? [++n, 10] : [0, 0]));
    const out = await mustRun(world, ['profile', 'web', 'rule', 'show', '--counts', '-o', 'json']);
    const doc = JSON.parse(out) as { inbound: { number: number; packets: number; bytes: number }[] };
    // cali-pi-web: rule 1 (allow from tag web) is [1] and its RETURN [2]; rule 2's two multiport chunks are [3] and [4].
    expect(doc.inbound.map((r) => [r.number, r.packets, r.bytes])).toEqual([
      [1, 1, 10],
      [2, 7, 20],
    ]);
  });

  it('-o json and -o yaml name the profile, each rule in rule show words, and its counters', async () => {
    const world = await web('inbound allow tcp to ports 3306');
    kernelFor(world, ['web'], () => [5, 420]);
    expect(JSON.parse(await mustRun(world, ['profile', 'web', 'rule', 'show', '--counts', '-o', 'json']))).toEqual({
      profile: 'web',
      on_this_host: true,
      inbound: [
        { number: 1, rule: 'allow from tag web', packets: 10, bytes: 840 },
        { number: 2, rule: 'allow tcp to ports 3306', packets: 10, bytes: 840 },
      ],
      outbound: [{ number: 1, rule: 'allow', packets: 10, bytes: 840 }],
    });
    expect(await mustRun(world, ['profile', 'web', 'rule', 'show', '--counts', '-o', 'yaml'])).toContain('- number: 2\n    rule: allow tcp to ports 3306\n    packets: 10\n    bytes: 840\n');
  });

  it('shows "-" for a rule the kernel has no counter for, and says why', async () => {
    // The agent has not rendered rule 2 yet: the kernel has no rule with its comment.
    const world = await web('inbound allow icmp from cidr 10.0.0.0/8');
    kernelFor(world, ['web'], (_family, _chain, _i, rule) => (rule.includes('--comment r2 ') ? undefined : [1, 1]));
    const result = await show(world);
    expect(result.stdout).toContain('   2 allow icmp from cidr 10.0.0.0/8        -      -\n');
    expect(result.stderr).toBe('Rules shown with "-" have no counter in this host\'s kernel (the agent has not rendered them yet, or they match neither IP family).\n');
    expect(result.code).toBe(0);
    expect(JSON.parse((await show(world, '-o', 'json')).stdout).inbound[1]).toEqual({ number: 2, rule: 'allow icmp from cidr 10.0.0.0/8', packets: null, bytes: null });
  });

  it('says so when no endpoint on this host uses the profile (its chains are not in the kernel)', async () => {
    const world = await web();
    kernelFor(world, [], () => [1, 1]);
    expect(await show(world)).toEqual({
      code: 0,
      stdout: 'Inbound rules:           packets  bytes\n   1 allow from tag web        -      -\nOutbound rules:          packets  bytes\n   1 allow                     -      -\n',
      stderr: "No endpoint on this host uses profile web: its rules are not in this host's kernel, so none has a counter.\n",
    });
  });

  it('fails in one line when calico-node is not running here, or the kernel cannot be read', async () => {
    const world = await web();
    world.runner = { run: async () => '*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n' };
    expect(await show(world)).toEqual(fails('calico-node is not running on this host (the kernel has no cali-FORWARD chain): there are no rule counters to show.'));
    world.runner = {
      run: async (file) => {
        throw new Error(`${file} -c -t filter failed (exit 1): iptables-save v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission denied (you must be root)`);
      },
    };
    expect(await show(world)).toEqual(
      fails(
        "Cannot read the kernel's rule counters (calicoctl must run as root on the host): iptables-save -c -t filter failed (exit 1): iptables-save v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission denied (you must be root)",
      ),
    );
  });

  it('reads IPv4 alone when ip6tables-save fails (a host without IPv6 filtering)', async () => {
    const world = await web();
    kernelFor(world, ['web'], () => [4, 40]);
    const v4 = world.runner;
    world.runner = { run: async (file, args) => (file === 'ip6tables-save' ? Promise.reject(new Error('no ip6tables')) : v4.run(file, args)) };
    expect(JSON.parse((await show(world, '-o', 'json')).stdout).outbound).toEqual([{ number: 1, rule: 'allow', packets: 4, bytes: 40 }]);
  });

  it('-o json without --counts is still the rule json document', async () => {
    const world = await web();
    expect(JSON.parse(await mustRun(world, ['profile', 'web', 'rule', 'show', '-o', 'json']))).toEqual({ inbound_rules: [{ action: 'allow', src_tag: 'web' }], outbound_rules: [{ action: 'allow' }] });
  });
});

describe('parseCounters', () => {
  it('finds only our rule comments, in the chain they are in, quoted or not', () => {
    const chains = new Map();
    const programmed = parseCounters(
      [
        ':cali-pi-x - [0:0]',
        ':OTHER - [0:0]',
        '[7:700] -A cali-pi-x -p tcp -m comment --comment r1 -j MARK --set-xmark 0x1000000/0x1000000',
        '[1:10] -A cali-pi-x -m mark --mark 0x1000000/0x1000000 -j RETURN',
        '[2:20] -A cali-pi-x -m comment --comment "r1" -j DROP',
        '[3:30] -A OTHER -m comment --comment "Profile is missing" -j DROP',
        '[4:40] -A OTHER -m comment --comment r01 -j DROP',
        '[5:50] -A OTHER -m comment --comment r2x -j DROP',
      ].join('\n'),
      chains,
    );
    expect(programmed).toBe(false);
    expect(chains.get('cali-pi-x')).toEqual(new Map([[1, { packets: 7, bytes: 700 }]]));
    expect(chains.get('OTHER')).toEqual(new Map());
  });
});
