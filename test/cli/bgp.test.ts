import { fakeWorld, type FakeWorld } from '../fakes/cli';
import { fails, mustRun, ok, runUnchanged, usage } from './helpers';

/**
 * `calicoctl bgp …` and `calicoctl node bgp …` in-process against the in-memory etcd: every key
 * they write (as v0.23 wrote it), every message, table and error.
 */

const GLOBAL = '/calico/bgp/v1/global';
const HOST1 = '/calico/bgp/v1/host/host1';

const raw = async (world: FakeWorld, key: string): Promise<string | undefined> => (await world.kv.get(key))?.value;

function bgpWorld(): FakeWorld {
  const world = fakeWorld();
  world.env = { HOSTNAME: 'host1' };
  return world;
}

describe('bgp peer add', () => {
  it('stores {"ip", "as_num"} under peer_v4 or peer_v6 by the address, dotted AS as asplain, silently', async () => {
    const world = bgpWorld();
    expect(await world.run(['bgp', 'peer', 'add', '192.0.2.1', 'as', '64512'])).toEqual(ok());
    expect(await world.run(['bgp', 'peer', 'add', '2001:DB8:0::1', 'as', '1.5'])).toEqual(ok());
    expect(await raw(world, `${GLOBAL}/peer_v4/192.0.2.1`)).toBe(JSON.stringify({ ip: '192.0.2.1', as_num: '64512' }));
    expect(world.kv.dump()).toEqual({
      [`${GLOBAL}/peer_v4/192.0.2.1`]: { ip: '192.0.2.1', as_num: '64512' },
      [`${GLOBAL}/peer_v6/2001:db8::1`]: { ip: '2001:db8::1', as_num: '65541' },
    });
  });

  it('replaces a peer added again with another AS', async () => {
    const world = bgpWorld();
    await mustRun(world, ['bgp', 'peer', 'add', '192.0.2.1', 'as', '64512']);
    await mustRun(world, ['bgp', 'peer', 'add', '192.0.2.1', 'as', '64513']);
    expect(world.kv.dump()).toEqual({ [`${GLOBAL}/peer_v4/192.0.2.1`]: { ip: '192.0.2.1', as_num: '64513' } });
  });

  it.each([
    [['bgp', 'peer', 'add', '192.0.2.300', 'as', '64512'], 'Invalid IP address specified.'],
    [['bgp', 'peer', 'add', '192.0.2.0/24', 'as', '64512'], 'Invalid IP address specified.'],
    [['bgp', 'peer', 'add', 'router1', 'as', '64512'], 'Invalid IP address specified.'],
    [['bgp', 'peer', 'add', '192.0.2.1', 'as', '4294967296'], 'Invalid AS Number specified.'],
    [['bgp', 'peer', 'add', '192.0.2.1', 'as', '1.65536'], 'Invalid AS Number specified.'],
    [['bgp', 'peer', 'add', '192.0.2.1', 'as', 'x'], 'Invalid AS Number specified.'],
  ])('%j: one line, exit 1, etcd untouched', async (argv, message) => {
    expect(await runUnchanged(bgpWorld(), argv)).toEqual(fails(message));
  });

  it('without the word as, or without an AS, is a usage error', async () => {
    const world = bgpWorld();
    expect(await runUnchanged(world, ['bgp', 'peer', 'add', '192.0.2.1', '64512'])).toEqual(usage("error: missing required argument 'AS_NUM'"));
    expect(await runUnchanged(world, ['bgp', 'peer', 'add', '192.0.2.1', 'is', '64512'])).toEqual(
      usage("error: command-argument value 'is' is invalid for argument 'as'. The word 'as' belongs here."),
    );
    expect((await runUnchanged(world, ['bgp', 'peer', 'add', '192.0.2.1', 'as'])).code).toBe(2);
    expect(await runUnchanged(world, ['bgp', 'node-mesh', 'maybe'])).toEqual(usage("error: command-argument value 'maybe' is invalid for argument 'state'. Give one of: on, off."));
  });

  it('--dry-run prints the write and makes none', async () => {
    const world = bgpWorld();
    const result = await runUnchanged(world, ['bgp', 'peer', 'add', '192.0.2.1', 'as', '64512', '--dry-run']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`${GLOBAL}/peer_v4/192.0.2.1`);
  });
});

