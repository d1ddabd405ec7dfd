import { execFile, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ROOT } from './harness/cli';
import { type EtcdServer, startEtcd } from './harness/etcd';

/**
 * `npm pack` gives a package that `npm install -g` installs into a prefix of its own, with working
 * `calicoctl` and `calico-node` commands and man pages. The pack runs in a copy of the working
 * tree without dist/ (its node_modules linked), so that prepack's build is what ships, and so that
 * the build neither rewrites the dist/ other tests run from nor leaves a tarball in the repository.
 * The install starts from an empty npm cache and fetches the dependencies from the npm registry.
 */

jest.setTimeout(600_000);

const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string; man: string[]; bin: Record<string, string> };

let tmp: string;
let tarball: string;
let prefix: string;
let etcd: EtcdServer | undefined;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment of the installed commands and of npm: nothing from this repository, no ETCD_* or DOCKER_*. */
function environment(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(ETCD_|DOCKER_|NODE_PATH$|npm_|INIT_CWD$)/i.test(key)) env[key] = value;
  }
  const dirs = (process.env.PATH ?? '/usr/bin:/bin').split(':').filter((dir) => !dir.startsWith(ROOT));
  return { ...env, PATH: dirs.join(':'), npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false', ...extra };
}

function run(file: string, args: readonly string[], options: { cwd?: string; env?: Record<string, string>; timeout?: number } = {}): Promise<Result> {
  return new Promise((resolve) => {
    execFile(
      file,
      [...args],
      { cwd: options.cwd ?? tmp, env: environment(options.env), timeout: options.timeout ?? 60_000, maxBuffer: 64 << 20 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

async function mustRun(file: string, args: readonly string[], options: Parameters<typeof run>[2] = {}): Promise<string> {
  const result = await run(file, args, options);
  if (result.code !== 0) throw new Error(`${file} ${args.join(' ')} failed (${result.code}):\n${result.stderr}${result.stdout}`);
  return result.stdout;
}

/** Copies the working tree as git sees it (tracked and new files, nothing ignored: no dist/, no node_modules/). */
function copyWorkingTree(to: string): void {
  const listed = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' });
  if (listed.status !== 0) throw new Error(`git ls-files failed: ${listed.stderr}`);
  for (const file of listed.stdout.split('\0').filter((f) => f !== '')) {
    const from = path.join(ROOT, file);
    if (!fs.existsSync(from)) continue; // deleted in the working tree
    fs.mkdirSync(path.dirname(path.join(to, file)), { recursive: true });
    fs.copyFileSync(from, path.join(to, file));
    fs.chmodSync(path.join(to, file), fs.statSync(from).mode);
  }
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(to, 'node_modules'));
}

const tarballsInRepo = (): string[] => fs.readdirSync(ROOT).filter((file) => file.endsWith('.tgz'));
let tarballsBefore: string[];
let packed: string[];

beforeAll(async () => {
  tarballsBefore = tarballsInRepo();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'calicoctl-package-'));
  const tree = path.join(tmp, 'tree');
  copyWorkingTree(tree);
  expect(fs.existsSync(path.join(tree, 'dist'))).toBe(false);
  // prepack builds dist/ in the copy; --json names the tarball and lists its files.
  const out = await mustRun('npm', ['pack', '--json', '--pack-destination', tmp], { cwd: tree, timeout: 300_000 });
  const report = JSON.parse(out.slice(out.indexOf('['))) as { filename: string; files: { path: string }[] }[];
  tarball = path.join(tmp, report[0]!.filename);
  packed = report[0]!.files.map((f) => f.path).sort();
  prefix = path.join(tmp, 'prefix');
  // An empty npm cache, as on a clean machine: every dependency comes from the registry.
  await mustRun('npm', ['install', '--global', '--prefix', prefix, '--no-audit', '--no-fund', tarball], {
    timeout: 300_000,
    env: { npm_config_cache: path.join(tmp, 'npm-cache') },
  });
});

afterAll(async () => {
  await etcd?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('npm pack', () => {
  it('writes the tarball where it is told, none into the repository', () => {
    expect(path.basename(tarball)).toBe(`${manifest.name}-${manifest.version}.tgz`);
    expect(fs.existsSync(tarball)).toBe(true);
    expect(tarballsInRepo()).toEqual(tarballsBefore);
  });

  it('holds the programs, the built bundles, the etcd protocol files and the man pages, and no sources or tests', () => {
    for (const file of [
      'package.json',
      'README.md',
      'bin/calicoctl',
      'bin/calico-node',
      'dist/calicoctl.js',
      'dist/node/calico-node.js',
      'dist/proto/rpc.proto',
      'scripts/build-node-image',
      'packaging/Dockerfile',
      ...manifest.man,
    ]) {
      expect(packed).toContain(file);
    }
    expect(packed.filter((file) => /^(src|test|bench|node_modules)\//.test(file) || file.endsWith('.ts') && !file.endsWith('.d.ts'))).toEqual([]);
  });
});

describe('npm install -g --prefix <tarball>', () => {
  const bin = (name: string) => path.join(prefix, 'bin', name);

  it('links calicoctl and calico-node into <prefix>/bin', () => {
    for (const name of Object.keys(manifest.bin)) {
      expect(fs.existsSync(bin(name))).toBe(true);
      expect(fs.realpathSync(bin(name)).startsWith(path.join(prefix, 'lib', 'node_modules', manifest.name))).toBe(true);
    }
  });

  it('calicoctl version --client', async () => {
    expect(await run(bin('calicoctl'), ['version', '--client'])).toEqual({ code: 0, stdout: `${manifest.version}\n`, stderr: '' });
    expect(await run(bin('calicoctl'), ['--version'])).toEqual({ code: 0, stdout: `${manifest.version}\n`, stderr: '' });
  });

  it('calicoctl profile --help', async () => {
    const result = await run(bin('calicoctl'), ['profile', '--help']);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/^Usage: calicoctl profile /);
    expect(result.stdout).toContain('calicoctl profile <PROFILE> rule add (inbound|outbound)');
  });

  it('calico-node --version and --help', async () => {
    expect(await run(bin('calico-node'), ['--version'])).toEqual({ code: 0, stdout: `${manifest.version}\n`, stderr: '' });
    const help = await run(bin('calico-node'), ['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: calico-node /);
  });

  it('works against etcd, including the commands that load yaml from the installed node_modules', async () => {
    etcd = await startEtcd();
    const env = etcd.env;
    expect(await run(bin('calicoctl'), ['profile', 'add', 'web'], { env })).toEqual({ code: 0, stdout: 'Created profile web\n', stderr: '' });
    expect(await run(bin('calicoctl'), ['profile', 'web', 'rule', 'add', 'inbound', 'allow', 'tcp', 'to', 'ports', '80'], { env })).toEqual({ code: 0, stdout: '', stderr: '' });
    const yaml = await run(bin('calicoctl'), ['profile', 'web', 'rule', 'show', '-o', 'yaml'], { env });
    expect(yaml).toEqual({
      code: 0,
      stdout: 'inbound_rules:\n  - action: allow\n    src_tag: web\n  - action: allow\n    protocol: tcp\n    dst_ports:\n      - 80\noutbound_rules:\n  - action: allow\n',
      stderr: '',
    });
    const json = await run(bin('calicoctl'), ['profile', 'show', '-o', 'json'], { env: { ...env, DOCKER_HOST: 'unix:///nonexistent/docker.sock' } });
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual([expect.objectContaining({ name: 'web', network: null })]);
  });

  it('the installed package finds every dependency in its own node_modules', async () => {
    const home = path.join(prefix, 'lib', 'node_modules', manifest.name);
    const dependencies = Object.keys((JSON.parse(fs.readFileSync(path.join(home, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies);
    const script = `for (const d of ${JSON.stringify(dependencies)}) process.stdout.write(require.resolve(d, { paths: [${JSON.stringify(home)}] }) + '\\n')`;
    const resolved = (await mustRun(process.execPath, ['-e', script])).trim().split('\n');
    expect(resolved).toHaveLength(dependencies.length);
    for (const file of resolved) expect(file.startsWith(prefix)).toBe(true);
  });

  it('links the man pages under <prefix>/share/man, and man renders them', async () => {
    const pages = manifest.man.map((page) => {
      const section = page.slice(page.lastIndexOf('.') + 1);
      return path.join(prefix, 'share', 'man', `man${section}`, path.basename(page));
    });
    for (const page of pages) expect(fs.existsSync(page)).toBe(true);
    expect(pages).toContain(path.join(prefix, 'share', 'man', 'man1', 'calicoctl.1'));
    expect(pages).toContain(path.join(prefix, 'share', 'man', 'man8', 'calico-node.8'));

    // man must render them: install it the way the repository installs its other tools, or fail.
    const installed = spawnSync(path.join(ROOT, 'scripts/install-deps'), ['man-db'], { encoding: 'utf8' });
    expect({ code: installed.status, stderr: installed.stderr }).toEqual({ code: 0, stderr: '' });
    expect(spawnSync('sh', ['-c', 'command -v man'], { encoding: 'utf8' }).status).toBe(0);
    const env = { MANPAGER: 'cat', PAGER: 'cat', MANWIDTH: '80', LANG: 'C.UTF-8' };
    for (const page of pages) {
      const rendered = await run('man', ['-l', page], { env });
      expect({ page, code: rendered.code, stderr: rendered.stderr }).toEqual({ page, code: 0, stderr: '' });
      expect(rendered.stdout).toMatch(/^NAME$/m);
      expect(rendered.stdout).toMatch(/^SYNOPSIS$/m);
    }
    // man finds them by name through the prefix's MANPATH.
    const found = await run('man', ['-w', 'calicoctl'], { env: { ...env, MANPATH: path.join(prefix, 'share', 'man') } });
    expect(found.code).toBe(0);
    expect(fs.realpathSync(found.stdout.trim())).toBe(fs.realpathSync(path.join(prefix, 'share', 'man', 'man1', 'calicoctl.1')));
  });

  it('npm uninstall -g removes the commands and the man pages', async () => {
    await mustRun('npm', ['uninstall', '--global', '--prefix', prefix, manifest.name], { timeout: 120_000, env: { npm_config_cache: path.join(tmp, 'npm-cache') } });
    for (const name of Object.keys(manifest.bin)) expect(fs.existsSync(bin(name))).toBe(false);
    expect(fs.existsSync(path.join(prefix, 'share', 'man', 'man1', 'calicoctl.1'))).toBe(false);
  });
});
