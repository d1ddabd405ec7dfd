import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { EtcdSettings } from './config';
import { DatastoreUnavailableError } from './errors';
import { type KeyValue, type KvOperation, type KvStore, prefixEnd, type RangeResult, type RevisionGuard } from './kv';
import { type TxnEncoding, txnRequest } from './txn';

const GATEWAY_ENCODING: TxnEncoding<string, string, string> = { bytes: (data) => data.toString('base64'), modTarget: 'MOD', equal: 'EQUAL', less: 'LESS' };

/**
 * etcd's v3 API through its JSON gateway (`POST /v3/kv/range` and friends), over Node's own http
 * module. The CLI uses this instead of the etcd3 gRPC client because loading etcd3 alone costs
 * about 100 ms, more than Node's whole start-up; a CLI command makes one to three requests.
 */
export class GatewayKvStore implements KvStore {
  private readonly agent: http.Agent;
  private token: Promise<string | undefined> | undefined;
  /** Index of the endpoint that answered last, tried first next time. */
  private preferred = 0;

  constructor(
    private readonly settings: EtcdSettings,
    private readonly trace?: (line: string) => void,
  ) {
    const tls = settings.endpoints[0]?.startsWith('https:');
    const options = {
      keepAlive: true,
      ...(settings.caFile !== undefined && { ca: readFileSync(settings.caFile) }),
      ...(settings.certFile !== undefined && { cert: readFileSync(settings.certFile) }),
      ...(settings.keyFile !== undefined && { key: readFileSync(settings.keyFile) }),
    };
    this.agent = tls ? new https.Agent(options) : new http.Agent({ keepAlive: true });
  }

  async get(key: string): Promise<KeyValue | undefined> {
    const response = await this.call('/v3/kv/range', { key: b64(key) });
    return decodeKvs(response)[0];
  }

  async getPrefix(prefix: string): Promise<RangeResult> {
    const response = await this.call('/v3/kv/range', { key: b64(prefix), range_end: prefixEnd(prefix).toString('base64') });
    return { kvs: decodeKvs(response), revision: Number(response.header?.revision ?? 0) };
  }

  async commit(guards: readonly RevisionGuard[], operations: readonly KvOperation[]): Promise<boolean> {
    const response = await this.call('/v3/kv/txn', txnRequest(guards, operations, GATEWAY_ENCODING));
    return response.succeeded === true;
  }

  async serverVersion(): Promise<string> {
    const response = await this.call('/v3/maintenance/status', {});
    return String(response.version ?? 'unknown');
  }

  close(): void {
    this.agent.destroy();
  }

  private async call(path: string, body: object): Promise<GatewayResponse> {
    const deadline = Date.now() + this.settings.timeoutMs;
    const token = await this.authToken(deadline);
    return this.post(path, body, deadline, token);
  }

  private authToken(deadline: number): Promise<string | undefined> {
    const { username, password } = this.settings;
    if (username === undefined) return Promise.resolve(undefined);
    this.token ??= this.post('/v3/auth/authenticate', { name: username, password }, deadline, undefined).then((r) =>
      String(r.token),
    );
    return this.token;
  }

  /** Tries each endpoint in turn while the deadline allows, starting with the last one that answered. */
  private async post(path: string, body: object, deadline: number, token: string | undefined): Promise<GatewayResponse> {
    const { endpoints } = this.settings;
    let lastError: Error | undefined;
    for (let attempt = 0; attempt < endpoints.length; attempt++) {
      const index = (this.preferred + attempt) % endpoints.length;
      const endpoint = endpoints[index] as string;
      const remaining = deadline - Date.now();
      if (remaining <= 0) break;
      const started = Date.now();
      try {
        const response = await this.request(endpoint, path, body, remaining, token);
        this.preferred = index;
        this.trace?.(`etcd ${endpoint}${path} ${describeRequest(body)} (${Date.now() - started} ms)`);
        return response;
      } catch (error) {
        this.trace?.(`etcd ${endpoint}${path} ${describeRequest(body)} failed after ${Date.now() - started} ms: ${(error as Error).message}`);
        if (!(error instanceof EndpointError)) throw error;
        // A write that timed out may still be committed: etcd keeps a proposal that reached its
        // leader even when the answer never comes (say, as quorum was lost), so say so.
        const unknown = error.kind === 'timeout' && WRITE_PATHS.has(path) ? ' The change may still be made once etcd recovers: check before repeating it.' : '';
        lastError = new DatastoreUnavailableError(`${error.message} ${this.hint(error)}${unknown}`);
      }
    }
    throw lastError ?? new DatastoreUnavailableError(`etcd did not answer within ${this.settings.timeoutMs} ms. ${this.hint()}`);
  }

