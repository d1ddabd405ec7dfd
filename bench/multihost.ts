import { type ChildProcess, type ChildProcessWithoutNullStreams, execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { CALICO_NODE } from '../test/e2e/harness/agent';
import { importBusybox, Lab, LAB_ETCD_ENV, type LabHost, waitUntil } from '../test/e2e/harness/lab';
import { percentile } from './timing';

/**
 * Calico across a simulated cluster (test/e2e/harness/lab.ts), every dockerd on the lab's etcd as
 * its cluster store:
 * - BGP: time from starting every agent at once to every host having all its mesh sessions up;
 * - memory per host (dockerd, containerd, calico-node, BIRD), idle;
 * - time from `docker run` returning on host 1 to the first ping reply from a container on the
 *   last host, for an address in host 1's block and for a borrowed one (`--ip` outside every
 *   block, announced as a /32), with when the route appeared on host 1 and on the last host;
 * - on hosts 1 and 2, in the same run, Calico's plain routing against Docker's overlay driver
 *   (VXLAN): time to reachable (from `docker run` starting, the address chosen in advance), TCP
 *   throughput and request latency, and their ratios, in turns that alternate which goes first.
 * Prints figures; fails only if something does not work. HOSTS=N (default 16), RUNS=N containers
 * per reachability figure (default 20), ROUNDS=N throughput/latency rounds (default 5).
 */

const HOSTS = Number(process.env.HOSTS ?? 16);
const RUNS = Number(process.env.RUNS ?? 20);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const BIRDC = ['birdc', '-s', '/run/calico/bird.ctl', 'show', 'protocols'];
const POOL = '192.168.0.0/16';
const OVERLAY_SUBNET = '10.210.0.0/16';
const PROBE = path.join(__dirname, 'tcp-probe.js');
const PROBE_PORT = 5001;
/**
 * Request/response has a server process of its own: one that has just taken gigabytes of a
 * stream carries their garbage into the round trips that follow, and the faster path's stream
 * leaves more of it, so the p99 measured the server's collector rather than the path.
 */
const RR_PORT = 5002;

const now = () => Number(process.hrtime.bigint()) / 1e6;
const ms = (v: number) => (Number.isNaN(v) ? '-' : Math.abs(v) >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(0)} ms`);
const line = (s: string) => process.stdout.write(`${s}\n`);
const median = (xs: readonly number[]) => percentile(xs, 50);

type Result = { code: number; stdout: string; stderr: string };

async function must(what: string, p: Promise<Result>): Promise<string> {
  const r = await p;
  if (r.code !== 0) throw new Error(`${what} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout.trim();
}

/** Runs `f` over items with at most `n` at a time (2 cores start 16 dockerds badly all at once). */
async function limited<T>(items: readonly T[], n: number, f: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(Array.from({ length: n }, async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await f(item);
  }));
}

function nsPids(host: LabHost): string[] {
  return execFileSync('ip', ['netns', 'pids', host.ns]).toString().split(/\s+/).filter(Boolean);
}

/** KiB from a /proc file's `<field>: N kB` line, summed over processes; 0 for those gone. */
function sumKiB(pids: readonly string[], file: string, field: string): number {
  let total = 0;
  for (const pid of pids) {
    try {
      const m = new RegExp(`${field}:\\s+(\\d+)`).exec(fs.readFileSync(`/proc/${pid}/${file}`, 'utf8'));
      total += m ? Number(m[1]) : 0;
    } catch {
      // Gone meanwhile.
    }
  }
  return total;
}

/**
 * When each Established session of `birdc show protocols` came up (its `since` column, the host's
 * local time of day), in ms after `start` (a wall-clock time).
 */
function sessionsUpAt(protocols: string, start: number): number[] {
  const day = new Date(start);
  return [...protocols.matchAll(/^\S+\s+BGP\s+\S+\s+up\s+(\d\d):(\d\d):(\d\d)\s+Established/gm)].map((m) => {
    let at = new Date(day.getFullYear(), day.getMonth(), day.getDate(), Number(m[1]), Number(m[2]), Number(m[3])).getTime();
    if (at < start - 12 * 3600_000) at += 24 * 3600_000; // past midnight
    return at - start;
  });
}

const memAvailableKiB = () => Number(/MemAvailable:\s+(\d+)/.exec(fs.readFileSync('/proc/meminfo', 'utf8'))?.[1]);

