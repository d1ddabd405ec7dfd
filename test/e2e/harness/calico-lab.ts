import { execFileSync } from 'child_process';
import { readFileSync } from 'fs';
import { CALICO_NODE } from './agent';
import { importBusybox, Lab, LAB_ETCD_ENV, type LabHost, waitUntil } from './lab';

/**
 * A lab (lab.ts) with Calico running on every host: dockerd, the busybox image and calico-node
 * with BIRD (and bird6) on the host's --ip and --ip6, all hosts started in parallel. Plus the
 * probes the multi-host tests share: BIRD's sessions and routes, a container's address, and
 * bounded TCP and ICMP attempts between the lab's own containers.
 */

export const IMAGE = 'lab/busybox:1';
/** Servers every tutorial container runs: 3306 stands for MySQL, 8080 for any other port. */
export const SERVERS = 'httpd -p 3306 -h /www && httpd -p 8080 -h /www && exec sleep 86400';

/** The CGI script that answers with the caller's address, as busybox httpd gives it (REMOTE_ADDR). */
export const SOURCE_CGI = '#!/bin/sh\necho Content-Type: text/plain\necho\necho "from $REMOTE_ADDR"\n';
/**
 * A container command that serves SOURCE_CGI on port 8000 (IPv4, so addresses are not shown
 * IPv4-mapped), to show which source address arrived. Shell builtins and the image's applets only.
 */
export const SERVE_SOURCE = `mkdir -p /tmp/w/cgi-bin && printf '${SOURCE_CGI.replace(/\n/g, '\\n')}' > /tmp/w/cgi-bin/ip && busybox chmod +x /tmp/w/cgi-bin/ip && httpd -p 0.0.0.0:8000 -h /tmp/w && exec sleep 86400`;

/**
 * The source address a SOURCE_CGI listener saw from a container, tried a few times until it is
 * `expected` (a rule or set just written may take a moment to reach the kernel); the last answer
 * otherwise, or undefined when no connection completed.
 */