  private hint(error?: EndpointError): string {
    if (error?.kind === 'tls') return 'Check ETCD_CA_CERT_FILE, ETCD_CERT_FILE and ETCD_KEY_FILE.';
    if (error?.kind === 'auth') return 'Check ETCD_USERNAME and ETCD_PASSWORD.';
    const timeout = error?.kind === 'timeout' ? ' or raise the timeout (--timeout, ETCD_TIMEOUT)' : '';
    return `Is etcd running? Check ${this.settings.source}${timeout}.`;
  }

  private request(endpoint: string, path: string, body: object, timeoutMs: number, token: string | undefined): Promise<GatewayResponse> {
    const payload = JSON.stringify(body);
    const url = new URL(path, endpoint);
    const transport = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const request = transport.request(
        url,
        {
          method: 'POST',
          agent: this.agent,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(payload),
            ...(token !== undefined && { authorization: token }),
          },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('error', (error) => reject(new EndpointError('network', `Lost the connection to etcd at ${endpoint}: ${error.message}.`)));
          response.on('end', () => {
            clearTimeout(timer);
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: GatewayResponse;
            try {
              parsed = JSON.parse(text) as GatewayResponse;
            } catch {
              reject(new EndpointError('protocol', `etcd at ${endpoint} sent a reply that is not JSON (HTTP ${response.statusCode}). Is it etcd 3.4 or later?`));
              return;
            }
            const status = response.statusCode ?? 0;
            if (status >= 200 && status < 300) {
              resolve(parsed);
              return;
            }
            const message = parsed.message ?? parsed.error ?? `HTTP ${status}`;
            const auth = parsed.code === 16 || parsed.code === 7 || /auth|permission/i.test(message);
            reject(new EndpointError(auth ? 'auth' : 'protocol', `etcd at ${endpoint} refused the request: ${message}.`));
          });
        },
      );
      const timer = setTimeout(() => {
        request.destroy();
        reject(new EndpointError('timeout', `etcd at ${endpoint} did not answer within ${this.settings.timeoutMs} ms.`));
      }, timeoutMs);
      request.on('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(describeConnectionError(endpoint, error));
      });
      request.end(payload);
    });
  }
}

interface GatewayResponse {
  header?: { revision?: string };
  kvs?: { key: string; value?: string; mod_revision?: string }[];
  succeeded?: boolean;
  version?: string;
  token?: string;
  error?: string;
  message?: string;
  code?: number;
}

/** The gateway's paths that change etcd. */
const WRITE_PATHS = new Set(['/v3/kv/txn', '/v3/kv/put', '/v3/kv/deleterange']);

/** One endpoint failed; turned into DatastoreUnavailableError once every endpoint has been tried. */
class EndpointError extends Error {
  readonly code = 'unavailable';
  constructor(
    readonly kind: 'network' | 'tls' | 'timeout' | 'auth' | 'protocol',
    message: string,
  ) {
    super(message);
  }
}

function describeConnectionError(endpoint: string, error: NodeJS.ErrnoException): EndpointError {
  const code = error.code ?? '';
  if (code === 'ECONNREFUSED') return new EndpointError('network', `Cannot connect to etcd at ${endpoint}: connection refused.`);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new EndpointError('network', `Cannot connect to etcd at ${endpoint}: unknown host.`);
  if (code === 'ECONNRESET' && endpoint.startsWith('http:')) {
    return new EndpointError('network', `etcd at ${endpoint} closed the connection. If it serves TLS, use https:// and set ETCD_CA_CERT_FILE.`);
  }
  if (/CERT|SSL|TLS|self.signed|certificate/i.test(`${code} ${error.message}`)) {
    return new EndpointError('tls', `TLS with etcd at ${endpoint} failed: ${tidyTlsMessage(error.message)}.`);
  }
  return new EndpointError('network', `Cannot connect to etcd at ${endpoint}: ${error.message}.`);
}

/** OpenSSL's messages carry codes, source paths and a newline; keep the reason. */
function tidyTlsMessage(message: string): string {
  const reason = /error:[0-9A-F]+:[^:]+:[^:]+:([^:]+)/.exec(message)?.[1];
  return (reason ?? message).replace(/\s+/g, ' ').trim();
}

/** A request's keys, readable (the gateway wants them in base64). */
function describeRequest(body: object): string {
  const text = (value: unknown) => (typeof value === 'string' ? Buffer.from(value, 'base64').toString('utf8') : '');
  const request = body as { key?: string; range_end?: string; compare?: { key: string }[]; success?: Record<string, { key: string }>[] };
  if (request.key !== undefined) return `${text(request.key)}${request.range_end !== undefined ? '*' : ''}`;
  if (request.success) return request.success.map((op) => Object.entries(op).map(([kind, v]) => `${kind.replace('request_', '')} ${text(v.key)}`).join('')).join(', ');
  return '';
}

function decodeKvs(response: GatewayResponse): KeyValue[] {
  return (response.kvs ?? []).map((kv) => ({
    key: Buffer.from(kv.key, 'base64').toString('utf8'),
    value: Buffer.from(kv.value ?? '', 'base64').toString('utf8'),
    modRevision: Number(kv.mod_revision ?? 0),
  }));
}

function b64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}