/** Reads a child's stdout line by line, each stamped with when it arrived here. */
function onLines(child: ChildProcess, f: (text: string, at: number) => void): void {
  let buffer = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    const at = now();
    buffer += chunk.toString();
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      f(buffer.slice(0, nl), at);
      buffer = buffer.slice(nl + 1);
    }
  });
}

/**
 * One long-running shell in a container, fed addresses on stdin. For each it pings every 10 ms
 * (one ping with `-c 1 -w 2` would wait up to 2 s after a lost first packet, which is what this
 * measures) and prints "ok <ip>" at the first reply. Times are taken when the line arrives here.
 */
class Pinger {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly waiting = new Map<string, (t: number) => void>();

  constructor(host: LabHost, container: string) {
    const script = 'while read ip; do ping -i 0.01 -w 30 "$ip" 2>/dev/null | while read -r l; do case "$l" in *"bytes from"*) echo "ok $ip"; break;; esac; done; done';
    this.child = spawn('docker', ['-H', `unix://${host.dockerSock}`, 'exec', '-i', container, 'sh', '-c', script]);
    onLines(this.child, (text, at) => {
      const ip = text.split(' ')[1] ?? '';
      this.waiting.get(ip)?.(at);
      this.waiting.delete(ip);
    });
  }

  reach(ip: string, timeoutMs = 35_000): Promise<number> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ping reply from ${ip} within ${timeoutMs / 1000} s`)), timeoutMs);
      this.waiting.set(ip, (t) => {
        clearTimeout(timer);
        resolve(t);
      });
      this.child.stdin.write(`${ip}\n`);
    });
  }

  close(): void {
    this.child.stdin.end();
    this.child.kill();
  }
}

/** `ip monitor route` in a host: when a /32 route to an address first appeared there. */
class RouteWatch {
  private readonly child: ChildProcess;
  private readonly seen = new Map<string, number>();

  constructor(host: LabHost) {
    const [file, ...args] = host.inside('ip', '-4', 'monitor', 'route');
    this.child = spawn(file as string, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    onLines(this.child, (text, at) => {
      const m = /^(\d+\.\d+\.\d+\.\d+) /.exec(text);
      if (m && !this.seen.has(m[1] as string)) this.seen.set(m[1] as string, at);
    });
  }

  at(ip: string): number | undefined {
    return this.seen.get(ip);
  }

  close(): void {
    this.child.kill();
  }
}

interface Sample {
  readonly reply: number;
  /** From `docker run` returning to the route to the address appearing on the sender's host. */
  readonly local?: number;
  /** Likewise on the pinger's host. */
  readonly remote?: number;
  /** The time `docker inspect` took to tell the address (included in `reply`). */
  readonly inspect?: number;
  /** How long `docker run -d` itself took. */
  readonly run: number;
}

/** Addresses in the /26 block holding `ip` (the default IPv4 block size): offset → address. */
function blockOf(ip: string): (offset: number) => string {
  const octets = ip.split('.').map(Number) as [number, number, number, number];
  const base = octets[3] & ~63;
  return (offset) => `${octets[0]}.${octets[1]}.${octets[2]}.${base + (offset % 64)}`;
}

const inspectIp = (host: LabHost, network: string, name: string) =>
  must('docker inspect', host.docker('inspect', '-f', `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`, name));

/**
 * `docker run -d` on `from`, then the time from its return to the first reply at the pinger.
 * With `ips`, container i is given ips[i] (`--ip`) and the pinger starts before `docker run`;
 * otherwise the address is read with `docker inspect` after `docker run` returns, which the
 * figure includes (and reports on its own).
 */
async function reachability(from: LabHost, image: string, network: string, pinger: Pinger, tag: string, watch?: { local: RouteWatch; remote: RouteWatch }, ips?: readonly string[]): Promise<Sample[]> {
  const samples: Sample[] = [];
  for (let i = 0; i < RUNS; i++) {
    const name = `${tag}${i}`;
    const chosen = ips?.[i];
    let replied = chosen ? pinger.reach(chosen) : undefined;
    const started = now();
    await must(`docker run ${name}`, from.docker('run', '-d', '--net', network, ...(chosen ? ['--ip', chosen] : []), '--name', name, image, 'sleep', '3600'));
    const returned = now();
    let ip = chosen;
    let inspect: number | undefined;
    if (!ip) {
      ip = await inspectIp(from, network, name);
      inspect = now() - returned;
      replied = pinger.reach(ip);
    }
    const reply = (await (replied as Promise<number>)) - returned;
    const since = (t: number | undefined) => (t === undefined ? undefined : t - returned);
    samples.push({ reply, local: since(watch?.local.at(ip)), remote: since(watch?.remote.at(ip)), inspect, run: returned - started });
  }
  await from.docker('rm', '-f', ...Array.from({ length: RUNS }, (_, i) => `${tag}${i}`));
  return samples;
}

const present = (xs: readonly (number | undefined)[]) => xs.filter((x): x is number => x !== undefined);

function printReach(label: string, samples: readonly Sample[], target: boolean): void {
  const replies = samples.map((s) => s.reply);
  const p50 = median(replies);
  const p99 = percentile(replies, 99);
  const verdict = target ? `   ${p50 <= 500 ? 'PASS' : 'FAIL'} p50 ≤ 0.5 s, ${p99 <= 2000 ? 'PASS' : 'FAIL'} p99 ≤ 2 s` : '';
  line(`  ${label.padEnd(46)} p50 ${ms(p50).padStart(7)}  p99 ${ms(p99).padStart(7)}  (n=${samples.length})${verdict}`);
  const parts = [`docker run itself p50 ${ms(median(samples.map((s) => s.run)))}`];
  const local = present(samples.map((s) => s.local));
  const remote = present(samples.map((s) => s.remote));
  const inspect = present(samples.map((s) => s.inspect));
  // Negative: before `docker run` returned (the plugin's Join programs the route before the
  // container starts).
  if (local.length) parts.push(`route on the sender's host p50 ${ms(median(local))}`);
  if (remote.length) parts.push(`/32 learned by the pinger's host p50 ${ms(median(remote))} (n=${remote.length})`);
  if (inspect.length) parts.push(`of which docker inspect p50 ${ms(median(inspect))}`);
  line(`  ${''.padEnd(46)} ${parts.join('; ')}`);
}

