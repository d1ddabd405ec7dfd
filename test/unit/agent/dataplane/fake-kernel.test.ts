import { CommandFailedError } from '../../../../src/host/exec';
import { dockerTable, FakeKernel } from '../../../fakes/fake-kernel';

/** The fake is what the dataplane tests trust, so its semantics are tested too. */
const restore = (kernel: FakeKernel, body: string, file = 'iptables-restore') => kernel.run(file, ['--noflush'], `*filter\n${body}\nCOMMIT\n`);
const snapshot = (kernel: FakeKernel, family: 4 | 6 = 4) => JSON.stringify([...kernel.tables[family]]);

describe('fake kernel: iptables-restore', () => {
  it('declaring a chain creates it, or flushes it when it exists', async () => {
    const kernel = new FakeKernel();
    await restore(kernel, ':cali-a - [0:0]\n-A cali-a -j DROP\n-A cali-a -j ACCEPT');
    expect(kernel.tables[4].get('cali-a')).toEqual(['-j DROP', '-j ACCEPT']);
    await restore(kernel, ':cali-a - [0:0]\n-A cali-a -j RETURN');
    expect(kernel.tables[4].get('cali-a')).toEqual(['-j RETURN']);
    expect(kernel.tables[6].has('cali-a')).toBe(false);
  });

  it('inserts at a position and deletes by rule', async () => {
    const kernel = new FakeKernel();
    await restore(kernel, ':cali-a - [0:0]\n-I INPUT 1 -j cali-a\n-I FORWARD 2 -j cali-a');
    expect(kernel.tables[4].get('INPUT')).toEqual(['-j cali-a', '-i lo -j ACCEPT']);
    expect(kernel.tables[4].get('FORWARD')![1]).toBe('-j cali-a');
    await restore(kernel, '-D FORWARD -j cali-a');
    expect(kernel.tables[4].get('FORWARD')).toEqual(dockerTable(4).get('FORWARD'));
    await expect(restore(kernel, '-D FORWARD -j cali-a')).rejects.toThrow(/Bad rule/);
  });

  it('is atomic: one bad line and nothing changes', async () => {
    const kernel = new FakeKernel();
    await restore(kernel, ':cali-a - [0:0]\n-A cali-a -j DROP');
    const before = snapshot(kernel);
    for (const bad of [
      ':cali-a - [0:0]\n:cali-b - [0:0]\n-A cali-b -j cali-missing',
      ':cali-a - [0:0]\n-A cali-a -g ACCEPT',
      '-X cali-a',
      ':cali-b - [0:0]\n-X cali-c',
      '-X INPUT',
      ':cali-b - [0:0]\n-A cali-b -j cali-a\n-A cali-a -j DROP\n:cali-a - [0:0]\n-X cali-a',
      ':cali-b - [0:0]\n-A cali-b -m set --match-set nope src -j DROP',
      ':cali-b - [0:0]\n-A cali-b -m comment --comment "unbalanced -j DROP',
      `:cali-${'x'.repeat(24)} - [0:0]`,
      '-A cali-a -j INPUT',
      '-Z cali-a',
    ]) {
      await expect(restore(kernel, bad)).rejects.toBeInstanceOf(CommandFailedError);
      expect(snapshot(kernel)).toBe(before);
    }
  });

  it('deletes an empty, unreferenced chain', async () => {
    const kernel = new FakeKernel();
    await restore(kernel, ':cali-a - [0:0]\n:cali-b - [0:0]\n-A cali-b -g cali-a');
    await expect(restore(kernel, ':cali-a - [0:0]\n-X cali-a')).rejects.toThrow(/still referenced by cali-b/);
    await restore(kernel, ':cali-a - [0:0]\n:cali-b - [0:0]\n-X cali-a\n-X cali-b');
    expect(kernel.tables[4].has('cali-a')).toBe(false);
  });

  it('needs COMMIT, a known table and known options', async () => {
    const kernel = new FakeKernel();
    await expect(kernel.run('iptables-restore', ['--noflush'], '*filter\n:cali-a - [0:0]\n')).rejects.toThrow(/COMMIT/);
    await expect(kernel.run('iptables-restore', ['--noflush'], '*mangle\nCOMMIT\n')).rejects.toThrow(/filter and nat/);
    await expect(kernel.run('iptables-restore', ['--flush-everything'], '*filter\nCOMMIT\n')).rejects.toThrow(/unknown option/);
    expect(kernel.tables[4].has('cali-a')).toBe(false);
  });

  it('without --noflush, wipes the table (what the agent must never do)', async () => {
    const kernel = new FakeKernel();
    await kernel.run('iptables-restore', [], '*filter\n:cali-a - [0:0]\nCOMMIT\n');
    expect([...kernel.tables[4].keys()].sort()).toEqual(['FORWARD', 'INPUT', 'OUTPUT', 'cali-a']);
  });

  it('saves in iptables-save format', async () => {
    const kernel = new FakeKernel();
    await restore(kernel, ':cali-a - [0:0]\n-A cali-a -m comment --comment "x y" -j DROP');
    const text = await kernel.run('iptables-save', ['-t', 'filter']);
    expect(text).toContain(':FORWARD DROP [0:0]\n');
    expect(text).toContain(':cali-a - [0:0]\n');
    expect(text).toContain('\n-A cali-a -m comment --comment "x y" -j DROP\n');
    expect(text.indexOf(':cali-a')).toBeLessThan(text.indexOf('-A FORWARD'));
  });

  it('keeps IPv6 separate, and can pretend to have no ip6tables', async () => {
    const kernel = new FakeKernel();
    await restore(kernel, ':cali-6 - [0:0]', 'ip6tables-restore');
    expect(kernel.tables[6].has('cali-6')).toBe(true);
    expect(kernel.tables[4].has('cali-6')).toBe(false);
    kernel.ipv6 = false;
    await expect(kernel.run('ip6tables-save', ['-t', 'filter'])).rejects.toThrow();
  });
});