describe('bgp peer remove', () => {
  it('removes the peer and says so', async () => {
    const world = bgpWorld();
    await mustRun(world, ['bgp', 'peer', 'add', 'fd00::1', 'as', '64512']);
    expect(await world.run(['bgp', 'peer', 'remove', 'FD00:0::1'])).toEqual(ok('BGP peer removed from global configuration\n'));
    expect(world.kv.dump()).toEqual({});
  });

  it('a peer that is not configured (the address as parsed), or only on a node: exit 1', async () => {
    const world = bgpWorld();
    await mustRun(world, ['node', 'bgp', 'peer', 'add', '192.0.2.1', 'as', '64512']);
    expect(await runUnchanged(world, ['bgp', 'peer', 'remove', '192.0.2.1'])).toEqual(fails('192.0.2.1 is not a globally configured peer.'));
    expect(await runUnchanged(world, ['bgp', 'peer', 'remove', 'fd00:0::9'])).toEqual(fails('fd00::9 is not a globally configured peer.'));
  });

  it('a bad address is checked before etcd is asked', async () => {
    const world = bgpWorld();
    world.kv.failWith = new Error('etcd must not be asked');
    expect(await world.run(['bgp', 'peer', 'remove', '10.0.0'])).toEqual(fails('Invalid IP address specified.'));
  });

  it('--dry-run removes nothing', async () => {
    const world = bgpWorld();
    await mustRun(world, ['bgp', 'peer', 'add', '192.0.2.1', 'as', '64512']);
    const result = await runUnchanged(world, ['bgp', 'peer', 'remove', '192.0.2.1', '--dry-run']);
    expect(result.code).toBe(0);
  });
});

describe('bgp peer show', () => {
  const seeded = async () => {
    const world = bgpWorld();
    await mustRun(world, ['bgp', 'peer', 'add', '192.0.2.20', 'as', '64512']);
    await mustRun(world, ['bgp', 'peer', 'add', '192.0.2.3', 'as', '1.10']);
    await mustRun(world, ['node', 'bgp', 'peer', 'add', '192.0.2.99', 'as', '64999']);
    return world;
  };
  const V4 = [
    '+----------------------+--------+',
    '| Global IPv4 BGP Peer | AS Num |',
    '+----------------------+--------+',
    '| 192.0.2.20           | 64512  |',
    '| 192.0.2.3            | 65546  |',
    '+----------------------+--------+',
    '',
  ].join('\n');

  it('per version a left-aligned table sorted by address, or "No global IPv6 BGP Peers defined." and an empty line', async () => {
    const world = await seeded();
    expect(await world.run(['bgp', 'peer', 'show'])).toEqual(ok(`${V4}No global IPv6 BGP Peers defined.\n\n`));
    expect(await world.run(['bgp', 'peer', 'show', '--ipv4'])).toEqual(ok(V4));
    expect(await world.run(['bgp', 'peer', 'show', '--ipv6'])).toEqual(ok('No global IPv6 BGP Peers defined.\n\n'));
    expect(await bgpWorld().run(['bgp', 'peer', 'show'])).toEqual(ok('No global IPv4 BGP Peers defined.\n\nNo global IPv6 BGP Peers defined.\n\n'));
  });

  it('-o json and yaml: one list of {ip, version, as_num}', async () => {
    const world = await seeded();
    await mustRun(world, ['bgp', 'peer', 'add', 'fd00::1', 'as', '64512']);
    expect(JSON.parse(await mustRun(world, ['bgp', 'peer', 'show', '-o', 'json']))).toEqual([
      { ip: '192.0.2.20', version: 4, as_num: '64512' },
      { ip: '192.0.2.3', version: 4, as_num: '65546' },
      { ip: 'fd00::1', version: 6, as_num: '64512' },
    ]);
    expect(await mustRun(world, ['bgp', 'peer', 'show', '--ipv6', '-o', 'yaml'])).toBe('- ip: fd00::1\n  version: 6\n  as_num: "64512"\n');
  });

  it('--ipv4 and --ipv6 together is a usage error', async () => {
    expect(await bgpWorld().run(['bgp', 'peer', 'show', '--ipv4', '--ipv6'])).toEqual(usage('Give --ipv4 or --ipv6, not both.'));
  });
});

