import * as http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { ipamDriverHandlers } from '../../../../src/agent/plugin/ipam-driver';
import { networkDriverHandlers } from '../../../../src/agent/plugin/network-driver';
import { createPluginServer, listenOnSocket } from '../../../../src/agent/plugin/server';
import { type Handlers, PluginError } from '../../../../src/agent/plugin/types';
import { fuzzParams, hostileJson, hostileString, mangledObject } from '../../../fakes/fuzz';
import { pluginContext } from './fakes';

/**
 * Hostile requests to every endpoint of the Docker plugin: malformed bodies, wrong types, unknown
 * networks and endpoints. Each is answered (JSON, with Err when refused), a refusal is the plugin's
 * own error rather than a TypeError, a refused request writes nothing, and every name handed to
 * `ip` is one the agent may own.
 */

const NETWORK = 'a'.repeat(64);
const ENDPOINT = 'b'.repeat(64);
const idArb = fc.oneof(fc.constantFrom(NETWORK, ENDPOINT, 'c'.repeat(64), 'n1', 'e1', '-', '.', '..', '-a'), hostileString);

/** Requests shaped like Docker's, per endpoint, to be mangled. */
const SHAPES: Record<string, fc.Arbitrary<Record<string, unknown>>> = {
  '/NetworkDriver.CreateNetwork': fc.record({
    NetworkID: idArb,
    Options: fc.constant({ 'com.docker.network.generic': {} }),
    IPv4Data: fc.constant([{ AddressSpace: 'CalicoLocalAddressSpace', Pool: '0.0.0.0/0', Gateway: '0.0.0.0/0' }]),
    IPv6Data: fc.constant([]),
  }),
  '/NetworkDriver.DeleteNetwork': fc.record({ NetworkID: idArb }),
  '/NetworkDriver.CreateEndpoint': fc.record({
    NetworkID: idArb,
    EndpointID: idArb,
    Interface: fc.record({ Address: fc.constantFrom('10.65.0.5/32', '10.65.0.5/16', 'fd00::5/128', '', '0.0.0.0/0'), AddressIPv6: fc.constantFrom('', 'fd00::5/64', '10.0.0.1'), MacAddress: fc.constantFrom('', 'ee:ee:ee:ee:ee:ee') }),
    Options: fc.constant({}),
  }),
  '/NetworkDriver.DeleteEndpoint': fc.record({ NetworkID: idArb, EndpointID: idArb }),
  '/NetworkDriver.Join': fc.record({ NetworkID: idArb, EndpointID: idArb, SandboxKey: fc.constant('/var/run/docker/netns/x'), Options: fc.constant({}) }),
  '/NetworkDriver.Leave': fc.record({ NetworkID: idArb, EndpointID: idArb }),
  '/NetworkDriver.EndpointOperInfo': fc.record({ NetworkID: idArb, EndpointID: idArb }),
  '/IpamDriver.RequestPool': fc.record({ AddressSpace: fc.constant('CalicoLocalAddressSpace'), Pool: fc.constantFrom('', '10.65.0.0/16', '10.66.0.0/16', '0.0.0.0/0', 'bogus'), SubPool: fc.constant(''), V6: fc.boolean(), Options: fc.constant({}) }),
  '/IpamDriver.RequestAddress': fc.record({ PoolID: fc.constantFrom('CalicoPoolIPv4', 'CalicoPoolIPv6', '10.65.0.0/16', 'fd00::/64', 'bogus'), Address: fc.constantFrom('', '10.65.0.9', '10.66.0.9', '0.0.0.0', '10.65.0.0'), Options: fc.constant({}) }),
  '/IpamDriver.ReleaseAddress': fc.record({ PoolID: fc.constantFrom('CalicoPoolIPv4', 'CalicoPoolIPv6'), Address: fc.constantFrom('10.65.0.1', '10.65.0.9/32', '0.0.0.0', '', '::') }),
  '/IpamDriver.ReleasePool': fc.record({ PoolID: fc.constantFrom('CalicoPoolIPv4', 'bogus') }),
};