export async function sourceSeen(host: LabHost, container: string, ip: string, port: number, expected?: string): Promise<string | undefined> {
  let seen: string | undefined;
  for (let i = 0; i < 20; i++) {
    const r = await host.docker('exec', container, 'sh', '-c', `printf 'GET /cgi-bin/ip HTTP/1.0\\r\\n\\r\\n' | nc -w 2 ${ip} ${port}`);
    seen = /^from (\S+)/m.exec(r.stdout)?.[1];
    if (seen !== undefined && (expected === undefined || seen === expected)) return seen;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return seen;
}

/** Starts calico-node on a host and waits for it to say so (again, after a restart). */
export async function startNode(host: LabHost, extra: readonly string[] = []): Promise<void> {
  const before = host.log('calico-node').split('Calico node started successfully').length;
  host.spawn('calico-node', ['node', CALICO_NODE, '--hostname', host.name, `--ip=${host.ip}`, `--ip6=${host.ip6}`, '--log-level', 'debug', ...extra], LAB_ETCD_ENV);
  await waitUntil(`calico-node on ${host.name}`, async () => host.log('calico-node').split('Calico node started successfully').length > before, 60_000).catch((error: Error) => {
    throw new Error(`${error.message}\n${host.log('calico-node').split('\n').slice(-40).join('\n')}`);
  });
}

/** A lab of `hosts` hosts, each with its engine, the busybox image and calico-node, meshed over BGP. */
export async function startCalicoLab(options: { hosts: number; clusterStore?: boolean; subnets?: 1 | 2 }): Promise<Lab> {
  const lab = await Lab.start(options);
  try {
    await Promise.all(lab.hosts.map((host) => host.startDockerd()));
    // The first import builds the image's tar; the others reuse it.
    await importBusybox(lab.hosts[0]!, IMAGE);
    await Promise.all(lab.hosts.slice(1).map((host) => importBusybox(host, IMAGE)));
    await Promise.all(lab.hosts.map((host) => startNode(host)));
    for (const host of lab.hosts) await waitForMesh(host, 4);
  } catch (error) {
    await lab.stop();
    throw error;
  }
  return lab;
}

/** `birdc` (family 4) or `birdc6` (family 6) against a host's BIRD. */
export async function birdc(host: LabHost, family: 4 | 6, ...command: string[]): Promise<string> {
  const [client, socket] = family === 4 ? ['birdc', '/run/calico/bird.ctl'] : ['birdc6', '/run/calico/bird6.ctl'];
  return (await host.exec([client, '-s', socket, ...command])).stdout;
}

/** The BIRD daemons (bird, bird6) running in a host, by name (pidof would see every host's: the lab shares one pid namespace). */
export function birdDaemons(host: LabHost): string[] {
  const names: string[] = [];
  for (const pid of execFileSync('ip', ['netns', 'pids', host.ns], { encoding: 'utf8' }).split(/\s+/).filter(Boolean)) {
    try {
      const name = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      if (name === 'bird' || name === 'bird6') names.push(name);
    } catch {
      // Gone meanwhile.
    }
  }
  return names.sort();
}

/** How many of a host's BGP sessions of one family are Established. */
export async function established(host: LabHost, family: 4 | 6): Promise<number> {
  return ((await birdc(host, family, 'show', 'protocols')).match(/Established/g) ?? []).length;
}

/** Waits until a host has a session with every other host of the lab, for one family. */
export async function waitForMesh(host: LabHost, family: 4 | 6): Promise<void> {
  const others = host.lab.hosts.length - 1;
  await waitUntil(`${host.name}'s IPv${family} BGP sessions`, async () => (await established(host, family)) === others, 30_000).catch(async (error: Error) => {
    throw new Error(`${error.message}\n${await birdc(host, family, 'show', 'protocols')}`);
  });
}

export async function routes(host: LabHost, family: 4 | 6 = 4): Promise<string> {
  return (await host.exec(['ip', `-${family}`, 'route'])).stdout;
}

/** Runs a detached container on a host's engine; fails the test with Docker's and the agent's words. */
export async function runContainer(host: LabHost, name: string, network: string, command: readonly string[] = ['sleep', '86400']): Promise<void> {
  const result = await host.docker('run', '-d', '--init', '--net', network, '--name', name, IMAGE, ...command);
  if (result.code !== 0) throw new Error(`docker run ${name} on ${host.name}: ${result.stderr}\n${host.log('calico-node').split('\n').slice(-30).join('\n')}`);
}

/** A container's Calico address of one family, as its own interface holds it. */
export async function addressOf(host: LabHost, container: string, family: 4 | 6 = 4): Promise<string> {
  const out = (await host.docker('exec', container, 'ip', `-${family}`, '-o', 'addr', 'show', 'dev', 'cali0', 'scope', 'global')).stdout;
  const match = /inet6? ([0-9a-f.:]+)\//.exec(out);
  if (!match) throw new Error(`${container} on ${host.name} has no IPv${family} address on cali0: ${out}`);
  return match[1]!;
}

/** Whether an HTTP request from a container gets an answer: nc gives up connecting after 1 s. */
export async function tcpConnects(host: LabHost, container: string, ip: string, port: number): Promise<boolean> {
  const result = await host.docker('exec', container, 'sh', '-c', `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 1 ${ip} ${port}`);
  // busybox httpd answers 404 for the image's empty /www: any status line is a connection.
  return /^HTTP\/1\.[01] \d{3}/.test(result.stdout);
}

export async function pings(host: LabHost, container: string, ip: string): Promise<boolean> {
  const ping = ip.includes(':') ? 'ping6' : 'ping';
  return (await host.docker('exec', container, ping, '-c', '1', '-W', '1', ip)).code === 0;
}

/**
 * Tries a connection until it gets through, for a verdict that a change is about to bring about
 * (a new rule, a route being learned); false when it never did.
 */
export async function becomesReachable(attempt: () => Promise<boolean>, tries = 20): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if (await attempt()) return true;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return false;
}
