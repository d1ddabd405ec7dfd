import * as fs from 'fs';
import * as http from 'http';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { calicoctl, type CliResult, ROOT, run } from './harness/cli';
import { type EtcdServer, startEtcd } from './harness/etcd';

/**
 * `calicoctl completion bash`, sourced into a real bash and driven as bash's programmable
 * completion would drive it: COMP_WORDS and COMP_CWORD set, _calicoctl called, COMPREPLY read.
 * Profile names come live from a real etcd, network names from a stand-in Docker Engine (an HTTP
 * server on a unix socket that answers GET /networks), so nothing here needs the real Docker.
 */

jest.setTimeout(120_000);

const BIN = path.join(ROOT, 'bin');
const NETWORKS = [
  { Id: 'a'.repeat(64), Name: 'databases', Driver: 'calico' },
  { Id: 'b'.repeat(64), Name: 'applications', Driver: 'calico' },
];

let etcd: EtcdServer;
let tmp: string;
let dockerSocket: string;
let docker: http.Server;
let dockerRequests = 0;

function bash(script: string, env: Record<string, string>): Promise<CliResult> {
  return run('bash', ['-c', script], { PATH: `${BIN}:${process.env.PATH ?? '/usr/bin:/bin'}`, ...env });
}

const quote = (word: string): string => `'${word.replace(/'/g, `'\\''`)}'`;

/**
 * COMP_WORDS as bash makes them from a line: split at spaces, and also at = and : (in the default
 * COMP_WORDBREAKS), each run of those a word of its own. A trailing space starts a new, empty word.
 */
function bashWords(line: string): string[] {
  const words = line.split(' ').flatMap((word) => word.split(/([=:]+)/).filter((part) => part !== ''));
  return line.endsWith(' ') || line === '' ? [...words, ''] : words;
}

/**
 * The candidates bash offers for `line`, the words typed so far, as pressing Tab at its end would:
 * COMP_WORDS, COMP_CWORD, COMP_LINE and COMP_POINT set as bash sets them. With `wordsOnly`, only
 * COMP_WORDS and COMP_CWORD are set (split at spaces alone), as a script that drives the function by hand would.
 */
async function complete(line: string, env: Record<string, string> = defaultEnv(), wordsOnly = false): Promise<string[]> {
  const words = wordsOnly ? line.split(' ') : bashWords(line);
  const script = [
    'source <(calicoctl completion bash)',
    `COMP_WORDS=(${words.map(quote).join(' ')})`,
    `COMP_CWORD=${words.length - 1}`,
    ...(wordsOnly ? [] : [`COMP_LINE=${quote(line)}`, `COMP_POINT=${line.length}`]),
    '_calicoctl',
    'printf "%s\\n" "${COMPREPLY[@]}"',
  ].join('\n');
  const result = await bash(script, env);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return result.stdout.split('\n').filter((word) => word !== '');
}

const defaultEnv = (): Record<string, string> => ({ ...etcd.env, DOCKER_HOST: `unix://${dockerSocket}` });

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'calicoctl-completion-'));
  dockerSocket = path.join(tmp, 'docker.sock');
  docker = http.createServer((request, response) => {
    dockerRequests++;
    if (request.method === 'GET' && request.url === '/networks') {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify(NETWORKS));
    } else {
      response.writeHead(404);
      response.end('{"message":"page not found"}');
    }
  });
  await new Promise<void>((resolve) => docker.listen(dockerSocket, resolve));
  etcd = await startEtcd();
  for (const name of ['web', 'webapp', 'db']) {
    const result = await calicoctl(['profile', 'add', name], etcd.env);
    expect(result).toEqual({ code: 0, stdout: `Created profile ${name}\n`, stderr: '' });
  }
});