/** A request: a shaped one with fields (and nested fields) replaced, dropped or added. */
function requestArb(path: string): fc.Arbitrary<Record<string, unknown>> {
  const shape = SHAPES[path] ?? fc.constant({});
  return shape.chain((request) =>
    fc.oneof(
      { weight: 1, arbitrary: fc.constant(request) },
      { weight: 3, arbitrary: mangledObject(request) },
      {
        weight: 2,
        arbitrary: fc.tuple(fc.constantFrom('Interface', 'Options', 'IPv4Data', 'IPv6Data'), fc.oneof(mangledObject({ Address: '10.65.0.5', Gateway: '1.2.3.4' }), hostileJson)).map(([field, value]) => ({
          ...request,
          [field]: field.endsWith('Data') ? [value] : value,
        })),
      },
    ),
  );
}

function world() {
  const setup = pluginContext();
  setup.kv.seed('/calico/v1/ipam/v4/pool/10.65.0.0-16', { cidr: '10.65.0.0/16' });
  setup.kv.seed('/calico/v1/ipam/v6/pool/fd00::-64', { cidr: 'fd00::/64' });
  const handlers: Handlers = { ...networkDriverHandlers(setup.ctx), ...ipamDriverHandlers(setup.ctx) };
  return { ...setup, handlers };
}

/** Every argument of every host command is one plain word, and every link name is one the agent owns. */
function expectPlainCommands(calls: readonly string[]): void {
  for (const call of calls) {
    const [file, ...args] = call.split(' ');
    expect(file).toBe('ip');
    for (const arg of args) expect(arg).toMatch(/^[A-Za-z0-9_.:/-]{1,64}$/);
    const links = args.filter((arg) => /^(cali|tmp)/.test(arg));
    for (const link of links) expect(link).toMatch(/^(cali|tmp)[A-Za-z0-9_.-]{1,11}$/);
  }
}

const paths = Object.keys(SHAPES);

describe('the plugin handlers with hostile requests', () => {
  /** A fresh host every so often, so that what the accepted requests stored stays small. */
  async function freshWorld() {
    const fresh = world();
    await fresh.handlers['/NetworkDriver.CreateNetwork']!({ NetworkID: NETWORK, IPv4Data: [] });
    await fresh.handlers['/NetworkDriver.CreateEndpoint']!({ NetworkID: NETWORK, EndpointID: ENDPOINT, Interface: { Address: '10.65.0.7/32' } });
    return fresh;
  }

  it('answer an object or refuse with a PluginError, and a refusal writes nothing', async () => {
    let current = await freshWorld();
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...paths).chain((path) => fc.tuple(fc.constant(path), requestArb(path))), async ([path, request]) => {
        if (++runs % 100 === 0) current = await freshWorld();
        const { kv, handlers, runner } = current;
        const before = kv.dump();
        const commits = kv.commits;
        const calls = runner.calls.length;
        let answer: unknown;
        try {
          answer = await handlers[path]!(request);
        } catch (error) {
          expect(error).toBeInstanceOf(PluginError);
          expect((error as Error).message).toMatch(/^[^\n]+$/);
          expect(kv.dump()).toEqual(before);
          expect(kv.commits).toBe(commits);
        }
        if (answer !== undefined) expect(typeof answer).toBe('object');
        expectPlainCommands(runner.calls.slice(calls));
      }),
      fuzzParams(1500),
    );
  }, 120_000);
});

/** One POST over the unix socket, as Docker's plugin client makes it; the body is raw bytes. */
function post(socketPath: string, path: string, body: Buffer): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request({ socketPath, path, method: 'POST', headers: { 'content-type': 'application/json' } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
    });
    request.on('error', reject);
    request.end(body);
  });
}

