import { mkdirSync, unlinkSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { dirname } from 'node:path';
import type { Logger } from '../log';
import type { Handlers } from './types';
import { PluginError } from './types';

export const DEFAULT_SOCKET = '/run/docker/plugins/calico.sock';

/**
 * The Docker plugin protocol: HTTP POSTs of JSON to `/<Subsystem>.<Method>` on a unix socket.
 * Unknown paths get 404, which Docker reads as "not implemented" and carries on. Failures are
 * answered `{"Err": "..."}`; a bad request never takes the server down.
 */
export function createPluginServer(handlers: Handlers, log: Logger): http.Server {
  const routes: Handlers = {
    '/Plugin.Activate': async () => ({ Implements: ['NetworkDriver', 'IpamDriver'] }),
    ...handlers,
  };
  return http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const path = (request.url ?? '').split('?')[0] ?? '';
      const reply = (status: number, body: object) => {
        response.writeHead(status, { 'content-type': 'application/vnd.docker.plugins.v1+json' });
        response.end(JSON.stringify(body));
      };
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
  });
}

/** Listens on the socket, replacing a stale socket file but never one that another agent serves. */
export async function listenOnSocket(server: http.Server, socketPath: string): Promise<void> {
  mkdirSync(dirname(socketPath), { recursive: true });
  if (await socketAnswers(socketPath)) {
    throw new Error(`Another process already serves ${socketPath}: is calico-node already running?`);
  }
  try {
    unlinkSync(socketPath);
  } catch {
    // No stale socket to remove.
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
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