afterAll(async () => {
  await etcd?.stop();
  await new Promise((resolve) => (docker ? docker.close(resolve) : resolve(undefined)));
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('bash completion', () => {
  it('the script is bash that defines _calicoctl and registers it for calicoctl', async () => {
    const result = await bash('source <(calicoctl completion bash) && declare -F _calicoctl && complete -p calicoctl', defaultEnv());
    expect(result).toEqual({ code: 0, stdout: '_calicoctl\ncomplete -o default -F _calicoctl calicoctl\n', stderr: '' });
  });

  it('completes the top-level commands (not the hidden __complete)', async () => {
    expect(await complete('calicoctl ')).toEqual(['profile', 'endpoint', 'container', 'policy', 'pool', 'bgp', 'ipam', 'node', 'status', 'checksystem', 'diags', 'version', 'config', 'completion']);
    expect(await complete('calicoctl p')).toEqual(['profile', 'policy', 'pool']);
    expect(await complete('calicoctl st')).toEqual(['status']);
    expect(await complete('calicoctl __')).toEqual([]);
  });

  it('completes profile verbs with the live profile and network names', async () => {
    expect((await complete('calicoctl profile ')).sort()).toEqual(['add', 'applications', 'databases', 'db', 'remove', 'show', 'web', 'webapp'].sort());
    expect(await complete('calicoctl profile we')).toEqual(['web', 'webapp']);
    expect(await complete('calicoctl profile d')).toEqual(['db', 'databases']);
  });

  it('sees a profile as soon as it is in etcd, and no longer once it is removed', async () => {
    expect(await complete('calicoctl profile fresh')).toEqual([]);
    expect((await calicoctl(['profile', 'add', 'freshly-made'], etcd.env)).code).toBe(0);
    expect(await complete('calicoctl profile fresh')).toEqual(['freshly-made']);
    expect((await calicoctl(['profile', 'remove', 'freshly-made'], etcd.env)).code).toBe(0);
    expect(await complete('calicoctl profile fresh')).toEqual([]);
  });

  it('completes the words after a profile name', async () => {
    expect(await complete('calicoctl profile web ')).toEqual(['rule', 'tag']);
    expect(await complete('calicoctl profile web rule ')).toEqual(['add', 'remove', 'show', 'json', 'update']);
    expect(await complete('calicoctl profile web tag ')).toEqual(['show', 'add', 'remove']);
    expect(await complete('calicoctl profile web rule add ')).toEqual(['inbound', 'outbound']);
    expect((await complete('calicoctl profile web tag add ')).sort()).toEqual(['applications', 'databases', 'db', 'web', 'webapp']);
  });

  it('completes the rule grammar from the parser', async () => {
    const rule = 'calicoctl profile web rule add inbound';
    expect(await complete(`${rule} `)).toEqual(['allow', 'deny']);
    expect(await complete(`${rule} al`)).toEqual(['allow']);
    expect(await complete(`${rule} allow `)).toEqual(['tcp', 'udp', 'icmp', 'icmpv6', 'from', 'to']);
    expect(await complete(`${rule} allow tcp `)).toEqual(['from', 'to']);
    expect(await complete(`${rule} allow tcp from `)).toEqual(['ports', 'tag', 'cidr', 'to']);
    expect(await complete(`${rule} allow tcp from ports 80 `)).toEqual(['tag', 'cidr', 'to']);
    expect(await complete(`${rule} allow icmp `)).toEqual(['type', 'from', 'to']);
    expect(await complete(`${rule} allow icmp from `)).toEqual(['tag', 'cidr', 'to']);
    expect(await complete('calicoctl profile web rule remove outbound deny udp to ')).toEqual(['ports', 'tag', 'cidr']);
    expect(await complete(`${rule} --at 2 `)).toEqual(['allow', 'deny']);
  });

  it('completes a tag in a rule with profile and network names', async () => {
    expect((await complete('calicoctl profile web rule add inbound allow tcp from tag ')).sort()).toEqual(['applications', 'databases', 'db', 'web', 'webapp']);
    expect(await complete('calicoctl profile web rule add inbound allow from tag app')).toEqual(['applications']);
  });

  it('offers nothing where a value is free (ports, CIDRs, types)', async () => {
    expect(await complete('calicoctl profile web rule add inbound allow tcp to ports ')).toEqual([]);
    expect(await complete('calicoctl profile web rule add inbound allow from cidr ')).toEqual([]);
    expect(await complete('calicoctl profile web rule add inbound allow icmp type ')).toEqual([]);
  });

  it('completes options of the command typed so far', async () => {
    expect(await complete('calicoctl pool show --i')).toEqual(['--ipv4', '--ipv6']);
    expect(await complete('calicoctl pool show --')).toEqual(['--ipv4', '--ipv6', '--output']);
    expect(await complete('calicoctl profile show --')).toEqual(['--detailed', '--output', '--quiet']);
    expect(await complete('calicoctl profile add --d')).toEqual(['--dry-run']);
    expect(await complete('calicoctl diags --')).toEqual(['--log-dir', '--check', '--fix', '--output']);
    expect(await complete('calicoctl --')).toEqual(['--config', '--timeout', '--log-level', '--debug', '--no-color', '--version']);
    expect(await complete('calicoctl endpoint show --h')).toEqual(['--host']);
  });

  it('steps over options and their values, in one word or two', async () => {
    expect(await complete('calicoctl -l debug pool ')).toEqual(['add', 'remove', 'range', 'show']);
    expect(await complete('calicoctl --timeout 2 --no-color pool ')).toEqual(['add', 'remove', 'range', 'show']);
    expect(await complete('calicoctl --log-level=debug profile web ')).toEqual(['rule', 'tag']);
    expect(await complete('calicoctl profile web rule add inbound --at=2 ')).toEqual(['allow', 'deny']);
    expect(await complete('calicoctl endpoint --host host1 ')).toEqual(['show', 'profile']);
  });

  it('goes on after words that bash splits at = and : (--at=2, port ranges)', async () => {
    expect(bashWords('calicoctl profile web rule add inbound --at=2 ')).toEqual(['calicoctl', 'profile', 'web', 'rule', 'add', 'inbound', '--at', '=', '2', '']);
    expect(await complete('calicoctl profile web rule add inbound --at=2 ')).toEqual(['allow', 'deny']);
    expect(await complete('calicoctl profile web rule add inbound --at=2 de')).toEqual(['deny']);
    expect(await complete('calicoctl profile web rule add inbound allow tcp from ports 80:90,443 ')).toEqual(['tag', 'cidr', 'to']);
    expect((await complete('calicoctl --log-level=debug profile web rule add outbound deny udp to ports 1000:2000 tag ')).sort()).toEqual(
      ['applications', 'databases', 'db', 'web', 'webapp'].sort(),
    );
  });

  it('works when driven by COMP_WORDS and COMP_CWORD alone', async () => {
    expect(await complete('calicoctl ', defaultEnv(), true)).toEqual(['profile', 'endpoint', 'container', 'policy', 'pool', 'bgp', 'ipam', 'node', 'status', 'checksystem', 'diags', 'version', 'config', 'completion']);
    expect(await complete('calicoctl profile web rule add inbound al', defaultEnv(), true)).toEqual(['allow']);
    expect(await complete('calicoctl pool show --i', defaultEnv(), true)).toEqual(['--ipv4', '--ipv6']);
    expect((await complete('calicoctl profile we', defaultEnv(), true)).sort()).toEqual(['web', 'webapp']);
  });

  it('completes the shells after completion', async () => {
    expect(await complete('calicoctl completion ')).toEqual(['bash', 'zsh', 'fish']);
    expect(await complete('calicoctl completion z')).toEqual(['zsh']);
    expect(await complete('calicoctl completion bash ')).toEqual([]);
  });

  it('subcommands of the other groups', async () => {
    expect(await complete('calicoctl pool ')).toEqual(['add', 'remove', 'range', 'show']);
    expect(await complete('calicoctl pool range ')).toEqual(['add']);
    expect(await complete('calicoctl ipam ')).toEqual(['info', 'release']);
    expect(await complete('calicoctl node ')).toEqual(['stop', 'remove', 'show', 'bgp']);
    expect(await complete('calicoctl node bgp peer ')).toEqual(['add', 'remove', 'show']);
    expect(await complete('calicoctl bgp ')).toEqual(['peer', 'node-mesh', 'default-node-as']);
    expect(await complete('calicoctl bgp peer ')).toEqual(['add', 'remove', 'show']);
    expect(await complete('calicoctl bgp node-mesh ')).toEqual(['on', 'off']);
    expect(await complete('calicoctl bgp peer show --ipv')).toEqual(['--ipv4', '--ipv6']);
    expect(await complete('calicoctl endpoint ')).toEqual(['show', 'profile']);
    expect(await complete('calicoctl container ')).toEqual(['add', 'remove', 'ip', 'endpoint', 'profile']);
    expect(await complete('calicoctl container ip ')).toEqual(['add', 'remove']);
    expect(await complete('calicoctl container profile ')).toEqual(['append', 'remove', 'set', 'show']);
    expect(await complete('calicoctl container add --')).toEqual(['--interface', '--dry-run']);
    expect(await complete('calicoctl config ')).toEqual(['felix', 'bgp', 'node']);
    expect(await complete('calicoctl config node ')).toEqual(['bgp']);
    expect(await complete('calicoctl config felix ')).toEqual(['loglevel']);
    expect(await complete('calicoctl config node bgp ')).toEqual(['loglevel']);
    expect(await complete('calicoctl config bgp loglevel --')).toEqual(['--remove', '--force', '--output', '--dry-run']);
  });

  it('with etcd and Docker unreachable: the static words, nothing else, and no error', async () => {
    const env = { ETCD_ENDPOINTS: 'http://127.0.0.1:1', DOCKER_HOST: `unix://${path.join(tmp, 'absent.sock')}` };
    expect(await complete('calicoctl profile ', env)).toEqual(['show', 'add', 'remove']);
    expect(await complete('calicoctl profile web rule add inbound allow tcp from tag ', env)).toEqual([]);
    expect(await complete('calicoctl profile web rule add inbound al', env)).toEqual(['allow']);
  });

  it('with etcd and Docker that never answer: gives up after about a second', async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const silentSocket = path.join(tmp, 'silent.sock');
    const silentDocker = net.createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silentDocker.listen(silentSocket, resolve));
    try {
      const env = { ETCD_ENDPOINTS: `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`, DOCKER_HOST: `unix://${silentSocket}` };
      const started = Date.now();
      expect(await complete('calicoctl profile ', env)).toEqual(['show', 'add', 'remove']);
      const elapsed = Date.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(900);
      expect(elapsed).toBeLessThan(5000);
      expect(sockets.length).toBeGreaterThanOrEqual(2);
    } finally {
      for (const socket of sockets) socket.destroy();
      await Promise.all([new Promise((r) => silent.close(r)), new Promise((r) => silentDocker.close(r))]);
    }
  });

  it('asks Docker for the networks only where names are wanted', async () => {
    const before = dockerRequests;
    await complete('calicoctl pool show --i');
    await complete('calicoctl profile web rule add inbound allow ');
    expect(dockerRequests).toBe(before);
    await complete('calicoctl profile ');
    expect(dockerRequests).toBe(before + 1);
  });
});