describe('bgp node-mesh', () => {
  it('prints on by default, off once turned off ({"enabled": false}), on again', async () => {
    const world = bgpWorld();
    expect(await world.run(['bgp', 'node-mesh'])).toEqual(ok('on\n'));
    expect(await world.run(['bgp', 'node-mesh', 'off'])).toEqual(ok());
    expect(await raw(world, `${GLOBAL}/node_mesh`)).toBe('{"enabled":false}');
    expect(await world.run(['bgp', 'node-mesh'])).toEqual(ok('off\n'));
    expect(await world.run(['bgp', 'node-mesh', '-o', 'json'])).toEqual(ok('{\n  "node_mesh": false\n}\n'));
    await mustRun(world, ['bgp', 'node-mesh', 'on']);
    expect(world.kv.dump()).toEqual({ [`${GLOBAL}/node_mesh`]: { enabled: true } });
  });

  it('a word other than on or off is a usage error; --dry-run changes nothing', async () => {
    const world = bgpWorld();
    expect((await runUnchanged(world, ['bgp', 'node-mesh', 'yes'])).code).toBe(2);
    expect((await runUnchanged(world, ['bgp', 'node-mesh', 'off', '--dry-run'])).code).toBe(0);
  });
});

describe('bgp default-node-as', () => {
  it('prints 64511 by default; sets asplain or dotted, stored as asplain text', async () => {
    const world = bgpWorld();
    expect(await world.run(['bgp', 'default-node-as'])).toEqual(ok('64511\n'));
    expect(await world.run(['bgp', 'default-node-as', '64512'])).toEqual(ok());
    expect(await raw(world, `${GLOBAL}/as_num`)).toBe('64512');
    expect(await world.run(['bgp', 'default-node-as'])).toEqual(ok('64512\n'));
    await mustRun(world, ['bgp', 'default-node-as', '1.5']);
    expect(await raw(world, `${GLOBAL}/as_num`)).toBe('65541');
    expect(await world.run(['bgp', 'default-node-as', '-o', 'yaml'])).toEqual(ok('as_num: "65541"\n'));
  });

  it('a bad AS: one line, exit 1, nothing written', async () => {
    expect(await runUnchanged(bgpWorld(), ['bgp', 'default-node-as', '-1'])).toEqual(fails('Invalid AS Number specified.'));
    expect(await runUnchanged(bgpWorld(), ['bgp', 'default-node-as', '65536.1'])).toEqual(fails('Invalid AS Number specified.'));
    expect(await runUnchanged(bgpWorld(), ['bgp', 'default-node-as', '64512', '--dry-run'])).toMatchObject({ code: 0 });
  });
});

