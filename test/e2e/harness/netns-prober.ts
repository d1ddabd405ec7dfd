import { type ChildProcess, execFile, spawn } from 'child_process';
import type { CommandRunner } from '../../../src/host/exec';
import { CommandFailedError } from '../../../src/host/exec';

/**
 * Real packets between network namespaces this test process created: a runner that executes host
 * tools inside one namespace (so the agent's appliers program that namespace's iptables, ipsets and
 * routes, never the machine's own), and a small Node program per namespace that answers tcp and udp
 * on the ports it is given and sends probes when asked (ping through busybox for ICMP: Node has no
 * raw sockets). A probe's verdict is whether an answer came back within its timeout.
 */

export function run(file: string, args: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, [...args], { maxBuffer: 64 << 20, env: { ...process.env, LC_ALL: 'C' } }, (error, stdout, stderr) => {
      if (error) reject(new CommandFailedError(`${file} ${args.join(' ')}`.slice(0, 300), stderr || error.message, typeof error.code === 'number' ? error.code : null));
      else resolve(stdout);
    });
    child.stdin?.on('error', () => undefined);
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** Runs every command inside the named network namespace. */
export function netnsRunner(ns: string): CommandRunner {
  return { run: (file, args, input) => run('ip', ['netns', 'exec', ns, file, ...args], input) };
}

export interface Probe {
  readonly id: number;
  readonly protocol: 'tcp' | 'udp' | 'icmp';
  readonly family: 4 | 6;
  readonly src: string;
  readonly dst: string;
  /** tcp/udp only: fixed, so that a probe is the same packet every time. */
  readonly srcPort?: number;
  readonly dstPort?: number;
}

/**
 * The program each namespace runs: listens on the given ports (tcp accepts, udp echoes), then reads
 * one JSON line of probes and their timeout from stdin and prints one JSON line of results.
 * Sockets bind SO_REUSEADDR (libuv does for tcp; udp asks for it) and udp ones are connected, so
 * several probes from one source port to different destinations run at once and each answer
 * reaches its own socket.
 */
const PROGRAM = String.raw`
const net = require('net'), dgram = require('dgram'), { execFile } = require('child_process');
const ports = JSON.parse(process.argv[1]);
let pending = ports.length * 2;
const ready = () => { if (--pending === 0) process.stdout.write('ready\n'); };
for (const port of ports) {
  net.createServer((s) => { s.on('error', () => {}); s.end(); }).listen({ port, host: '::', ipv6Only: false }, ready);
  const u = dgram.createSocket({ type: 'udp6', ipv6Only: false });
  u.on('message', (m, r) => u.send(m, r.port, r.address));
  u.bind(port, '::', ready);
}
function probe(p, timeout) {
  return new Promise((resolve) => {
    let done = false;
    const finish = (ok, extra) => { if (!done) { done = true; clearTimeout(timer); resolve({ id: p.id, ok, extra }); } };
    const timer = setTimeout(() => { finish(false, 'timeout'); cleanup(); }, timeout);
    let cleanup = () => {};
    if (p.protocol === 'tcp') {
      const s = net.connect({ host: p.dst, port: p.dstPort, localAddress: p.src, localPort: p.srcPort });
      cleanup = () => s.destroy();
      s.on('connect', () => { finish(true); s.destroy(); });
      s.on('error', (e) => finish(false, e.code));
    } else if (p.protocol === 'udp') {
      const u = dgram.createSocket({ type: p.family === 6 ? 'udp6' : 'udp4', reuseAddr: true });
      cleanup = () => { try { u.close(); } catch {} };
      u.on('error', (e) => { finish(false, e.code); cleanup(); });
      u.on('message', () => { finish(true); cleanup(); });
      u.bind(p.srcPort, p.src, () => u.connect(p.dstPort, p.dst, (e) => { if (e) { finish(false, e.code); cleanup(); } else u.send('probe ' + p.id); }));
    } else {
      const args = [p.family === 6 ? 'ping6' : 'ping', '-c', '1', '-W', String(Math.ceil(timeout / 1000)), '-I', p.src, p.dst];
      const child = execFile('busybox', args, (e) => finish(!e, e ? 'no reply' : undefined));
      cleanup = () => child.kill();
    }
  });
}
let input = '';
process.stdin.on('data', (d) => {
  input += d;
  const nl = input.indexOf('\n');
  if (nl < 0) return;
  const { probes, timeout } = JSON.parse(input.slice(0, nl));
  input = input.slice(nl + 1);
  Promise.all(probes.map((p) => probe(p, timeout))).then((r) => process.stdout.write(JSON.stringify(r) + '\n'));
});
`;

export interface ProbeResult {
  readonly id: number;
  readonly ok: boolean;
  readonly extra?: string;
}

/** One namespace's listener and prober. */
export class NetnsProber {
  private readonly child: ChildProcess;
  private buffer = '';
  private readonly waiters: ((line: string) => void)[] = [];
  private exited: string | undefined;

  constructor(
    readonly ns: string,
    ports: readonly number[],
  ) {
    this.child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', PROGRAM, JSON.stringify(ports)], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    this.child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    this.child.stdout!.on('data', (d: Buffer) => {
      this.buffer += d.toString();
      for (let nl = this.buffer.indexOf('\n'); nl >= 0; nl = this.buffer.indexOf('\n')) {
        const line = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 1);
        this.waiters.shift()?.(line);
      }
    });
    this.child.on('exit', (code) => {
      this.exited = `the prober in ${ns} exited (${code}): ${stderr.trim()}`;
      for (const waiter of this.waiters.splice(0)) waiter('');
    });
  }

  private nextLine(): Promise<string> {
    if (this.exited) return Promise.reject(new Error(this.exited));
    return new Promise((resolve, reject) => this.waiters.push((line) => (line === '' && this.exited ? reject(new Error(this.exited)) : resolve(line))));
  }

  async ready(): Promise<void> {
    const line = await this.nextLine();
    if (line !== 'ready') throw new Error(`the prober in ${this.ns} said ${line}`);
  }

  async probe(probes: readonly Probe[], timeoutMs: number): Promise<ProbeResult[]> {
    if (probes.length === 0) return [];
    const answer = this.nextLine();
    this.child.stdin!.write(`${JSON.stringify({ probes, timeout: timeoutMs })}\n`);
    return JSON.parse(await answer) as ProbeResult[];
  }

  /** Ends the process by its own id and waits for it. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGKILL');
    await exited;
  }
}
