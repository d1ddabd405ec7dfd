import * as http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPluginServer, listenOnSocket } from '../../../../src/agent/plugin/server';
import { PluginError } from '../../../../src/agent/plugin/types';
import { memoryLog } from './fakes';

/** One POST over the unix socket, as Docker's plugin client makes it. */
function post(socketPath: string, path: string, body: string): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const request = http.request({ socketPath, path, method: 'POST', headers: { 'content-type': 'application/json' } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
    });
    request.on('error', reject);
    request.end(body);
  });
}

describe('the plugin server', () => {
  let dir: string;
  let socket: string;
  let server: http.Server;
  const log = memoryLog();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'plugin-server-'));
    socket = join(dir, 'plugins', 'calico.sock');
    server = createPluginServer(
      {
        '/NetworkDriver.GetCapabilities': async () => ({ Scope: 'local' }),
        '/NetworkDriver.Echo': async (request) => ({ Got: request }),
        '/NetworkDriver.Refuse': async () => {
          throw new PluginError('Network n1 does not exist.');
        },
        '/NetworkDriver.Crash': async () => {
          throw new TypeError('boom');
        },
      },
      log,
    );
    await listenOnSocket(server, socket);
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it('activates as a network and an IPAM driver', async () => {
    expect(await post(socket, '/Plugin.Activate', '')).toEqual({ status: 200, json: { Implements: ['NetworkDriver', 'IpamDriver'] } });
  });

  it('passes the decoded request to its handler, and an empty body as {}', async () => {
    expect((await post(socket, '/NetworkDriver.Echo', '{"NetworkID":"n1"}')).json).toEqual({ Got: { NetworkID: 'n1' } });
    expect((await post(socket, '/NetworkDriver.Echo', '  ')).json).toEqual({ Got: {} });
  });

  it('answers 404 for a method it does not implement, including inherited names', async () => {
    expect((await post(socket, '/NetworkDriver.Nope', '{}')).status).toBe(404);
    expect((await post(socket, '/constructor', '{}')).status).toBe(404);
    expect((await post(socket, '/__proto__', '{}')).status).toBe(404);
  });

  it('answers 400 with Err for a body that is not a JSON object, and keeps serving', async () => {
    for (const body of ['{', '[1,2]', '"text"', 'null']) {
      const reply = await post(socket, '/NetworkDriver.Echo', body);
      expect(reply.status).toBe(400);
      expect(String(reply.json.Err)).toMatch(/^Malformed JSON request/);
    }
    expect((await post(socket, '/NetworkDriver.GetCapabilities', '{}')).status).toBe(200);
  });

  it('answers 500 with the error message, logging a refusal as a warning and a bug with its stack', async () => {
    expect(await post(socket, '/NetworkDriver.Refuse', '{}')).toEqual({ status: 500, json: { Err: 'Network n1 does not exist.' } });
    expect(log.lines).toContain('WARNING /NetworkDriver.Refuse: Network n1 does not exist.');
    expect(await post(socket, '/NetworkDriver.Crash', '{}')).toEqual({ status: 500, json: { Err: 'boom' } });
    expect(log.lines.some((line) => line.startsWith('ERROR /NetworkDriver.Crash failed: TypeError: boom'))).toBe(true);
  });

  it('refuses to take over a socket that another server answers on', async () => {
    const other = createPluginServer({}, memoryLog());
    await expect(listenOnSocket(other, socket)).rejects.toThrow(/already serves .*is calico-node already running/);
  });

  it('replaces a stale socket file that nobody answers on', async () => {
    const stale = join(dir, 'stale.sock');
    const first = createPluginServer({}, memoryLog());
    await listenOnSocket(first, stale);
    // Closing a server removes its socket file; make a dead one by hand instead.
    await new Promise((resolve) => first.close(resolve));
    require('node:fs').writeFileSync(stale, '');
    const second = createPluginServer({}, memoryLog());
    await listenOnSocket(second, stale);
    expect((await post(stale, '/Plugin.Activate', '')).status).toBe(200);
    await new Promise((resolve) => second.close(resolve));
  });
});