/** What fish offers for a command line, from `complete -C`, with the script sourced as its comment says. */
async function fishComplete(line: string): Promise<string[]> {
  const result = await run('fish', ['-c', `calicoctl completion fish | source; complete -C ${quote(line)}`], { PATH: `${BIN}:${process.env.PATH ?? '/usr/bin:/bin'}`, ...defaultEnv() });
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  // fish prints "candidate<TAB>description"; ours have no descriptions.
  return result.stdout.split('\n').filter((word) => word !== '');
}

/**
 * What zsh's _calicoctl offers, called as the completion system would call it: `words` and
 * `CURRENT` set, with compadd (a builtin only inside completion widgets) standing in to print
 * what it is given, and compdef recording the registration.
 */
async function zshComplete(line: string): Promise<string[]> {
  const words = line.split(' ');
  const script = [
    'compdef() { print -r -- "compdef $*" >&2 }',
    'source <(calicoctl completion zsh)',
    'compadd() { while (( $# )) && [[ $1 != -- ]]; do shift; done; shift; (( $# )) && print -rl -- "$@" }',
    `words=(${words.map(quote).join(' ')})`,
    `CURRENT=${words.length}`,
    '_calicoctl',
  ].join('\n');
  const result = await run('zsh', ['-fc', script], { PATH: `${BIN}:${process.env.PATH ?? '/usr/bin:/bin'}`, ...defaultEnv() });
  expect(result.stderr).toBe('compdef _calicoctl calicoctl\n');
  expect(result.code).toBe(0);
  return result.stdout.split('\n').filter((word) => word !== '');
}