describe('fake kernel: ipset', () => {
  it('creates, fills, swaps and destroys', async () => {
    const kernel = new FakeKernel();
    await kernel.run('ipset', ['restore'], 'create cali4-t-a hash:net family inet maxelem 1048576 -exist\nadd cali4-t-a 10.0.0.1/32\ncreate cali4-x-a hash:net family inet\nadd cali4-x-a 10.0.0.2/32\nadd cali4-x-a 10.1.0.0/16\n');
    await kernel.run('ipset', ['restore'], 'swap cali4-x-a cali4-t-a\ndestroy cali4-x-a\n');
    expect([...kernel.sets.get('cali4-t-a')!.members].sort()).toEqual(['10.0.0.2', '10.1.0.0/16']);
    expect(await kernel.run('ipset', ['list', '-n'])).toBe('cali4-t-a\n');
    await kernel.run('ipset', ['restore'], 'create cali4-t-a hash:net family inet -exist\n');
    await expect(kernel.run('ipset', ['restore'], 'create cali4-t-a hash:net family inet\n')).rejects.toThrow(/already exists/);
    await expect(kernel.run('ipset', ['restore'], 'add cali4-t-a fd00::1\n')).rejects.toThrow(/IPv4/);
    await expect(kernel.run('ipset', ['restore'], `create cali4-t-${'x'.repeat(24)} hash:ip\n`)).rejects.toThrow(/31/);
  });

  it('works line by line: lines before an error stay done', async () => {
    const kernel = new FakeKernel();
    await expect(kernel.run('ipset', ['restore'], 'create s1 hash:ip family inet\nadd nope 10.0.0.1\ncreate s2 hash:ip family inet\n')).rejects.toThrow(/line 2/);
    expect([...kernel.sets.keys()]).toEqual(['s1']);
  });

  it('refuses to destroy a set a rule in either table matches on', async () => {
    const kernel = new FakeKernel();
    await kernel.run('ipset', ['restore'], 'create cali6-t-a hash:net family inet6\n');
    await expect(restore(kernel, ':cali-a - [0:0]\n-A cali-a -m set --match-set cali6-t-a src -j DROP')).rejects.toThrow(/incompatible/);
    await restore(kernel, ':cali-a - [0:0]\n-A cali-a -m set --match-set cali6-t-a src -j DROP', 'ip6tables-restore');
    await expect(kernel.run('ipset', ['restore'], 'destroy cali6-t-a\n')).rejects.toThrow(/in use/);
    await restore(kernel, ':cali-a - [0:0]\n-X cali-a', 'ip6tables-restore');
    await kernel.run('ipset', ['restore'], 'destroy cali6-t-a\n');
    expect(kernel.sets.size).toBe(0);
    await expect(kernel.run('ipset', ['restore'], 'destroy cali6-t-a\n')).rejects.toThrow(/does not exist/);
  });
});

describe('fake kernel: ip, conntrack, recording', () => {
  it('programs routes and neighbours from a batch, and shows and flushes proto 157 routes', async () => {
    const kernel = new FakeKernel();
    kernel.links.add('cali1');
    await kernel.run('ip', ['-4', '-force', '-batch', '-'], 'route replace 10.0.0.1/32 dev cali1 proto 157\nneigh replace 10.0.0.1 lladdr EE:EE:EE:EE:EE:EE dev cali1 nud permanent\nroute replace blackhole 10.0.0.0/16 proto 157\n');
    expect(await kernel.run('ip', ['-4', 'route', 'show', 'proto', '157'])).toBe('10.0.0.1 dev cali1 scope link\nblackhole 10.0.0.0/16\n');
    expect(kernel.neighbours[4].get('10.0.0.1')).toEqual({ dev: 'cali1', lladdr: 'ee:ee:ee:ee:ee:ee' });
    // -force: the good lines apply, the command still fails.
    await expect(kernel.run('ip', ['-4', '-force', '-batch', '-'], 'route replace 10.0.0.2/32 dev cali9 proto 157\nroute replace 10.0.0.3/32 dev cali1 proto 157\n')).rejects.toThrow(/Cannot find device "cali9"/);
    expect(kernel.routes[4].has('10.0.0.3/32')).toBe(true);
    expect(kernel.ipBatchLines[4]).toHaveLength(5);
    await kernel.run('ip', ['-4', 'route', 'flush', 'proto', '157']);
    expect([...kernel.routes[4].keys()].sort()).toEqual(['0.0.0.0/0', '172.17.0.0/16']);
  });

  it('records every call, fails once on demand, and rejects unknown commands', async () => {
    const kernel = new FakeKernel();
    kernel.failOnce((c) => c.file === 'conntrack', 'boom');
    await expect(kernel.run('conntrack', ['--delete', '--orig-src', '10.0.0.1'])).rejects.toThrow(/boom/);
    await expect(kernel.run('conntrack', ['--delete', '--orig-src', '10.0.0.1'])).resolves.toBe('');
    await expect(kernel.run('iptables', ['-F'])).rejects.toThrow(/unsupported arguments/); // only -t filter -S CHAIN is modelled
    await expect(kernel.run('nft', ['list', 'ruleset'])).rejects.toThrow(/not found/);
    await expect(kernel.run('ip', ['link', 'del', 'eth0'])).rejects.toThrow(/unsupported/);
    await expect(kernel.run('ipset', ['flush'])).rejects.toThrow(/unsupported/);
    expect(kernel.calls.map((c) => c.file)).toEqual(['conntrack', 'conntrack', 'iptables', 'nft', 'ip', 'ipset']);
  });
});
