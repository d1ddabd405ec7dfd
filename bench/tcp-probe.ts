import * as net from 'net';

/**
 * A TCP load generator for bench/multihost.ts, run inside a container's network namespace
 * (`nsenter -t <container pid> -n node tcp-probe.js ...`), because busybox's nc copies 1 KiB at a
 * time and would measure itself rather than the path between the hosts.
 *
 *   server PORT                     serves both tests below until killed
 *   stream IP PORT SECONDS          sends zeros for SECONDS; prints `<bytes> <seconds>`, timed from
 *                                   the connection to the server's count of what it received
 *   rr IP PORT SECONDS              sequential 64-byte request/response round trips on one
 *                                   connection for SECONDS, after a second of uncounted ones;
 *                                   prints the round-trip times in microseconds
 *
 * The first byte of a connection says which test it is: 's' (stream) or 'r' (request/response).
 * Every connection ends by itself: the client closes, or the server answers the stream's end.
 */

const MESSAGE = 64;
/**
 * Round trips made for this long first are not counted. The process has just started: for
 * about half a second V8 compiles this code on background threads and collects the start-up's
 * garbage, and on two cores those threads take the core the server or the kernel's softirq
 * needs. A round trip then takes 1-5 ms instead of 60 µs, and 5,000 counted round trips that
 * began with 200 uncounted ones (about 10 ms) had most of their 50 slowest there: the p99 measured
 * the client's start, and swung either way from one round to the next.
 */
const WARMUP_NS = 1_000_000_000n;

function serve(port: number): void {
  const server = net.createServer((socket) => {
    let mode: string | undefined;
    let received = 0;
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      if (mode === undefined) {
        mode = String.fromCharCode(chunk[0] as number);
        chunk = chunk.subarray(1);
      }
      if (mode === 's') {
        received += chunk.length;
        return;
      }
      // Echo each whole request as its response; one whole request (the usual case) as it came.
      if (pending.length === 0 && chunk.length === MESSAGE) {
        socket.write(chunk);
        return;
      }
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= MESSAGE) {
        socket.write(pending.subarray(0, MESSAGE));
        pending = pending.subarray(MESSAGE);
      }
    });
    socket.on('end', () => {
      if (mode === 's') socket.end(`${received}\n`);
      else socket.end();
    });
    socket.on('error', () => socket.destroy());
  });
  server.listen(port, () => process.stdout.write('listening\n'));
}

function connect(ip: string, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: ip, port, noDelay: true }, () => resolve(socket));
    socket.once('error', reject);
  });
}

async function stream(ip: string, port: number, seconds: number): Promise<void> {
  const socket = await connect(ip, port);
  const started = process.hrtime.bigint();
  const chunk = Buffer.alloc(1 << 20);
  let reply = '';
  const done = new Promise<void>((resolve, reject) => {
    socket.on('data', (data: Buffer) => (reply += data.toString()));
    socket.on('end', resolve);
    socket.on('error', reject);
  });
  socket.write('s');
  const until = started + BigInt(Math.round(seconds * 1e9));
  while (process.hrtime.bigint() < until) {
    if (!socket.write(chunk)) await new Promise((resolve) => socket.once('drain', resolve));
  }
  socket.end();
  await done;
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  process.stdout.write(`${reply.trim()} ${elapsed.toFixed(6)}\n`);
}

async function rr(ip: string, port: number, seconds: number): Promise<void> {
  const socket = await connect(ip, port);
  socket.write('r');
  const request = Buffer.alloc(MESSAGE, 0x61);
  const counting = process.hrtime.bigint() + WARMUP_NS;
  const until = counting + BigInt(Math.round(seconds * 1e9));
  const times: number[] = [];
  let got = 0;
  let sentAt = 0n;
  await new Promise<void>((resolve, reject) => {
    const send = () => {
      sentAt = process.hrtime.bigint();
      socket.write(request);
    };
    socket.on('data', (data: Buffer) => {
      got += data.length;
      while (got >= MESSAGE) {
        got -= MESSAGE;
        const at = process.hrtime.bigint();
        if (sentAt >= counting) times.push(Number(at - sentAt) / 1000);
        if (at >= until) {
          socket.end();
          resolve();
          return;
        }
        send();
      }
    });
    socket.on('error', reject);
    send();
  });
  process.stdout.write(`${times.map((t) => t.toFixed(1)).join(' ')}\n`);
}

async function main(argv: readonly string[]): Promise<void> {
  const [mode, a, b, c] = argv;
  if (mode === 'server') return serve(Number(a));
  if (mode === 'stream') return stream(a as string, Number(b), Number(c));
  if (mode === 'rr') return rr(a as string, Number(b), Number(c));
  throw new Error('usage: tcp-probe server PORT | stream IP PORT SECONDS | rr IP PORT SECONDS');
}

main(process.argv.slice(2)).catch((error: Error) => {
  process.stderr.write(`tcp-probe: ${error.message}\n`);
  process.exitCode = 1;
});
