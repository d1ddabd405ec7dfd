import { execFile, spawn } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';

export const TEST_IMAGE = 'calicoctl-test/busybox:1';
const CONTAINERD_SOCK = '/run/containerd/containerd.sock';
const BUSYBOX_APPLETS = ['sh', 'ip', 'ping', 'httpd', 'nc', 'sleep', 'true', 'cat', 'echo', 'ifconfig', 'route', 'arping'];

export interface RunResult { stdout: string; stderr: string; code: number }

function exec(cmd: string, args: string[], timeoutMs = 120_000): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { maxBuffer: 64 << 20, timeout: timeoutMs }, (err, stdout, stderr) => {
      // A non-numeric code means the command did not run at all (ENOENT, timeout kill).
      const code = !err ? 0 : typeof err.code === 'number' ? err.code : 127;
      resolve({ stdout, stderr: stderr || (err ? err.message : ''), code });
    });
  });
}

export function docker(...args: string[]): Promise<RunResult> {
  return exec('docker', args);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, logFile: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) {
      let tail = '(no log)';
      try { tail = fs.readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-30).join('\n'); } catch { /* none */ }
      throw new Error(`${what} not ready after ${timeoutMs / 1000} s; log tail (${logFile}):\n${tail}`);
    }
    await sleep(200);
  }
}

// Jest runs test files in parallel worker processes that share one dockerd, so setup steps are
// serialised across processes with a lock file holding the owner's pid.
async function withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const lock = path.join(os.tmpdir(), `calicoctl-test-${name}.lock`);
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      const fd = fs.openSync(lock, 'wx');
      fs.writeSync(fd, String(process.pid));
      fs.closeSync(fd);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      if (lockIsStale(lock)) { fs.rmSync(lock, { force: true }); continue; }
      if (Date.now() > deadline) throw new Error(`timed out waiting for lock ${lock}`);
      await sleep(100);
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lock, { force: true });
  }
}

// A crashed holder would otherwise block every later run.
function lockIsStale(lock: string): boolean {
  try {
    const pid = Number(fs.readFileSync(lock, 'utf8'));
    if (!pid) return Date.now() - fs.statSync(lock).mtimeMs > 5000; // pid not written yet, or garbage
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function socketAccepts(sock: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(sock);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

// Detached, in their own session, so the daemons outlive this jest worker and serve later test files.
function startDaemon(cmd: string, args: string[], logFile: string): void {
  const fd = fs.openSync(logFile, 'a');
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  child.unref();
}

const dockerUp = async () => (await exec('docker', ['info', '--format', '{{.ServerVersion}}'], 10_000)).code === 0;

export async function ensureDocker(): Promise<void> {
  if (await dockerUp()) return;
  await withLock('docker', async () => {
    if (await dockerUp()) return;
    if (!(await socketAccepts(CONTAINERD_SOCK))) {
      const log = '/var/log/calicoctl-test-containerd.log';
      startDaemon('containerd', [], log);
      await waitFor('containerd', () => socketAccepts(CONTAINERD_SOCK), 20_000, log);
    }
    const log = '/var/log/calicoctl-test-dockerd.log';
    startDaemon('dockerd', ['--containerd', CONTAINERD_SOCK], log);
    await waitFor('dockerd', dockerUp, 60_000, log);
  });
}

const imageExists = async (tag: string) => (await docker('image', 'inspect', '--format', '{{.Id}}', tag)).code === 0;

/**
 * Makes the image `tag` once per host (under a lock, as test files may race): `fill` lays out a
 * root filesystem in an empty directory, which is then imported as the image's only layer.
 */
async function ensureImportedImage(tag: string, change: string, fill: (root: string) => Promise<void>): Promise<string> {
  if (await imageExists(tag)) return tag;
  await withLock(`image-${tag.replace(/[^A-Za-z0-9.-]/g, '_')}`, async () => {
    if (await imageExists(tag)) return;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'calicoctl-image-'));
    try {
      const root = path.join(dir, 'rootfs');
      fs.mkdirSync(root);
      await fill(root);
      const tar = path.join(dir, 'rootfs.tar');
      const t = await exec('tar', ['-C', root, '--numeric-owner', '-cf', tar, '.']);
      if (t.code !== 0) throw new Error(`tar failed: ${t.stderr}`);
      const r = await docker('import', '--change', change, tar, tag);
      if (r.code !== 0) throw new Error(`docker import failed: ${r.stderr}`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
  return tag;
}

export function ensureTestImage(): Promise<string> {
  return ensureImportedImage(TEST_IMAGE, 'CMD ["/bin/sh"]', async (root) => {
    for (const d of ['bin', 'www', 'tmp']) fs.mkdirSync(path.join(root, d), { recursive: true });
    fs.chmodSync(path.join(root, 'tmp'), 0o1777);
    fs.copyFileSync('/usr/bin/busybox', path.join(root, 'bin', 'busybox'));
    fs.chmodSync(path.join(root, 'bin', 'busybox'), 0o755);
    for (const a of BUSYBOX_APPLETS) fs.symlinkSync('busybox', path.join(root, 'bin', a));
    fs.writeFileSync(path.join(root, 'www', 'index.html'), '<html><body>calicoctl-test</body></html>\n');
  });
}

/**
 * A stand-in for the node:20-bookworm-slim base that packaging/Dockerfile builds on, for hosts that
 * reach Debian's package archive but no container registry: a minimal Debian 12 made by
 * debootstrap, plus this host's Node.js at /usr/local/bin/node (where the official image has it).
 * Built once per host and kept, like the test image.
 */
export const NODE_BASE_IMAGE = 'calicoctl-test/node-base:20';

export function ensureNodeBaseImage(): Promise<string> {
  return ensureImportedImage(NODE_BASE_IMAGE, 'CMD ["node"]', async (root) => {
    const made = await exec('debootstrap', ['--variant=minbase', 'bookworm', root], 600_000);
    if (made.code !== 0) throw new Error(`debootstrap failed: ${made.stderr.slice(-2000)}`);
    fs.copyFileSync(process.execPath, path.join(root, 'usr/local/bin/node'));
    fs.chmodSync(path.join(root, 'usr/local/bin/node'), 0o755);
  });
}

export function uniqueName(prefix: string): string {
  const rand = Math.floor(Math.random() * 36 ** 6).toString(36).padStart(6, '0');
  return `ct-${prefix}-${rand}`;
}

const notFound = (stderr: string) => /no such|not found/i.test(stderr);

/** Removes containers, then networks, one at a time: Docker 20.10 loses a network's endpoint count when several containers go at once. */
export async function cleanupDocker(names: { containers?: string[]; networks?: string[] }): Promise<void> {
  const errors: string[] = [];
  // Containers first: a network still in use by a container cannot be removed.
  for (const c of names.containers ?? []) {
    const r = await docker('rm', '-f', '-v', c);
    if (r.code !== 0 && !notFound(r.stderr)) errors.push(`container ${c}: ${r.stderr.trim()}`);
  }
  for (const n of names.networks ?? []) {
    const r = await docker('network', 'rm', n);
    if (r.code !== 0 && !notFound(r.stderr)) errors.push(`network ${n}: ${r.stderr.trim()}`);
  }
  if (errors.length) throw new Error(`docker cleanup failed:\n${errors.join('\n')}`);
}
