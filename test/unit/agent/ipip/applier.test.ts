import { TunnelApplier, TunnelUnavailableError } from '../../../../src/agent/ipip/applier';
import { memoryLog } from '../plugin/fakes';
import { FakeTunnelKernel } from './fake-tunnel-kernel';

const ON = {
  enabled: true,
  address: '10.65.0.1',
  routes: [
    { net: '10.65.0.64/26', via: '10.200.1.2' },
    { net: '10.65.0.128/26', via: '10.200.0.3' },
  ],
  poolNets: ['10.65.0.0/16', '10.66.0.0/16'],
};
const OFF = { enabled: false, address: undefined, routes: [], poolNets: ON.poolNets };

describe('the tunnel applier', () => {
  it('brings tunl0 up with its address and the routes through it, onlink, with their own protocol', async () => {
    const kernel = new FakeTunnelKernel();
    await new TunnelApplier(kernel, memoryLog(), kernel.exists).apply(ON);
    expect(kernel.device).toEqual({ up: true, mtu: '1440', addresses: ['10.65.0.1'] });
    expect([...kernel.routes]).toEqual([
      ['10.65.0.64/26', { via: '10.200.1.2', dev: 'tunl0', proto: '158' }],
      ['10.65.0.128/26', { via: '10.200.0.3', dev: 'tunl0', proto: '158' }],
    ]);
  });

  it('writes nothing more when nothing changed, and follows a moved block, a new one and a gone one', async () => {
    const kernel = new FakeTunnelKernel();
    const applier = new TunnelApplier(kernel, memoryLog(), kernel.exists);
    await applier.apply(ON);
    const mark = kernel.calls.length;
    await applier.apply(ON);
    expect(kernel.calls.slice(mark).filter((c) => c.includes('-batch') || c.includes('addr add'))).toEqual([]);
    await applier.apply({ ...ON, routes: [{ net: '10.65.0.64/26', via: '10.200.1.5' }, { net: '10.65.0.192/26', via: '10.200.0.3' }] });
    expect([...kernel.routes.keys()].sort()).toEqual(['10.65.0.192/26', '10.65.0.64/26']);
    expect(kernel.routes.get('10.65.0.64/26')?.via).toBe('10.200.1.5');
  });

  it('replaces a stale address, and leaves routes of other protocols alone', async () => {
    const kernel = new FakeTunnelKernel();
    kernel.device = { up: true, mtu: '1440', addresses: ['10.66.0.9'] };
    kernel.routes.set('10.50.0.0/24', { via: '10.200.0.254', dev: 'eth0', proto: 'bird' });
    await new TunnelApplier(kernel, memoryLog(), kernel.exists).apply(ON);
    expect(kernel.device.addresses).toEqual(['10.65.0.1']);
    await new TunnelApplier(kernel, memoryLog(), kernel.exists).apply(OFF);
    expect(kernel.routes.get('10.50.0.0/24')).toEqual({ via: '10.200.0.254', dev: 'eth0', proto: 'bird' });
  });

  it('when IPIP is turned off: the routes and the address are gone and tunl0 is down', async () => {
    const kernel = new FakeTunnelKernel();
    const applier = new TunnelApplier(kernel, memoryLog(), kernel.exists);
    await applier.apply(ON);
    await applier.apply(OFF);
    expect(kernel.routes.size).toBe(0);
    expect(kernel.device).toMatchObject({ up: false, addresses: [] });
  });

  it('with IPIP off, leaves a tunl0 that holds no address of a pool as it is (it may serve something else)', async () => {
    const kernel = new FakeTunnelKernel();
    kernel.device = { up: true, mtu: '1480', addresses: ['172.16.0.1'] };
    await new TunnelApplier(kernel, memoryLog(), kernel.exists).apply(OFF);
    expect(kernel.device).toEqual({ up: true, mtu: '1480', addresses: ['172.16.0.1'] });
    expect(kernel.calls.filter((c) => !c.includes(' show '))).toEqual([]);
  });

  it('says clearly when the kernel has no IPIP, and touches nothing', async () => {
    const kernel = new FakeTunnelKernel(false);
    const applier = new TunnelApplier(kernel, memoryLog(), kernel.exists);
    await expect(applier.apply(ON)).rejects.toThrow(TunnelUnavailableError);
    await expect(applier.apply(ON)).rejects.toThrow(/kernel has no IPIP support.*modprobe ipip/);
    expect(kernel.routes.size).toBe(0);
    // Turning it off on such a host is quietly nothing to do.
    await applier.apply(OFF);
  });
});