describe('the plugin server with malformed bodies, unknown paths and large requests', () => {
  let dir: string;
  let socket: string;
  let server: http.Server;
  const setup = world();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'plugin-fuzz-'));
    socket = join(dir, 'calico.sock');
    server = createPluginServer(setup.handlers, setup.log);
    await listenOnSocket(server, socket);
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  const bodyArb: fc.Arbitrary<Buffer> = fc.oneof(
    fc.constantFrom(...paths).chain(requestArb).map((request) => Buffer.from(JSON.stringify(request))),
    hostileJson.map((value) => Buffer.from(JSON.stringify(value) ?? '')),
    hostileString.map((text) => Buffer.from(text)),
    fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)),
    fc.constantFrom('{', '{"NetworkID":', '[1,2', '\uFEFF{}', '{"a":1}{"b":2}', 'null', '"x"', '1e999').map((text) => Buffer.from(text)),
  );
  const pathArb = fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...paths, '/Plugin.Activate', '/NetworkDriver.GetCapabilities', '/IpamDriver.GetCapabilities') },
    { weight: 1, arbitrary: fc.constantFrom('/', '/NetworkDriver', '/NetworkDriver.createnetwork', '/__proto__', '/constructor', '/Plugin.Activate?x=1', '/%00', '//x', '/NetworkDriver.CreateNetwork/') },
  );

  it('answers every request with JSON (Err unless 200) and keeps serving', async () => {
    await fc.assert(
      fc.asyncProperty(pathArb, bodyArb, async (path, body) => {
        const { status, text } = await post(socket, path, body);
        const json = JSON.parse(text) as Record<string, unknown>;
        expect(typeof json).toBe('object');
        if (status !== 200) expect(typeof json.Err).toBe('string');
        // A refusal is the plugin's own; anything else would be logged as an internal failure.
        expect(setup.log.lines.filter((line) => line.startsWith('ERROR'))).toEqual([]);
      }),
      fuzzParams(300),
    );
  }, 60_000);

  it('answers a request of several megabytes', async () => {
    const big = Buffer.from(JSON.stringify({ NetworkID: 'x'.repeat(4 << 20) }));
    const { text } = await post(socket, '/NetworkDriver.CreateNetwork', big);
    expect(JSON.parse(text)).toHaveProperty('Err');
    expect((await post(socket, '/Plugin.Activate', Buffer.alloc(0))).status).toBe(200);
  });
});

describe('regressions the properties found', () => {
  it('an address of the wrong type is refused by name (seed -1495574367)', async () => {
    const { handlers, kv } = world();
    await handlers['/NetworkDriver.CreateNetwork']!({ NetworkID: 'n1', IPv4Data: [null, 5, { Gateway: '' }] });
    const commits = kv.commits;
    await expect(handlers['/NetworkDriver.CreateEndpoint']!({ NetworkID: 'n1', EndpointID: 'e1', Interface: { Address: [] } })).rejects.toThrow(new PluginError('Invalid IPv4 address [] in the request.'));
    await expect(handlers['/NetworkDriver.CreateEndpoint']!({ NetworkID: 'n1', EndpointID: 'e1', Interface: 'x' })).rejects.toThrow(/has no address/);
    await expect(handlers['/NetworkDriver.CreateNetwork']!({ NetworkID: 'n2', IPv4Data: [{ Gateway: 7 }] })).rejects.toThrow(/Invalid IPv4Data pool/);
    expect(kv.commits).toBe(commits);
  });

  it('an address with a newline is refused on one line (seed -1061423921)', async () => {
    const { handlers } = world();
    await expect(handlers['/IpamDriver.RequestAddress']!({ PoolID: 'bogus', Address: '\n' })).rejects.toThrow(new PluginError("'\\x0a' is not an IP address."));
  });

  it('a subnet with a newline is refused on one line (seed 1755323194)', async () => {
    const { handlers } = world();
    await expect(handlers['/IpamDriver.RequestPool']!({ Pool: '\n' })).rejects.toThrow(/^The requested subnet \\x0a is not a Calico IP pool: add it with 'calicoctl pool add \\x0a' first\.$/);
  });

  it('an ID much longer than Docker\'s is refused before it reaches a key', async () => {
    const { handlers, kv } = world();
    const commits = kv.commits;
    await expect(handlers['/NetworkDriver.CreateNetwork']!({ NetworkID: 'x'.repeat(257) })).rejects.toThrow(/invalid NetworkID/);
    expect(kv.commits).toBe(commits);
  });
});
