import { BgpStore, DEFAULT_AS, parseAsNumber } from '../../../src/datastore/bgp';
import { MemoryKvStore } from '../../fakes/memory-kv';

describe('AS numbers', () => {
  it.each([
    ['64511', '64511'],
    ['0', '0'],
    ['4294967295', '4294967295'],
    ['1.5', '65541'],
    ['65535.65535', '4294967295'],
    ['0.1', '1'],
  ])('reads %s as %s', (text, plain) => expect(parseAsNumber(text)).toBe(plain));

  it.each(['', '-1', '4294967296', '1.65536', '65536.0', '1.2.3', 'as1', ' 1', '1e3', '0x10'])('refuses %j', (text) => {
    expect(parseAsNumber(text)).toBeUndefined();
  });
});

describe('the BGP store', () => {
  it('defaults to AS 64511 and the mesh on, and stores what it is given in v0.23\'s shapes', async () => {
    const kv = new MemoryKvStore();
    const bgp = new BgpStore(kv);
    expect(await bgp.defaultAs()).toBe(DEFAULT_AS);
    expect(await bgp.nodeMesh()).toBe(true);
    await bgp.setDefaultAs('65000');
    await bgp.setNodeMesh(false);
    expect(kv.dump()).toMatchObject({ '/calico/bgp/v1/global/as_num': 65000, '/calico/bgp/v1/global/node_mesh': { enabled: false } });
    expect(await bgp.nodeMesh()).toBe(false);
  });

  it('keeps global and per-node peers apart, by IP version', async () => {
    const kv = new MemoryKvStore();
    const bgp = new BgpStore(kv);
    await bgp.addGlobalPeer('10.0.0.9', '65000');
    await bgp.addGlobalPeer('2001:db8::1', '65541');
    await bgp.addNodePeer('host1', '10.0.0.8', '64999');
    expect(kv.data.get('/calico/bgp/v1/global/peer_v4/10.0.0.9')?.value).toBe('{"ip":"10.0.0.9","as_num":"65000"}');
    expect(await bgp.globalPeers(4)).toEqual([{ ip: '10.0.0.9', asNum: '65000' }]);
    expect(await bgp.globalPeers(6)).toEqual([{ ip: '2001:db8::1', asNum: '65541' }]);
    expect(await bgp.nodePeers('host1', 4)).toEqual([{ ip: '10.0.0.8', asNum: '64999' }]);
    expect(await bgp.nodePeers('host2', 4)).toEqual([]);
    expect(await bgp.removeGlobalPeer('10.0.0.9')).toBe(true);
    expect(await bgp.removeGlobalPeer('10.0.0.9')).toBe(false);
    expect(await bgp.removeNodePeer('host1', '10.0.0.8')).toBe(true);
  });

  it('skips a peer that does not decode', async () => {
    const kv = new MemoryKvStore();
    kv.seed('/calico/bgp/v1/global/peer_v4/10.0.0.1', 'not json');
    kv.seed('/calico/bgp/v1/global/peer_v4/10.0.0.2', { ip: '10.0.0.2', as_num: 'x' });
    kv.seed('/calico/bgp/v1/global/peer_v4/10.0.0.3', { ip: '10.0.0.3', as_num: '1.5' });
    expect(await new BgpStore(kv).globalPeers(4)).toEqual([{ ip: '10.0.0.3', asNum: '65541' }]);
  });

  it('sets and clears a host\'s own AS', async () => {
    const kv = new MemoryKvStore();
    const bgp = new BgpStore(kv);
    await bgp.setHostAs('host1', '65001');
    expect(await bgp.hostAs('host1')).toBe('65001');
    await bgp.setHostAs('host1', undefined);
    expect(await bgp.hostAs('host1')).toBeUndefined();
  });
});