/** Runs tcp-probe in a container's network namespace (see bench/tcp-probe.ts for why). */
async function probe(host: LabHost, container: string, args: readonly string[]): Promise<string> {
  const pid = await must('container pid', host.docker('inspect', '-f', '{{.State.Pid}}', container));
  const argv = ['-t', pid, '-n', process.execPath, PROBE, ...args];
  return new Promise((resolve, reject) => {
    const child = spawn('nsenter', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    // Every probe ends by itself (bench/tcp-probe.ts); this only bounds a broken path.
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out.trim());
      else reject(new Error(`tcp-probe ${args.join(' ')}: exit ${code}: ${err.trim()}`));
    });
  });
}

/** A tcp-probe server in a container, left running until the lab goes. */
async function startProbeServer(host: LabHost, container: string, port: number): Promise<ChildProcess> {
  const pid = await must('container pid', host.docker('inspect', '-f', '{{.State.Pid}}', container));
  const child = spawn('nsenter', ['-t', pid, '-n', process.execPath, PROBE, 'server', String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  servers.push(child);
  await new Promise<void>((resolve, reject) => {
    onLines(child, (text) => text === 'listening' && resolve());
    child.once('exit', (code) => reject(new Error(`tcp-probe server exited (${code})`)));
  });
  return child;
}
const servers: ChildProcess[] = [];

interface Path {
  readonly network: string;
  readonly label: string;
  readonly reach: Sample[];
  readonly client: string;
  readonly server: string;
  readonly serverIp: string;
}

/** Host 1 -> host 2 on one network: time to reachable, then a client and a probe server. */
async function preparePath(lab: Lab, image: string, network: string, label: string, tag: string, ips: readonly string[]): Promise<Path> {
  const [h1, h2] = lab.hosts as [LabHost, LabHost];
  await must('pinger', h2.docker('run', '-d', '--net', network, '--name', `${tag}pinger`, image, 'sleep', '3600'));
  const pinger = new Pinger(h2, `${tag}pinger`);
  const reach = await reachability(h1, image, network, pinger, `${tag}r`, undefined, ips);
  pinger.close();
  const server = `${tag}srv`;
  const client = `${tag}cli`;
  await must('server', h2.docker('run', '-d', '--net', network, '--name', server, image, 'sleep', '3600'));
  await must('client', h1.docker('run', '-d', '--net', network, '--name', client, image, 'sleep', '3600'));
  const serverIp = await inspectIp(h2, network, server);
  await waitUntil(`${label} client reaches the server`, async () => (await h1.docker('exec', client, 'ping', '-c', '1', '-W', '1', serverIp)).code === 0, 30_000);
  await startProbeServer(h2, server, PROBE_PORT);
  await startProbeServer(h2, server, RR_PORT);
  return { network, label, reach, client, server, serverIp };
}

interface PathFigures {
  mbps: number[];
  rrP50: number[];
  rrP99: number[];
  /** Every round's round trips together: a p99 over all of them rests on more than one round's 1%. */
  rtts: number[];
  pingMs: number[];
}

async function measurePath(h1: LabHost, p: Path, figures: PathFigures): Promise<void> {
  const [bytes, secs] = (await probe(h1, p.client, ['stream', p.serverIp, String(PROBE_PORT), '3'])).split(' ').map(Number) as [number, number];
  figures.mbps.push((bytes * 8) / secs / 1e6);
  // 2 s of round trips, some 30,000 here, counted after the probe's own warm-up (bench/tcp-probe.ts).
  const rtts = (await probe(h1, p.client, ['rr', p.serverIp, String(RR_PORT), '2'])).split(' ').map(Number);
  figures.rrP50.push(median(rtts));
  figures.rrP99.push(percentile(rtts, 99));
  for (const t of rtts) figures.rtts.push(t);
  const out = await must('ping rtt', h1.docker('exec', p.client, 'ping', '-q', '-c', '50', '-i', '0.02', p.serverIp));
  const m = /= [\d.]+\/([\d.]+)\//.exec(out);
  if (!m) throw new Error(`no ping summary in ${out}`);
  figures.pingMs.push(Number(m[1]));
}

async function main(lab: Lab, t0: number, memBefore: number): Promise<void> {
  await limited(lab.hosts, 4, (host) => host.startDockerd());
  const image = await importBusybox(lab.hosts[0] as LabHost);
  await limited(lab.hosts.slice(1), 4, async (host) => {
    await importBusybox(host, image);
  });
  line(`  lab and ${HOSTS} dockerds up in ${ms(now() - t0)}`);

  // Every agent at once; the figure runs from their start to every host seeing HOSTS-1 sessions.
  const agentsStarted = now();
  const agentsWall = Date.now();
  for (const host of lab.hosts) host.spawn('calico-node', ['node', CALICO_NODE, '--hostname', host.name, `--ip=${host.ip}`], LAB_ETCD_ENV);
  const up = new Map<LabHost, number>();
  await waitUntil('every BGP session Established', async () => {
    await Promise.all(lab.hosts.filter((h) => !up.has(h)).map(async (host) => {
      const established = ((await host.exec(BIRDC)).stdout.match(/Established/g) ?? []).length;
      if (established === HOSTS - 1) up.set(host, now() - agentsStarted);
    }));
    return up.size === HOSTS;
  }, 300_000, 200).catch((error: Error) => {
    const h = lab.hosts.find((x) => !up.has(x));
    throw new Error(`${error.message}\n${h?.log('calico-node').split('\n').slice(-20).join('\n')}`);
  });
  const times = [...up.values()];
  line(`  BGP full mesh, ${(HOSTS * (HOSTS - 1)) / 2} sessions: all Established ${ms(Math.max(...times))} after every agent was started at once (first host ${ms(Math.min(...times))})`);
  // The figure above includes the poll (a birdc per host, on a busy machine); BIRD's own record of
  // when each session came up (whole seconds) does not.
  const since = await Promise.all(lab.hosts.map(async (host) => sessionsUpAt((await host.exec(BIRDC)).stdout, agentsWall)));
  const lastUp = Math.max(...since.flat());
  line(`  ${''.padEnd(46)} by BIRD's own clock (whole seconds): the last session came up ${ms(lastUp)} to ${ms(lastUp + 1000)} after the start`);
  await waitUntil('calico-node ready', async () => lab.hosts.every((h) => h.log('calico-node').includes('Calico node started successfully')), 60_000);
  // When each agent said it was up and when it last reloaded BIRD (its log's own timestamps): what
  // of the figure above is the agents starting on a busy machine, and what is BGP.
  const logged = (pattern: RegExp) => lab.hosts.map((h) => {
    const stamps = h.log('calico-node').split('\n').filter((l) => pattern.test(l)).map((l) => Date.parse(l.split(' ')[0] as string));
    return (stamps.length ? Math.max(...stamps) : NaN) - agentsWall;
  });
  line(`  ${''.padEnd(46)} last agent up ${ms(Math.max(...logged(/Calico node started successfully/)))}, last BIRD reload with the whole mesh ${ms(Math.max(...logged(/bird reloaded its configuration|Started bird /)))}`);

  await new Promise((r) => setTimeout(r, 2000));
  const rss = lab.hosts.map((h) => sumKiB(nsPids(h), 'status', 'VmRSS') / 1024);
  const pss = lab.hosts.map((h) => sumKiB(nsPids(h), 'smaps_rollup', 'Pss') / 1024);
  const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  line(`  memory per host, idle (dockerd, containerd, calico-node, BIRD): RSS mean ${mean(rss).toFixed(0)} MiB (max ${Math.max(...rss).toFixed(0)}), ` +
    `PSS mean ${mean(pss).toFixed(0)} MiB; the machine's available memory fell by ${((memBefore - memAvailableKiB()) / 1024 / HOSTS).toFixed(0)} MiB per host`);

  // One global network (the cluster store), with the pool as its subnet so that --ip may choose.
  const first = lab.hosts[0] as LabHost;
  const last = lab.hosts[HOSTS - 1] as LabHost;
  await must('calico network', first.docker('network', 'create', '--driver', 'calico', '--ipam-driver', 'calico', '--subnet', POOL, 'cnet'));
  await must('pinger', last.docker('run', '-d', '--net', 'cnet', '--name', 'pinger', image, 'sleep', '3600'));
  const pinger = new Pinger(last, 'pinger');
  const watch = { local: new RouteWatch(first), remote: new RouteWatch(last) };
  // A first container claims host 1's block (and BIRD's reload announces it); then the figures.
  const warmStarted = now();
  await must('first container', first.docker('run', '-d', '--net', 'cnet', '--name', 'warm', image, 'sleep', '3600'));
  const warmReturned = now();
  const warmReply = await pinger.reach(await inspectIp(first, 'cnet', 'warm'));
  const own = await reachability(first, image, 'cnet', pinger, 'own', watch);
  // Addresses in the pool far from any block a host holds (blocks are claimed from the bottom).
  const borrowedIps = Array.from({ length: RUNS }, (_, i) => `192.168.250.${10 + i}`);
  const borrowed = await reachability(first, image, 'cnet', pinger, 'borrowed', watch, borrowedIps);
  pinger.close();
  watch.local.close();
  watch.remote.close();
  line(`  docker run -d on host 1 returns -> first ping reply from a container on host ${HOSTS} (negative: before it returned):`);
  line(`  ${'host 1\'s first container (claims a block)'.padEnd(46)} ${ms(warmReply - warmReturned)} (docker run itself ${ms(warmReturned - warmStarted)})`);
  printReach('address in host 1\'s block', own, true);
  printReach('borrowed address (--ip outside every block)', borrowed, true);

  if (HOSTS < 2) return;
  // Side by side on hosts 1 and 2: Calico against overlay, measured in turns.
  const [h1] = lab.hosts as [LabHost];
  // Addresses chosen in advance (--ip), so the pinger is already at work when `docker run` starts
  // and the figure is the driver's, not `docker inspect`'s (a CLI start, most of the figure above):
  // for Calico in host 1's own block (the one `warm` claimed), for the overlay in its subnet.
  const block = blockOf(await inspectIp(first, 'cnet', 'warm'));
  const calicoIps = Array.from({ length: RUNS }, (_, i) => block(32 + (i % 30)));
  const calico = await preparePath(lab, image, 'cnet', 'Calico', 'cal', calicoIps);
  await must('overlay network', first.docker('network', 'create', '-d', 'overlay', '--attachable', '--subnet', OVERLAY_SUBNET, 'ovl'));
  const overlay = await preparePath(lab, image, 'ovl', 'overlay', 'ovl', Array.from({ length: RUNS }, (_, i) => `10.210.100.${10 + (i % 200)}`));
  const figures = new Map<Path, PathFigures>([calico, overlay].map((p) => [p, { mbps: [], rrP50: [], rrP99: [], rtts: [], pingMs: [] }]));
  // Turns alternate (Calico first, then overlay first), so that neither always runs right after
  // the other's 3 s stream or in the same phase of the machine's background work.
  for (let round = 0; round < ROUNDS; round++) {
    for (const p of round % 2 === 0 ? [calico, overlay] : [overlay, calico]) await measurePath(h1, p, figures.get(p) as PathFigures);
  }
  const c = figures.get(calico) as PathFigures;
  const o = figures.get(overlay) as PathFigures;
  line(`  host 1 -> host 2, Calico (routed) vs Docker overlay (VXLAN), medians of ${ROUNDS} rounds:`);
  printReach('Calico: docker run -> reachable', calico.reach, false);
  printReach('overlay: docker run -> reachable', overlay.reach, false);
  // Each round's ratio, Calico against overlay measured right after it: the median of those and
  // their range say more on a shared machine than a ratio of two medians.
  const row = (label: string, cv: number[], ov: number[], unit: string, digits: number, higherBetter: boolean) => {
    const ratios = cv.map((x, i) => (higherBetter ? x / (ov[i] as number) : (ov[i] as number) / x));
    line(`  ${label.padEnd(46)} Calico ${median(cv).toFixed(digits)} ${unit}, overlay ${median(ov).toFixed(digits)} ${unit}: ` +
      `Calico ${median(ratios).toFixed(2)}x ${higherBetter ? 'the throughput' : 'faster'} (rounds ${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)})`);
  };
  row('TCP throughput (one stream, 3 s)', c.mbps, o.mbps, 'Mbit/s', 0, true);
  row('TCP request/response 64 B, p50', c.rrP50, o.rrP50, 'µs', 0, false);
  row('TCP request/response 64 B, p99', c.rrP99, o.rrP99, 'µs', 0, false);
  const pooled = (q: number) => [percentile(c.rtts, q), percentile(o.rtts, q)] as const;
  const [c50, o50] = pooled(50);
  const [c99, o99] = pooled(99);
  line(`  ${'  every round\'s round trips together'.padEnd(46)} Calico n=${c.rtts.length} p50 ${c50.toFixed(0)} µs p99 ${c99.toFixed(0)} µs, ` +
    `overlay n=${o.rtts.length} p50 ${o50.toFixed(0)} µs p99 ${o99.toFixed(0)} µs: Calico ${(o50 / c50).toFixed(2)}x and ${(o99 / c99).toFixed(2)}x faster`);
  row('ping RTT (mean of 50)', c.pingMs, o.pingMs, 'ms', 3, false);
  // From `docker run` starting, which includes each driver's own work (IPAM, endpoint, veth or
  // VXLAN) and is always positive; from its return, which may be negative (reachable before it returned).
  const rc = median(calico.reach.map((s) => s.run + s.reply));
  const ro = median(overlay.reach.map((s) => s.run + s.reply));
  const late = median(calico.reach.map((s) => s.reply)) - median(overlay.reach.map((s) => s.reply));
  line(`  ${'time to reachable from docker run, p50'.padEnd(46)} Calico ${ms(rc)}, overlay ${ms(ro)}: Calico ${(ro / Math.max(rc, 1)).toFixed(2)}x faster; ` +
    `after docker run returned Calico ${ms(Math.abs(late))} ${late <= 0 ? 'sooner' : 'later'}`);
}

async function run(): Promise<void> {
  const t0 = now();
  line(`Multi-host: ${HOSTS} lab hosts, ${RUNS} containers per reachability figure (${new Date().toISOString().slice(0, 10)}, load ${fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')})`);
  const memBefore = memAvailableKiB();
  const lab = await Lab.start({ hosts: HOSTS, clusterStore: true });
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      for (const s of servers) s.kill('SIGKILL');
      await lab.stop();
    })();
    return stopping;
  };
  // Ctrl-C, a kill, or an error nothing caught (output piped to `head` that has exited, say):
  // take the lab down (namespaces, dockerds, mounts) before going.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      process.stderr.write(`${signal}: removing the lab\n`);
      void stop().then(() => process.exit(130));
    });
  }
  process.stdout.on('error', () => undefined);
  process.on('uncaughtException', (error) => {
    process.stderr.write(`${error.stack ?? String(error)}\nremoving the lab\n`);
    void stop().then(() => process.exit(1));
  });
  let failed = false;
  try {
    await main(lab, t0, memBefore);
  } catch (error) {
    failed = true;
    process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  } finally {
    await stop();
  }
  line(`  total ${ms(now() - t0)} (load at the end ${fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')})`);
  process.exit(failed ? 1 : 0);
}

void run();