describe('node bgp peer', () => {
  it('add writes under this host ($HOSTNAME, else the system hostname), silently', async () => {
    const world = bgpWorld();
    expect(await world.run(['node', 'bgp', 'peer', 'add', '192.0.2.1', 'as', '64512'])).toEqual(ok());
    world.env = {};
    world.host = { ...world.host, hostname: () => 'sysname' };
    expect(await world.run(['node', 'bgp', 'peer', 'add', 'fd00::1', 'as', '0.7'])).toEqual(ok());
    expect(world.kv.dump()).toEqual({
      [`${HOST1}/peer_v4/192.0.2.1`]: { ip: '192.0.2.1', as_num: '64512' },
      '/calico/bgp/v1/host/sysname/peer_v6/fd00::1': { ip: 'fd00::1', as_num: '7' },
    });
  });

  it('add: a bad IP or AS is one line, exit 1, etcd untouched; --dry-run writes nothing', async () => {
    expect(await runUnchanged(bgpWorld(), ['node', 'bgp', 'peer', 'add', '1.2.3', 'as', '64512'])).toEqual(fails('Invalid IP address specified.'));
    expect(await runUnchanged(bgpWorld(), ['node', 'bgp', 'peer', 'add', '1.2.3.4', 'as', '64512x'])).toEqual(fails('Invalid AS Number specified.'));
    const dry = await runUnchanged(bgpWorld(), ['node', 'bgp', 'peer', 'add', '1.2.3.4', 'as', '64512', '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(`${HOST1}/peer_v4/1.2.3.4`);
  });

  it('remove: the peer of this node, or "<ip> is not a configured peer for this node." exit 1', async () => {
    const world = bgpWorld();
    await mustRun(world, ['node', 'bgp', 'peer', 'add', '192.0.2.1', 'as', '64512']);
    await mustRun(world, ['bgp', 'peer', 'add', '192.0.2.2', 'as', '64512']);
    expect(await runUnchanged(world, ['node', 'bgp', 'peer', 'remove', '192.0.2.2'])).toEqual(fails('192.0.2.2 is not a configured peer for this node.'));
    expect(await runUnchanged(world, ['node', 'bgp', 'peer', 'remove', 'nope'])).toEqual(fails('Invalid IP address specified.'));
    expect(await runUnchanged(world, ['node', 'bgp', 'peer', 'remove', '192.0.2.1', '--dry-run'])).toMatchObject({ code: 0 });
    expect(await world.run(['node', 'bgp', 'peer', 'remove', '192.0.2.1'])).toEqual(ok('BGP peer removed from node configuration\n'));
    expect(Object.keys(world.kv.dump())).toEqual([`${GLOBAL}/peer_v4/192.0.2.2`]);
  });

  it('show: "Node specific IPv4 BGP Peer | AS Num" left-aligned, or "No IPv6 BGP Peers defined for this node."', async () => {
    const world = bgpWorld();
    await mustRun(world, ['node', 'bgp', 'peer', 'add', '192.0.2.1', 'as', '64512']);
    await mustRun(world, ['bgp', 'peer', 'add', '192.0.2.2', 'as', '64512']);
    const v4 = [
      '+-----------------------------+--------+',
      '| Node specific IPv4 BGP Peer | AS Num |',
      '+-----------------------------+--------+',
      '| 192.0.2.1                   | 64512  |',
      '+-----------------------------+--------+',
      '',
    ].join('\n');
    expect(await world.run(['node', 'bgp', 'peer', 'show'])).toEqual(ok(`${v4}No IPv6 BGP Peers defined for this node.\n\n`));
    expect(await world.run(['node', 'bgp', 'peer', 'show', '--ipv4'])).toEqual(ok(v4));
    expect(await world.run(['node', 'bgp', 'peer', 'show', '--ipv6'])).toEqual(ok('No IPv6 BGP Peers defined for this node.\n\n'));
    expect(JSON.parse(await mustRun(world, ['node', 'bgp', 'peer', 'show', '-o', 'json']))).toEqual([{ ip: '192.0.2.1', version: 4, as_num: '64512' }]);
    world.env = { HOSTNAME: 'host2' };
    expect(await world.run(['node', 'bgp', 'peer', 'show', '--ipv4'])).toEqual(ok('No IPv4 BGP Peers defined for this node.\n\n'));
  });
});

describe('help', () => {
  it('bgp peer add --help shows the words as typed', async () => {
    const result = await bgpWorld().run(['bgp', 'peer', 'add', '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Usage: calicoctl bgp peer add <PEER_IP> as <AS_NUM>');
    expect((await bgpWorld().run(['node', 'bgp', 'peer', 'add', '--help'])).stdout).toContain('Usage: calicoctl node bgp peer add <PEER_IP> as <AS_NUM>');
  });
});
