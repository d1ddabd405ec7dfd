import { ChildProcess, execFile, spawn } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as https from 'https';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import * as vm from 'vm';

export interface EtcdServer {
  endpoint: string;
  clientPort: number;
  dataDir: string;
  env: Record<string, string>;
  certs?: { ca: string; cert: string; key: string };
  auth?: { username: string; password: string };
  stop(): Promise<void>;
  kill(): Promise<void>;
  restart(): Promise<void>;
}

const ETCD_BIN = '/usr/bin/etcd';
const READY_TIMEOUT_MS = 15_000;

// Every etcd still running, so one exit hook can kill those a test forgot to stop. Inside jest the
// global `process` is a sandbox copy whose 'exit' never fires, and this module is loaded afresh for
// each test file; vm's runInThisContext evaluates in Node's main context and returns the real
// process, on which the registry is kept so that one hook serves every test file.
type Live = Map<ChildProcess, string>;
const REGISTRY = Symbol.for('calicoctl-test.etcd');
const realProcess = vm.runInThisContext('process') as NodeJS.Process & { [REGISTRY]?: Live };
function liveEtcds(): Live {
  let live = realProcess[REGISTRY];
  if (!live) {
    const registry: Live = (live = realProcess[REGISTRY] = new Map());
    realProcess.on('exit', () => {
      for (const [child, dir] of registry) {
        try { child.kill('SIGKILL'); } catch { /* already gone */ }
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
  return live;
}

// etcd and etcdctl read ETCD_* / ETCDCTL_* variables as flags, so an env meant for calicoctl
// (ETCD_CERT_FILE, ETCD_ENDPOINTS, ...) leaking into them would change or break their behaviour.
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('ETCD_') && !k.startsWith('ETCDCTL_')) env[k] = v;
  }
  return { ...env, ...extra };
}

function run(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { env: env ?? process.env, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${stderr || err.message}`));
      else resolve(stdout);
    });
  });
}

async function freePorts(n: number): Promise<number[]> {
  // All listeners stay open until every port is known, so the n ports are distinct.
  const servers = await Promise.all(Array.from({ length: n }, () => new Promise<net.Server>((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => resolve(s));
  })));
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

async function makeCerts(dir: string): Promise<{ ca: string; cert: string; key: string }> {
  fs.mkdirSync(dir, { recursive: true });
  const p = (f: string) => path.join(dir, f);
  // EC keys: much faster to generate than RSA, and Go's TLS stack accepts them.
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await run('openssl', ['req', '-x509', ...newKey, '-keyout', p('ca.key'), '-out', p('ca.crt'),
    '-days', '30', '-subj', '/CN=calicoctl-test-ca']);
  fs.writeFileSync(p('server.ext'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n');
  fs.writeFileSync(p('client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const [name, cn] of [['server', 'localhost'], ['client', 'calicoctl-test-client']]) {
    await run('openssl', ['req', ...newKey, '-keyout', p(`${name}.key`), '-out', p(`${name}.csr`), '-subj', `/CN=${cn}`]);
    await run('openssl', ['x509', '-req', '-in', p(`${name}.csr`), '-CA', p('ca.crt'), '-CAkey', p('ca.key'),
      '-CAcreateserial', '-days', '30', '-extfile', p(`${name}.ext`), '-out', p(`${name}.crt`)]);
  }
  return { ca: p('ca.crt'), cert: p('client.crt'), key: p('client.key') };
}

function logTail(file: string, lines = 30): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function healthy(endpoint: string, certs?: { ca: string; cert: string; key: string }): Promise<boolean> {
  return new Promise((resolve) => {
    const url = `${endpoint}/health`;
    const onRes = (res: http.IncomingMessage) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve(res.statusCode === 200 && /"health":\s*"true"/.test(body)));
    };
    const req = certs
      ? https.get(url, { ca: fs.readFileSync(certs.ca), cert: fs.readFileSync(certs.cert), key: fs.readFileSync(certs.key) }, onRes)
      : http.get(url, onRes);
    req.setTimeout(1000, () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

function waitExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Starts one etcd process, logging to `logFile`, registered for the exit hook under `dir`. */
function spawnEtcd(args: readonly string[], logFile: string, dir: string): ChildProcess {
  const live = liveEtcds();
  const fd = fs.openSync(logFile, 'a');
  const child = spawn(ETCD_BIN, [...args], { stdio: ['ignore', fd, fd], env: cleanEnv() });
  fs.closeSync(fd);
  // Unref'd so a forgotten etcd cannot keep jest from exiting; the exit hook then kills it.
  child.unref();
  live.set(child, dir);
  child.once('exit', () => live.delete(child));
  return child;
}

export async function startEtcd(opts: { tls?: boolean; auth?: { username: string; password: string } } = {}): Promise<EtcdServer> {
  const live = liveEtcds();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'calicoctl-etcd-'));
  const logFile = path.join(dataDir, 'etcd.log');
  try {
    const certs = opts.tls ? await makeCerts(path.join(dataDir, 'certs')) : undefined;
    const scheme = opts.tls ? 'https' : 'http';
    const [clientPort, peerPort] = await freePorts(2);
    const endpoint = `${scheme}://127.0.0.1:${clientPort}`;
    const peerUrl = `http://127.0.0.1:${peerPort}`;
    const args = [
      '--name', 'default', '--data-dir', path.join(dataDir, 'data'),
      '--listen-client-urls', endpoint, '--advertise-client-urls', endpoint,
      '--listen-peer-urls', peerUrl, '--initial-advertise-peer-urls', peerUrl,
      '--initial-cluster', `default=${peerUrl}`,
      // A lone member still waits one election timeout before leading after a restart; keep it short.
      '--heartbeat-interval', '25', '--election-timeout', '250',
    ];
    if (certs) {
      const dir = path.dirname(certs.ca);
      args.push('--cert-file', path.join(dir, 'server.crt'), '--key-file', path.join(dir, 'server.key'),
        '--trusted-ca-file', certs.ca, '--client-cert-auth');
    }

    let child: ChildProcess | undefined;
    const launch = async (): Promise<void> => {
      const c = (child = spawnEtcd(args, logFile, dataDir));
      const deadline = Date.now() + READY_TIMEOUT_MS;
      while (!(await healthy(endpoint, certs))) {
        if (c.exitCode !== null || c.signalCode !== null || Date.now() > deadline) {
          c.kill('SIGKILL');
          await waitExit(c);
          const why = c.exitCode !== null ? `exited with code ${c.exitCode}` : 'not ready after 15 s';
          throw new Error(`etcd ${why}; last lines of its log:\n${logTail(logFile)}`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await launch();

    const env: Record<string, string> = { ETCD_ENDPOINTS: endpoint };
    if (certs) Object.assign(env, { ETCD_CA_CERT_FILE: certs.ca, ETCD_CERT_FILE: certs.cert, ETCD_KEY_FILE: certs.key });
    let stopped = false;
    const halt = async (graceful: boolean): Promise<void> => {
      const c = child;
      if (!c) return;
      c.ref();
      c.kill(graceful ? 'SIGTERM' : 'SIGKILL');
      const t = setTimeout(() => c.kill('SIGKILL'), 5000);
      await waitExit(c);
      clearTimeout(t);
    };
    const server: EtcdServer = {
      endpoint, clientPort, dataDir, env, certs,
      async stop() {
        stopped = true;
        await halt(true);
        fs.rmSync(dataDir, { recursive: true, force: true });
      },
      kill: () => halt(false),
      async restart() {
        if (stopped) throw new Error('etcd was stopped and its data dir removed; start a new one');
        await halt(true);
        await launch();
      },
    };

    if (opts.auth) {
      const { username, password } = opts.auth;
      // etcd refuses `auth enable` unless a user named root exists and holds the root role.
      const users = username === 'root' ? ['root'] : ['root', username];
      await etcdctl(server, 'role', 'add', 'root');
      for (const u of users) {
        await etcdctl(server, 'user', 'add', u, `--new-user-password=${password}`);
        await etcdctl(server, 'user', 'grant-role', u, 'root');
      }
      await etcdctl(server, 'auth', 'enable');
      server.auth = { username, password };
      Object.assign(env, { ETCD_USERNAME: username, ETCD_PASSWORD: password });
    }
    return server;
  } catch (err) {
    for (const [c, dir] of live) if (dir === dataDir) c.kill('SIGKILL');
    fs.rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
}

export function etcdctl(server: EtcdServer, ...args: string[]): Promise<string> {
  const flags = [`--endpoints=${server.endpoint}`];
  if (server.certs) flags.push(`--cacert=${server.certs.ca}`, `--cert=${server.certs.cert}`, `--key=${server.certs.key}`);
  if (server.auth) flags.push(`--user=${server.auth.username}`, `--password=${server.auth.password}`);
  return run('etcdctl', [...flags, ...args], cleanEnv({ ETCDCTL_API: '3' }));
}

/** One member of a cluster: its own client endpoint, and a kill and restart that keep its data. */
export interface EtcdMember {
  readonly name: string;
  readonly endpoint: string;
  kill(): Promise<void>;
  restart(): Promise<void>;
  running(): boolean;
  /** Whether it answers /health: it has a leader, so its cluster has a quorum. */
  healthy(): Promise<boolean>;
}

export interface EtcdCluster {
  readonly members: readonly EtcdMember[];
  /** ETCD_ENDPOINTS listing every member, in order. */
  readonly env: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * A cluster of `size` members on loopback, each with its own data dir, started together (a member
 * waits for its peers before it serves). A killed member restarts from its data dir and rejoins;
 * while fewer than a majority run, the cluster has no leader and refuses every request.
 */
export async function startEtcdCluster(size = 3): Promise<EtcdCluster> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'calicoctl-etcd-cluster-'));
  const ports = await freePorts(2 * size);
  const names = Array.from({ length: size }, (_, i) => `m${i}`);
  const peerUrl = (i: number) => `http://127.0.0.1:${ports[2 * i + 1]}`;
  const clientUrl = (i: number) => `http://127.0.0.1:${ports[2 * i]}`;
  const initialCluster = names.map((name, i) => `${name}=${peerUrl(i)}`).join(',');
  const members = names.map((name, i) => {
    const dataDir = path.join(root, name);
    const logFile = path.join(root, `${name}.log`);
    const endpoint = clientUrl(i);
    const args = [
      '--name', name, '--data-dir', dataDir,
      '--listen-client-urls', endpoint, '--advertise-client-urls', endpoint,
      '--listen-peer-urls', peerUrl(i), '--initial-advertise-peer-urls', peerUrl(i),
      '--initial-cluster', initialCluster, '--initial-cluster-state', 'new', '--initial-cluster-token', path.basename(root),
      '--heartbeat-interval', '25', '--election-timeout', '250',
    ];
    let child: ChildProcess | undefined;
    const launch = async (): Promise<void> => {
      child = spawnEtcd(args, logFile, root);
    };
    const halt = async (signal: NodeJS.Signals): Promise<void> => {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      c.kill(signal);
      const t = setTimeout(() => c.kill('SIGKILL'), 5000);
      await waitExit(c);
      clearTimeout(t);
    };
    const running = () => child !== undefined && child.exitCode === null && child.signalCode === null;
    return { name, endpoint, logFile, launch, halt, running };
  });
  /** Every running member answers healthy (which needs a leader, so a quorum). */
  const ready = async (): Promise<void> => {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (const member of members.filter((m) => m.running())) {
      while (!(await healthy(member.endpoint))) {
        if (!member.running() || Date.now() > deadline) {
          throw new Error(`etcd member ${member.name} is not healthy; last lines of its log:\n${logTail(member.logFile)}`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };
  const stopAll = async () => {
    await Promise.all(members.map((m) => m.halt('SIGKILL')));
    fs.rmSync(root, { recursive: true, force: true });
  };
  try {
    await Promise.all(members.map((m) => m.launch()));
    await ready();
  } catch (error) {
    await stopAll();
    throw error;
  }
  return {
    members: members.map((m) => ({
      name: m.name,
      endpoint: m.endpoint,
      // When a majority is left, wait until it has a leader again: a write that reached the old
      // leader just before it died is lost with it, and its client waits out its whole timeout.
      kill: async () => {
        await m.halt('SIGKILL');
        if (members.filter((x) => x.running()).length > size / 2) await ready();
      },
      // Rejoining needs a quorum: with one member up, restarting a second gives the pair a leader.
      restart: async () => {
        await m.halt('SIGTERM');
        await m.launch();
        const quorum = members.filter((x) => x.running()).length > size / 2;
        if (quorum) await ready();
      },
      running: m.running,
      healthy: () => healthy(m.endpoint),
    })),
    env: { ETCD_ENDPOINTS: members.map((m) => m.endpoint).join(',') },
    stop: stopAll,
  };
}

/**
 * Certificates that must be refused, made beside a TLS server's own: a CA that did not sign the
 * server's certificate, and a client certificate from the right CA that expired in 2020.
 */
export async function makeBadCerts(server: EtcdServer): Promise<{ otherCa: string; expiredCert: string; expiredKey: string }> {
  if (!server.certs) throw new Error('makeBadCerts needs a server started with { tls: true }');
  const dir = path.dirname(server.certs.ca);
  const p = (f: string) => path.join(dir, f);
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await run('openssl', ['req', '-x509', ...newKey, '-keyout', p('other-ca.key'), '-out', p('other-ca.crt'), '-days', '30', '-subj', '/CN=another-ca']);
  await run('openssl', ['req', ...newKey, '-keyout', p('expired.key'), '-out', p('expired.csr'), '-subj', '/CN=expired-client']);
  // `openssl x509 -req` cannot date a certificate in the past; `openssl ca` can, with a minimal database.
  const db = p('ca-db');
  fs.mkdirSync(db, { recursive: true });
  fs.writeFileSync(path.join(db, 'index.txt'), '');
  fs.writeFileSync(path.join(db, 'serial'), '01\n');
  fs.writeFileSync(p('ca.cnf'), [
    '[ ca ]', 'default_ca = test', '[ test ]', `database = ${db}/index.txt`, `new_certs_dir = ${db}`, `serial = ${db}/serial`,
    'default_md = sha256', 'policy = anything', 'x509_extensions = client', '[ anything ]', 'commonName = supplied',
    '[ client ]', 'extendedKeyUsage = clientAuth', '',
  ].join('\n'));
  await run('openssl', ['ca', '-batch', '-config', p('ca.cnf'), '-cert', server.certs.ca, '-keyfile', p('ca.key'), '-in', p('expired.csr'),
    '-out', p('expired.crt'), '-startdate', '20200101000000Z', '-enddate', '20200102000000Z']);
  return { otherCa: p('other-ca.crt'), expiredCert: p('expired.crt'), expiredKey: p('expired.key') };
}
