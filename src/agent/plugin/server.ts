import { chmodSync, mkdirSync, mkdtempSync, renameSync, rmSync, unlinkSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { dirname, join } from 'node:path';
import type { Logger } from '../log';
import type { Handlers } from './types';
import { PluginError } from './types';

export const DEFAULT_SOCKET = '/run/docker/plugins/calico.sock';

/** Bounds on what one client may cost the agent. Docker's requests are a few hundred bytes, sent at once. */
export interface ServerLimits {
  /** A larger body is refused with 413 and not read further. */
  readonly maxBodyBytes: number;
  /** A request (headers and body) not received in this time is dropped (408). */
  readonly requestTimeoutMs: number;
}

export const DEFAULT_LIMITS: ServerLimits = { maxBodyBytes: 1 << 20, requestTimeoutMs: 10_000 };

/**
 * The Docker plugin protocol: HTTP POSTs of JSON to `/<Subsystem>.<Method>` on a unix socket.
 * Unknown paths get 404, which Docker reads as "not implemented" and carries on. Failures are
 * answered `{"Err": "..."}`; a bad request never takes the server down, and neither a huge body
 * nor a client that never finishes its request holds memory or a connection for long.
 */
export function createPluginServer(handlers: Handlers, log: Logger, limits: ServerLimits = DEFAULT_LIMITS): http.Server {
  const routes: Handlers = {
    '/Plugin.Activate': async () => ({ Implements: ['NetworkDriver', 'IpamDriver'] }),
    ...handlers,
  };
  const server = http.createServer(
    {
      requestTimeout: limits.requestTimeoutMs,
      headersTimeout: limits.requestTimeoutMs,
      // How often Node looks for requests past their timeout (its default, 30 s, would outlast them).
      connectionsCheckingInterval: Math.max(10, Math.min(1000, limits.requestTimeoutMs / 2)),
    },
    (request, response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const reply = (status: number, body: object) => {
        response.writeHead(status, { 'content-type': 'application/vnd.docker.plugins.v1+json' });
        response.end(JSON.stringify(body));
      };
      const path = (request.url ?? '').split('?')[0] ?? '';
      const declared = Number(request.headers['content-length'] ?? 0);
      let refused = false;
      const refuse = () => {
        refused = true;
        log.warning(`${path}: request body over ${limits.maxBodyBytes} bytes refused`);
        // The rest of the body is not read: the connection closes after the reply.
        response.setHeader('connection', 'close');
        reply(413, { Err: `Request body too large (the limit is ${limits.maxBodyBytes} bytes)` });
        request.pause();
        response.on('finish', () => request.socket.destroy());
      };
      if (declared > limits.maxBodyBytes) {
        refuse();
        return;
      }
      request.on('data', (chunk: Buffer) => {
        if (refused) return;
        size += chunk.length;
        if (size > limits.maxBodyBytes) {
          chunks.length = 0;
          refuse();
          return;
        }
        chunks.push(chunk);
      });
      request.on('end', () => {
        if (refused) return;
        const handler = Object.hasOwn(routes, path) ? routes[path] : undefined;
        if (!handler) {
          log.debug(`${path}: not implemented (404)`);
          reply(404, { Err: `${path} is not implemented` });
          return;
        }
        const text = Buffer.concat(chunks).toString('utf8');
        let body: Record<string, unknown>;
        try {
          const parsed: unknown = text.trim() === '' ? {} : JSON.parse(text);
          if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('expected a JSON object');
          body = parsed as Record<string, unknown>;
        } catch (error) {
          log.warning(`${path}: malformed request: ${(error as Error).message}`);
          reply(400, { Err: `Malformed JSON request: ${(error as Error).message}` });
          return;
        }
        log.debug(`${path} ${text.trim()}`);
        handler(body).then(
          (result) => reply(200, result),
          (error: Error) => {
            if (error instanceof PluginError) log.warning(`${path}: ${error.message}`);
            else log.error(`${path} failed: ${error.stack ?? error.message}`);
            reply(500, { Err: error.message });
          },
        );
      });
    },
  );
  return server;
}

/**
 * Listens on the socket, replacing a stale socket file but never one that another agent serves.
 * Only root may connect (mode 0600, whatever the umask): the socket is bound in a fresh directory
 * only root can enter, given its mode there, and then renamed into place, so it is never
 * reachable at its public path with a wider mode.
 */
export async function listenOnSocket(server: http.Server, socketPath: string): Promise<void> {
  mkdirSync(dirname(socketPath), { recursive: true });
  if (await socketAnswers(socketPath)) {
    throw new Error(`Another process already serves ${socketPath}: is calico-node already running?`);
  }
  const privateDir = mkdtempSync(join(dirname(socketPath), '.calico-sock-'));
  try {
    const bound = join(privateDir, 'sock');
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(bound, () => {
        server.off('error', reject);
        resolve();
      });
    });
    chmodSync(bound, 0o600);
    try {
      unlinkSync(socketPath);
    } catch {
      // No stale socket to remove.
    }
    renameSync(bound, socketPath);
    // The kernel forgets a socket's path on rename, so closing no longer removes the file by itself.
    server.once('close', () => rmSync(socketPath, { force: true }));
  } finally {
    rmSync(privateDir, { recursive: true, force: true });
  }
}

function socketAnswers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(socketPath);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
