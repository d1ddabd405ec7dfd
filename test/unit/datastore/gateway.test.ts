import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { etcdSettings } from '../../../src/datastore/config';
import { DatastoreUnavailableError } from '../../../src/datastore/errors';
import { GatewayKvStore } from '../../../src/datastore/gateway';

/** etcd's JSON gateway, played by an HTTP server on loopback that records what it is asked. */
interface Stub {
  readonly endpoint: string;
  readonly requests: { path: string; headers: http.IncomingHttpHeaders; body: Record<string, unknown> }[];
  reply: (path: string, body: Record<string, unknown>) => { status?: number; json?: unknown; raw?: string } | 'hang';
  close(): Promise<void>;
}

const stubs: Stub[] = [];
const stores: GatewayKvStore[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) store.close();
  for (const stub of stubs.splice(0)) await stub.close();
});

async function stub(): Promise<Stub> {
  const hanging: http.ServerResponse[] = [];
  const state: Stub = {
    endpoint: '',
    requests: [],
    reply: () => ({ json: { header: { revision: '1' } } }),
    close: () =>
      new Promise((resolve) => {
        for (const response of hanging) response.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
      state.requests.push({ path: request.url ?? '', headers: request.headers, body });
      const answer = state.reply(request.url ?? '', body);
      if (answer === 'hang') {
        hanging.push(response);
        return;
      }
      response.writeHead(answer.status ?? 200, { 'content-type': 'application/json' });
      response.end(answer.raw ?? JSON.stringify(answer.json));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  (state as { endpoint: string }).endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  stubs.push(state);
  return state;
}

/** A port nothing listens on: connecting is refused. */
async function refusedEndpoint(): Promise<string> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}

function store(env: Record<string, string>): GatewayKvStore {
  const kv = new GatewayKvStore(etcdSettings(env));
  stores.push(kv);
  return kv;
}

const b64 = (text: string) => Buffer.from(text).toString('base64');
const text = (value: unknown) => Buffer.from(String(value), 'base64').toString('utf8');

describe('GatewayKvStore', () => {
  it('reads a key and a prefix: base64 on the wire, revisions as numbers', async () => {
    const etcd = await stub();
    etcd.reply = (_path, body) =>
      text(body.key) === '/calico/v1/Ready'
        ? { json: { header: { revision: '7' }, kvs: [{ key: b64('/calico/v1/Ready'), value: b64('true'), mod_revision: '5' }] } }
        : { json: { header: { revision: '9' }, kvs: [{ key: b64('/calico/v1/a'), value: b64('1'), mod_revision: '8' }, { key: b64('/calico/v1/b'), mod_revision: '9' }] } };
    const kv = store({ ETCD_ENDPOINTS: etcd.endpoint });
    expect(await kv.get('/calico/v1/Ready')).toEqual({ key: '/calico/v1/Ready', value: 'true', modRevision: 5 });
    expect(await kv.getPrefix('/calico/v1/')).toEqual({
      revision: 9,
      kvs: [
        { key: '/calico/v1/a', value: '1', modRevision: 8 },
        { key: '/calico/v1/b', value: '', modRevision: 9 },
      ],
    });
    expect(etcd.requests.map((r) => r.path)).toEqual(['/v3/kv/range', '/v3/kv/range']);
    expect(etcd.requests[0]?.body).toEqual({ key: b64('/calico/v1/Ready') });
    expect(etcd.requests[1]?.body).toEqual({ key: b64('/calico/v1/'), range_end: b64('/calico/v10') });
  });

  it('commits a transaction: guards by key and by prefix, puts and deletes, and reports whether it succeeded', async () => {
    const etcd = await stub();
    let succeeded = true;
    etcd.reply = () => ({ json: { header: { revision: '3' }, succeeded } });
    const kv = store({ ETCD_ENDPOINTS: etcd.endpoint });
    const guards = [{ key: '/k', modRevision: 0 }, { prefix: '/p/', unchangedSince: 41 }];
    const operations = [
      { type: 'put' as const, key: '/k', value: 'v' },
      { type: 'delete' as const, key: '/d' },
      { type: 'deletePrefix' as const, prefix: '/p/' },
    ];
    expect(await kv.commit(guards, operations)).toBe(true);
    succeeded = false;
    expect(await kv.commit(guards, operations)).toBe(false);
    expect(etcd.requests[0]).toMatchObject({
      path: '/v3/kv/txn',
      body: {
        compare: [
          { key: b64('/k'), target: 'MOD', result: 'EQUAL', mod_revision: '0' },
          { key: b64('/p/'), range_end: b64('/p0'), target: 'MOD', result: 'LESS', mod_revision: '42' },
        ],
        success: [
          { request_put: { key: b64('/k'), value: b64('v') } },
          { request_delete_range: { key: b64('/d') } },
          { request_delete_range: { key: b64('/p/'), range_end: b64('/p0') } },
        ],
        failure: [],
      },
    });
  });

  it('authenticates once, then sends the token with every request', async () => {
    const etcd = await stub();
    etcd.reply = (path) => (path === '/v3/auth/authenticate' ? { json: { token: 'tok123' } } : { json: { header: { revision: '1' }, version: '3.4.23' } });
    const kv = store({ ETCD_ENDPOINTS: etcd.endpoint, ETCD_USERNAME: 'calico', ETCD_PASSWORD: 's3cret' });
    await kv.get('/a');
    expect(await kv.serverVersion()).toBe('3.4.23');
    expect(etcd.requests.map((r) => r.path)).toEqual(['/v3/auth/authenticate', '/v3/kv/range', '/v3/maintenance/status']);
    expect(etcd.requests[0]?.body).toEqual({ name: 'calico', password: 's3cret' });
    expect(etcd.requests[0]?.headers.authorization).toBeUndefined();
    expect(etcd.requests.slice(1).map((r) => r.headers.authorization)).toEqual(['tok123', 'tok123']);
  });

  it('fails over to the next endpoint, and then keeps using the one that answered', async () => {
    const down = await refusedEndpoint();
    const first = await stub();
    const second = await stub();
    first.reply = () => ({ status: 503, json: { error: 'etcdserver: leader changed', code: 14 } });
    const kv = store({ ETCD_ENDPOINTS: `${down},${first.endpoint},${second.endpoint}` });
    await kv.get('/a');
    await kv.get('/b');
    expect(first.requests).toHaveLength(1);
    expect(second.requests.map((r) => text(r.body.key))).toEqual(['/a', '/b']);
  });

  it.each([
    ['every endpoint refuses connections', async () => ({ env: { ETCD_ENDPOINTS: `${await refusedEndpoint()},${await refusedEndpoint()}` } }), /connection refused\. Is etcd running\? Check ETCD_ENDPOINTS\.$/],
    [
      'etcd does not answer in time',
      async () => {
        const etcd = await stub();
        etcd.reply = () => 'hang';
        return { env: { ETCD_ENDPOINTS: etcd.endpoint, ETCD_TIMEOUT: '200ms' } };
      },
      /did not answer within 200 ms\. .*raise the timeout/,
    ],
    [
      'etcd refuses the credentials',
      async () => {
        const etcd = await stub();
        etcd.reply = () => ({ status: 401, json: { error: 'etcdserver: authentication failed, invalid user ID or password', code: 16 } });
        return { env: { ETCD_ENDPOINTS: etcd.endpoint, ETCD_USERNAME: 'calico', ETCD_PASSWORD: 'wrong' } };
      },
      /refused the request: etcdserver: authentication failed.*Check ETCD_USERNAME and ETCD_PASSWORD\.$/,
    ],
    [
      'the reply is not JSON',
      async () => {
        const etcd = await stub();
        etcd.reply = () => ({ status: 404, raw: '404 page not found' });
        return { env: { ETCD_ENDPOINTS: etcd.endpoint } };
      },
      /sent a reply that is not JSON \(HTTP 404\)/,
    ],
  ])('turns every failure into DatastoreUnavailableError: %s', async (_what, setup, message) => {
    const { env } = await setup();
    const error = await store(env).get('/a').then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(DatastoreUnavailableError);
    expect((error as DatastoreUnavailableError).code).toBe('unavailable');
    expect((error as Error).message).toMatch(message);
  });
});
