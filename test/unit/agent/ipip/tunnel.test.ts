import { type IpipModel, renderTunnel, tunnelAddressAction } from '../../../../src/agent/ipip/tunnel';

const MODEL: IpipModel = {
  hostname: 'host1',
  pools: [{ cidr: '10.65.0.0/16', ipip: true }, { cidr: '10.66.0.0/16', ipip: false }],
  hostAddresses: new Map([['host1', '10.200.0.1'], ['host2', '10.200.1.2'], ['host3', '10.200.0.3']]),
  blocks: new Map([
    ['10.65.0.0/26', 'host1'],
    ['10.65.0.64/26', 'host2'],
    ['10.65.0.128/26', 'host3'],
    ['10.66.0.0/26', 'host2'],
    ['10.65.1.0/26', 'host9'],
  ]),
  tunnelAddress: '10.65.0.1',
};

describe('the IPIP tunnel renderer', () => {
  it('routes each other host\'s block in an IPIP pool via that host, and none of this host\'s own', () => {
    expect(renderTunnel(MODEL)).toEqual({
      enabled: true,
      address: '10.65.0.1',
      routes: [
        { net: '10.65.0.128/26', via: '10.200.0.3' },
        { net: '10.65.0.64/26', via: '10.200.1.2' },
      ],
      poolNets: ['10.65.0.0/16', '10.66.0.0/16'],
    });
  });

  it('skips blocks outside IPIP pools, hosts with no address, and hosts sharing this host\'s address', () => {
    const routes = renderTunnel({ ...MODEL, hostAddresses: new Map([...MODEL.hostAddresses, ['host3', '10.200.0.1']]) }).routes;
    expect(routes).toEqual([{ net: '10.65.0.64/26', via: '10.200.1.2' }]);
  });

  it('is off, with no routes and no address, when no pool has IPIP', () => {
    expect(renderTunnel({ ...MODEL, pools: [{ cidr: '10.65.0.0/16', ipip: false }] })).toEqual({ enabled: false, address: undefined, routes: [], poolNets: ['10.65.0.0/16'] });
  });

  it('gives tunl0 no address outside every IPIP pool, and ignores IPv6 pools and blocks', () => {
    const desired = renderTunnel({ ...MODEL, tunnelAddress: '10.66.0.1', pools: [...MODEL.pools, { cidr: 'fd00::/64', ipip: true }], blocks: new Map([['fd00::40/122', 'host2']]) });
    expect(desired).toMatchObject({ enabled: true, address: undefined, routes: [] });
    expect(renderTunnel({ ...MODEL, pools: [{ cidr: 'fd00::/64', ipip: true }] }).enabled).toBe(false);
    expect(renderTunnel({ ...MODEL, tunnelAddress: 'not an address' }).address).toBeUndefined();
  });

  it('is the same whatever order the blocks come in', () => {
    const reversed = { ...MODEL, blocks: new Map([...MODEL.blocks].reverse()) };
    expect(renderTunnel(reversed)).toEqual(renderTunnel(MODEL));
  });
});

describe('the tunnel address', () => {
  it('is kept while it lies in an IPIP pool', () => {
    expect(tunnelAddressAction(MODEL)).toEqual({ kind: 'keep' });
  });

  it('is assigned when missing, and replaced when it is outside every IPIP pool', () => {
    expect(tunnelAddressAction({ ...MODEL, tunnelAddress: undefined })).toEqual({ kind: 'assign', release: undefined });
    expect(tunnelAddressAction({ ...MODEL, tunnelAddress: '10.66.0.1' })).toEqual({ kind: 'assign', release: '10.66.0.1' });
  });

  it('is released when no pool has IPIP any more, and nothing is done when there was none', () => {
    const off = { ...MODEL, pools: [{ cidr: '10.65.0.0/16', ipip: false }] };
    expect(tunnelAddressAction(off)).toEqual({ kind: 'remove', release: '10.65.0.1' });
    expect(tunnelAddressAction({ ...off, tunnelAddress: undefined })).toEqual({ kind: 'keep' });
  });
});
