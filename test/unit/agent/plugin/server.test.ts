import * as http from 'node:http';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import * as net from 'node:net';
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
    // Others may enter the directory: only the socket's own mode keeps them out.
    chmodSync(dir, 0o755);
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

  it('the socket is root-only (0600) whatever the umask, and a non-root client cannot connect', async () => {
    expect(statSync(socket).mode & 0o777).toBe(0o600);
    const connect = `require('net').connect(${JSON.stringify(socket)}).on('connect', () => { console.log('connected'); process.exit(0); }).on('error', (e) => { console.log(e.code); process.exit(1); })`;
    const asNobody = spawnSync(process.execPath, ['-e', connect], { uid: 65534, gid: 65534, encoding: 'utf8' });
    expect(asNobody.stdout.trim()).toBe('EACCES');
    const asRoot = spawnSync(process.execPath, ['-e', connect], { encoding: 'utf8' });
    expect(asRoot.stdout.trim()).toBe('connected');
  });

  it('refuses a body over 1 MiB with 413 and a JSON Err, without reading it, and keeps serving', async () => {
    const big = 'x'.repeat(2 << 20);
    expect(await post(socket, '/NetworkDriver.Echo', `{"a":"${big}"}`).catch((error: Error) => error.message)).toEqual({ status: 413, json: { Err: 'Request body too large (the limit is 1048576 bytes)' } });
    // Without a Content-Length (chunked), the limit holds as the body arrives.
    const chunked = await new Promise<{ status: number; json: Record<string, unknown> }>((resolve, reject) => {
      const request = http.request({ socketPath: socket, path: '/NetworkDriver.Echo', method: 'POST' }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
      });
      request.on('error', reject);
      for (let i = 0; i < 3; i++) request.write('y'.repeat(1 << 19));
      request.end();
    });
    expect(chunked.status).toBe(413);
    expect(log.lines.some((line) => /WARNING \/NetworkDriver.Echo: request body over 1048576 bytes refused/.test(line))).toBe(true);
    expect((await post(socket, '/NetworkDriver.GetCapabilities', '{}')).status).toBe(200);
  });

  it('drops a client that does not finish its request in time', async () => {
    const slowDir = mkdtempSync(join(tmpdir(), 'plugin-slow-'));
    const slowSocket = join(slowDir, 'slow.sock');
    const slow = createPluginServer({ '/NetworkDriver.Echo': async (request) => ({ Got: request }) }, memoryLog(), { maxBodyBytes: 1024, requestTimeoutMs: 200 });
    await listenOnSocket(slow, slowSocket);
    try {
      const answer = await new Promise<string>((resolve) => {
        const client = net.connect(slowSocket, () => client.write('POST /NetworkDriver.Echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"a":'));
        let text = '';
        client.on('data', (chunk) => (text += chunk.toString()));
        client.on('close', () => resolve(text));
      });
      expect(answer).toMatch(/^HTTP\/1\.1 408/);
    } finally {
      await new Promise((resolve) => slow.close(resolve));
      expect(existsSync(slowSocket)).toBe(false);
      rmSync(slowDir, { recursive: true, force: true });
    }
  });
});
