import { GRPCDeadlineExceededError, GRPCUnavailableError } from 'etcd3';
import type { EtcdSettings } from '../../../src/datastore/config';
import { DatastoreUnavailableError } from '../../../src/datastore/errors';
import { Etcd3KvStore } from '../../../src/datastore/etcd3-store';

// The store's own retry across endpoints. No etcd is contacted: the calls are stand-ins that fail
// as gRPC does. (test/e2e/etcd-cluster.test.ts runs the same against a real 3-member cluster.)
const settings = (endpoints: number): EtcdSettings => ({
  endpoints: Array.from({ length: endpoints }, (_, i) => `http://127.0.0.1:${2379 + i}`),
  source: 'ETCD_ENDPOINTS',
  timeoutMs: 5000,
});

/** A call that fails with `errors` in turn, then answers 'ok'; counts its attempts. */
function flaky(...errors: Error[]) {
  const call = jest.fn(async () => {
    const next = errors.shift();
    if (next) throw next;
    return 'ok';
  });
  return call;
}

const refused = () => new GRPCUnavailableError('14 UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:2379');
const dropped = () => new GRPCUnavailableError('14 UNAVAILABLE: Connection dropped');
const late = () => new GRPCDeadlineExceededError('4 DEADLINE_EXCEEDED: Deadline exceeded');

describe('Etcd3KvStore: one endpoint down among several', () => {
  const stores: Etcd3KvStore[] = [];
  const store = (endpoints: number) => {
    const s = new Etcd3KvStore(settings(endpoints));
    stores.push(s);
    return s;
  };
  afterAll(() => stores.forEach((s) => s.close()));

  it('tries another endpoint when a call never reached etcd, read or write', async () => {
    const read = flaky(refused());
    await expect(store(3).guard(read, 'read')).resolves.toBe('ok');
    expect(read).toHaveBeenCalledTimes(2);
    const write = flaky(refused(), refused());
    await expect(store(3).guard(write, 'write')).resolves.toBe('ok');
    expect(write).toHaveBeenCalledTimes(3);
  });

  it('repeats a read that may have reached etcd, but never such a write: its edit might then be applied twice', async () => {
    const read = flaky(dropped(), late());
    await expect(store(3).guard(read, 'read')).resolves.toBe('ok');
    expect(read).toHaveBeenCalledTimes(3);
    for (const error of [dropped(), late()]) {
      const write = flaky(error);
      await expect(store(3).guard(write, 'write')).rejects.toBeInstanceOf(DatastoreUnavailableError);
      expect(write).toHaveBeenCalledTimes(1);
    }
  });

  it('tries each endpoint at most once, and a lone endpoint once', async () => {
    const call = flaky(refused(), refused(), refused(), refused());
    await expect(store(3).guard(call, 'read')).rejects.toThrow(/^Cannot reach etcd at .*2379,.*2380,.*2381: .*ECONNREFUSED.*Check ETCD_ENDPOINTS\.$/);
    expect(call).toHaveBeenCalledTimes(3);
    const lone = flaky(refused());
    await expect(store(1).guard(lone, 'read')).rejects.toBeInstanceOf(DatastoreUnavailableError);
    expect(lone).toHaveBeenCalledTimes(1);
  });

  it('does not retry what is not a transport failure', async () => {
    const call = flaky(new Error('etcdserver: mvcc: required revision has been compacted'));
    await expect(store(3).guard(call, 'read')).rejects.toThrow('compacted');
    expect(call).toHaveBeenCalledTimes(1);
  });
});