describe.each([
  ['fish', fishComplete],
  ['zsh', zshComplete],
])('%s completion, driven in a real %s', (_shell, completeIn) => {
  it('completes the top-level commands and their prefixes', async () => {
    expect(await completeIn('calicoctl ')).toEqual(['profile', 'endpoint', 'container', 'policy', 'pool', 'bgp', 'ipam', 'node', 'status', 'checksystem', 'diags', 'version', 'config', 'completion']);
    expect(await completeIn('calicoctl p')).toEqual(['profile', 'policy', 'pool']);
  });

  it('completes live profile and network names, and the rule grammar', async () => {
    expect((await completeIn('calicoctl profile ')).sort()).toEqual(['add', 'applications', 'databases', 'db', 'remove', 'show', 'web', 'webapp'].sort());
    expect(await completeIn('calicoctl profile web rule add inbound allow ')).toEqual(['tcp', 'udp', 'icmp', 'icmpv6', 'from', 'to']);
    expect((await completeIn('calicoctl profile web rule add inbound allow from tag ')).sort()).toEqual(['applications', 'databases', 'db', 'web', 'webapp']);
  });

  it('completes the shells after completion', async () => {
    expect(await completeIn('calicoctl completion ')).toEqual(['bash', 'zsh', 'fish']);
  });
});

