import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import * as path from 'path';

/**
 * A gRPC proxy on loopback between an etcd client and a real etcd, that can break a Watch stream
 * at a chosen moment. It speaks etcd's own protocol definition (the one etcd3 ships), forwards
 * every unary call as it is, and relays Watch streams message by message through `onWatch`.
 */
export interface WatchInterceptor {
  /** Called with each create request before it goes to etcd (the proxy waits for it). */
  beforeCreate?(request: WatchCreate, stream: number): Promise<void> | void;
  /** Called with each response from etcd: 'forward' it, 'drop' it, or 'forward-then-cut' the stream. */
  response?(response: WatchResponse, stream: number): 'forward' | 'drop' | 'forward-then-cut';
}

export interface WatchCreate {
  key: Buffer;
  range_end: Buffer;
  start_revision: string;
}

export interface WatchResponse {
  header: { revision: string };
  created: boolean;
  canceled: boolean;
  events: { type: string; kv: { key: Buffer; mod_revision: string } }[];
}

export interface EtcdProxy {
  readonly endpoint: string;
  /** How many Watch streams clients have opened so far. */
  readonly watchStreams: number;
  stop(): Promise<void>;
}

const PROTO = path.join(path.dirname(require.resolve('etcd3/package.json')), 'proto/rpc.proto');

export async function startEtcdProxy(upstream: string, interceptor: WatchInterceptor = {}): Promise<EtcdProxy> {
  const definition = protoLoader.loadSync(PROTO, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
  const pb = (grpc.loadPackageDefinition(definition) as unknown as { etcdserverpb: Record<string, grpc.ServiceClientConstructor> }).etcdserverpb;
  const target = upstream.replace(/^https?:\/\//, '');
  const server = new grpc.Server();
  const clients: grpc.Client[] = [];
  let watchStreams = 0;

  for (const name of ['KV', 'Watch', 'Lease', 'Cluster', 'Maintenance', 'Auth']) {
    const Service = pb[name] as grpc.ServiceClientConstructor;
    const client = new Service(target, grpc.credentials.createInsecure()) as unknown as Record<string, (...args: unknown[]) => unknown> & grpc.Client;
    clients.push(client);
    const handlers: grpc.UntypedServiceImplementation = {};
    for (const [method, spec] of Object.entries(Service.service)) {
      if (!spec.requestStream && !spec.responseStream) {
        handlers[method] = (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
          (client[method] as (req: unknown, md: grpc.Metadata, cb: (e: grpc.ServiceError | null, r: unknown) => void) => void).call(client, call.request, call.metadata, (error, response) => callback(error, response));
        };
      } else if (spec.requestStream && spec.responseStream) {
        handlers[method] = (call: grpc.ServerDuplexStream<Record<string, unknown>, WatchResponse>) => relay(call, client[method]!.call(client, call.metadata) as grpc.ClientDuplexStream<unknown, WatchResponse>, name === 'Watch' ? ++watchStreams : 0);
      }
    }
    server.addService(Service.service, handlers);
  }

  function relay(down: grpc.ServerDuplexStream<Record<string, unknown>, WatchResponse>, up: grpc.ClientDuplexStream<unknown, WatchResponse>, stream: number): void {
    let cut = false;
    let queue = Promise.resolve();
    const cutStream = () => {
      if (cut) return;
      cut = true;
      up.cancel();
      down.emit('error', { code: grpc.status.UNAVAILABLE, details: 'the test proxy cut the watch stream' });
    };
    down.on('data', (request) => {
      // In order, each create request after the interceptor is done with it.
      queue = queue.then(async () => {
        const create = request.create_request as WatchCreate | undefined;
        if (create && stream > 0) await interceptor.beforeCreate?.(create, stream);
        if (!cut) up.write(request);
      });
    });
    down.on('end', () => void queue.then(() => up.end()));
    down.on('error', () => up.cancel());
    down.on('cancelled', () => up.cancel());
    up.on('data', (response: WatchResponse) => {
      if (cut) return;
      const verdict = stream > 0 ? (interceptor.response?.(response, stream) ?? 'forward') : 'forward';
      if (verdict === 'drop') return;
      down.write(response);
      if (verdict === 'forward-then-cut') cutStream();
    });
    up.on('error', (error: grpc.ServiceError) => {
      if (cut) return;
      cut = true;
      down.emit('error', { code: error.code ?? grpc.status.UNAVAILABLE, details: error.details ?? error.message });
    });
    up.on('end', () => {
      if (!cut) down.end();
    });
  }

  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  return {
    endpoint: `http://127.0.0.1:${port}`,
    get watchStreams() {
      return watchStreams;
    },
    async stop() {
      server.forceShutdown(); // watch streams never finish by themselves
      for (const client of clients) client.close();
    },
  };
}