describe('the zsh and fish scripts, and errors', () => {
  it('zsh: a compdef script that asks calicoctl __complete', async () => {
    const result = await calicoctl(['completion', 'zsh'], {});
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout.startsWith('#compdef calicoctl\n')).toBe(true);
    expect(result.stdout).toContain('calicoctl __complete -- ');
    expect(result.stdout).toContain('compdef _calicoctl calicoctl');
  });

  it('fish: a complete -c calicoctl line that asks calicoctl __complete', async () => {
    const result = await calicoctl(['completion', 'fish'], {});
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/^complete -c calicoctl -f -k -a '\(calicoctl __complete -- .*\)'$/m);
  });

  it('bash, zsh and fish each parse their script (scripts/test-all installs zsh and fish)', async () => {
    expect((await bash('bash -n <(calicoctl completion bash)', {})).code).toBe(0);
    for (const shell of ['zsh', 'fish']) {
      expect((await bash(`command -v ${shell} || echo "${shell} is not installed: run scripts/install-deps zsh fish" >&2`, {})).stderr).toBe('');
      expect(await bash(`calicoctl completion ${shell} | ${shell} -n`, {})).toEqual({ code: 0, stdout: '', stderr: '' });
    }
  });
  it('__complete answers directly too, one candidate per line', async () => {
    const result = await calicoctl(['__complete', '--', 'completion', ''], {});
    expect(result).toEqual({ code: 0, stdout: 'bash\nzsh\nfish\n', stderr: '' });
  });

  it('an unknown shell is a usage error (exit 2); so is none', async () => {
    expect(await calicoctl(['completion', 'ksh'], {})).toEqual({ code: 2, stdout: '', stderr: "Unknown shell 'ksh': choose bash, zsh or fish.\n" });
    expect(await calicoctl(['completion'], {})).toEqual({ code: 2, stdout: '', stderr: "error: missing required argument 'SHELL'\n" });
  });

  it('completion is listed in the help, __complete is not', async () => {
    const help = await calicoctl(['--help'], {});
    expect(help.stdout).toMatch(/^ {2}completion <SHELL> /m);
    expect(help.stdout).not.toContain('__complete');
  });
});
