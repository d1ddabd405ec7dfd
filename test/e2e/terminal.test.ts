import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CALICOCTL } from './harness/cli';
import { type EtcdServer, startEtcd } from './harness/etcd';

/**
 * The built bin/calicoctl on a terminal and off it. The terminal is a pseudo-terminal made by
 * util-linux `script`; stdout is the terminal there, stderr goes to a file so the two stay apart.
 *
 * Colour (src/cli/color.ts) is used by `status` and `checksystem` only; the tests pin what must
 * hold for every command, coloured or not: on a terminal the output is the piped output apart
 * from ANSI colour codes; with NO_COLOR, TERM=dumb or --no-color, in -o json|yaml, and whenever
 * stdout is not a terminal, there are no escape codes at all; piped output is exactly the golden
 * text. (checksystem is not run here: it looks at the host's kernel modules and iptables.) Nothing here needs Docker (DOCKER_HOST
 * points at a socket that does not exist), a calico-node agent, or root.
 */

jest.setTimeout(120_000);

const SCRIPT = '/usr/bin/script';
const NO_DOCKER = 'unix:///nonexistent/calicoctl-terminal-test.sock';
/** Any ANSI escape sequence (CSI or OSC), and the colour (SGR) ones that a terminal alone may add. */
const ANY_ESCAPE = /\x1b/;
const SGR = /\x1b\[[0-9;]*m/g;

let etcd: EtcdServer;
let tmp: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment of every run: the test runner's, minus anything that could change colour or the datastore. */
function environment(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^(ETCD_|DOCKER_|NO_COLOR$|FORCE_COLOR$|CLICOLOR|TERM$|COLORTERM$)/.test(key)) env[key] = value;
  }
  return { ...env, TERM: 'xterm-256color', ...etcd.env, DOCKER_HOST: NO_DOCKER, ...extra };
}

const quote = (word: string): string => `'${word.replace(/'/g, `'\\''`)}'`;

function collect(child: ReturnType<typeof spawn>, onClose: (code: number, stdout: string, stderr: string) => void, reject: (error: Error) => void): void {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.on('error', reject);
  child.on('close', (code) => onClose(code ?? -1, stdout, stderr));
}

/** calicoctl with stdout and stderr piped (not terminals), stdin empty. */
function piped(args: readonly string[], extra: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(CALICOCTL, [...args], { env: environment(extra), stdio: ['ignore', 'pipe', 'pipe'] });
    collect(child, (code, stdout, stderr) => resolve({ code, stdout, stderr }), reject);
  });
}

let runs = 0;
/**
 * calicoctl with stdout on a pseudo-terminal (`script -qec`), stderr into a file. The terminal
 * turns each "\n" into "\r\n" (onlcr); that is undone here, so outputs compare as text.
 */
function onTerminal(args: readonly string[], extra: Record<string, string> = {}, program = CALICOCTL): Promise<Run> {
  const errFile = path.join(tmp, `stderr-${++runs}`);
  const command = `exec ${[program, ...args].map(quote).join(' ')} 2>${quote(errFile)}`;
  return new Promise((resolve, reject) => {
    const child = spawn(SCRIPT, ['-qec', command, '/dev/null'], { env: environment(extra), stdio: ['ignore', 'pipe', 'pipe'] });
    collect(
      child,
      (code, stdout, scriptErr) => {
        if (scriptErr !== '') return reject(new Error(`script wrote on stderr: ${scriptErr}`));
        const stderr = fs.existsSync(errFile) ? fs.readFileSync(errFile, 'utf8') : '';
        resolve({ code, stdout: stdout.replace(/\r\n/g, '\n'), stderr });
      },
      reject,
    );
  });
}

const stripColour = (text: string): string => text.replace(SGR, '');

/** A command that fails (exit 1) without asking Docker. */
const NOT_FOUND = ['pool', 'remove', '10.99.0.0/16'];

beforeAll(async () => {
  expect(fs.existsSync(SCRIPT)).toBe(true);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'calicoctl-terminal-'));
  etcd = await startEtcd();
  for (const args of [
    ['profile', 'add', 'web'],
    ['profile', 'add', 'db'],
    ['profile', 'db', 'rule', 'add', 'inbound', 'allow', 'tcp', 'from', 'tag', 'web', 'to', 'ports', '5432'],
    ['profile', 'web', 'tag', 'add', 'frontend'],
    ['pool', 'add', '10.65.0.0/16', '--ipip'],
  ]) {
    const result = await piped(args);
    if (result.code !== 0) throw new Error(`calicoctl ${args.join(' ')}: ${result.stderr}`);
  }
});

afterAll(async () => {
  await etcd?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('the pseudo-terminal harness', () => {
  it('gives calicoctl a terminal on stdout only under script', async () => {
    const probe = ['-e', 'process.stdout.write(`${process.stdout.isTTY === true} ${process.stderr.isTTY === true}\\n`)'];
    expect((await onTerminal(probe, {}, process.execPath)).stdout).toBe('true false\n');
    const off = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, probe, { stdio: ['ignore', 'pipe', 'pipe'] });
      collect(child, (_, stdout) => resolve(stdout), reject);
    });
    expect(off).toBe('false false\n');
  });

  it('passes the exit code through', async () => {
    expect((await onTerminal(NOT_FOUND)).code).toBe(1);
    expect((await onTerminal(['profile', 'show', '-o', 'xml'])).code).toBe(2);
  });
});

const RULE_SHOW = 'Inbound rules:\n   1 allow from tag db\n   2 allow tcp from tag web to ports 5432\nOutbound rules:\n   1 allow\n';
const PROFILE_TABLE = [
  '+------+',
  '| Name |',
  '+------+',
  '|  db  |',
  '| web  |',
  '+------+',
  '',
].join('\n');

/** Commands whose piped output is known exactly, and a few more whose output is only compared. */
const GOLDEN: [string[], string][] = [
  [['profile', 'show'], PROFILE_TABLE],
  [['profile', 'show', '-q'], 'db\nweb\n'],
  [['profile', 'db', 'rule', 'show'], RULE_SHOW],
  [['profile', 'web', 'tag', 'show'], 'web\nfrontend\n'],
  [['pool', 'show', '--ipv4'], '+--------------+---------+\n|  IPv4 CIDR   | Options |\n+--------------+---------+\n| 10.65.0.0/16 |   ipip  |\n+--------------+---------+\n'],
  [['version', '--client'], `${require('../../package.json').version}\n`],
];
const OTHERS: string[][] = [
  ['profile', 'show', '--detailed'],
  ['profile', 'show', '-o', 'wide'],
  ['endpoint', 'show'],
  ['endpoint', 'show', '--detailed'],
  ['pool', 'show'],
  ['node', 'show'],
  ['ipam', 'info', '10.65.0.9'],
  ['profile', 'add', 'new1', '--dry-run'],
];
/** Help is wrapped to the terminal's width on a terminal (Commander), and not wrapped when piped. */
const HELP: string[][] = [['--help'], ['profile', '--help'], ['profile', 'rule', 'add', '--help'], ['pool', 'show', '--help']];
const DATA: string[][] = [
  ['profile', 'show', '-o', 'json'],
  ['profile', 'show', '-o', 'yaml', '--detailed'],
  ['profile', 'db', 'rule', 'show', '-o', 'json'],
  ['profile', 'db', 'rule', 'show', '-o', 'yaml'],
  ['profile', 'web', 'tag', 'show', '-o', 'json'],
  ['endpoint', 'show', '-o', 'yaml'],
  ['pool', 'show', '-o', 'json'],
  ['node', 'show', '-o', 'yaml'],
];
const ALL = [...GOLDEN.map(([args]) => args), ...OTHERS, ...DATA];
const words = (text: string): string => text.replace(/\s+/g, ' ').trim();
const NO_COLOUR: [string, Record<string, string>, string[]][] = [
  ['NO_COLOR=1', { NO_COLOR: '1' }, []],
  ['TERM=dumb', { TERM: 'dumb' }, []],
  ['--no-color', {}, ['--no-color']],
];

describe('off a terminal (piped)', () => {
  it.each(GOLDEN.map(([args, text]) => [args.join(' '), args, text] as const))('%s prints exactly the golden text and nothing decorative', async (_, args, text) => {
    expect(await piped(args)).toEqual({ code: 0, stdout: text, stderr: '' });
  });

  it.each([...ALL, ...HELP, NOT_FOUND].map((args) => [args.join(' '), args]))('%s: no escape codes on stdout or stderr', async (_, args) => {
    const result = await piped(args);
    expect(result.stdout).not.toMatch(ANY_ESCAPE);
    expect(result.stderr).not.toMatch(ANY_ESCAPE);
  });

  it('a reader that closes early (| head) gets no stack trace, and the exit code stays the command\'s', async () => {
    const pipeline = (command: string) =>
      new Promise<Run>((resolve, reject) => {
        // `true` exits at once, so every write of calicoctl meets a closed pipe (EPIPE).
        const child = spawn('bash', ['-c', `${command} | true; echo "exit=\${PIPESTATUS[0]}"`], { env: environment({}), stdio: ['ignore', 'pipe', 'pipe'] });
        collect(child, (code, stdout, stderr) => resolve({ code, stdout, stderr }), reject);
      });
    const calico = quote(CALICOCTL);
    expect(await pipeline(`${calico} profile --help`)).toEqual({ code: 0, stdout: 'exit=0\n', stderr: '' });
    expect(await pipeline(`${calico} pool show -o yaml`)).toEqual({ code: 0, stdout: 'exit=0\n', stderr: '' });
    expect(await pipeline(`${calico} ${NOT_FOUND.join(' ')} 2>&1`)).toEqual({ code: 0, stdout: 'exit=1\n', stderr: '' });
  });

  it('no escape codes even when colour is asked for by the environment', async () => {
    const result = await piped(['profile', 'show'], { FORCE_COLOR: '1', CLICOLOR_FORCE: '1', COLORTERM: 'truecolor' });
    expect(result).toEqual({ code: 0, stdout: PROFILE_TABLE, stderr: '' });
  });
});

describe('on a terminal', () => {
  it.each(ALL.map((args) => [args.join(' '), args]))('%s: the piped output, apart from colour', async (_, args) => {
    const [tty, pipe] = await Promise.all([onTerminal(args), piped(args)]);
    expect({ ...tty, stdout: stripColour(tty.stdout), stderr: stripColour(tty.stderr) }).toEqual(pipe);
  });

  it.each(HELP.map((args) => [args.join(' '), args]))('%s: the piped help, apart from colour and line wrapping', async (_, args) => {
    const [tty, pipe] = await Promise.all([onTerminal(args), piped(args)]);
    expect(tty.code).toBe(0);
    expect(tty.stderr).toBe('');
    expect(words(stripColour(tty.stdout))).toBe(words(pipe.stdout));
  });

  it.each(DATA.map((args) => [args.join(' '), args]))('%s: never an escape code, and the document parses', async (_, args) => {
    const [tty, pipe] = await Promise.all([onTerminal(args), piped(args)]);
    expect(tty.stdout).not.toMatch(ANY_ESCAPE);
    expect(tty).toEqual(pipe);
    if (args.includes('json')) expect(() => JSON.parse(tty.stdout)).not.toThrow();
  });

  it.each(NO_COLOUR)('with %s: no escape codes at all, and exactly the piped output', async (_, extra, flags) => {
    for (const args of [...GOLDEN.map(([a]) => a), ['profile', 'show', '-o', 'wide'], NOT_FOUND, ...HELP]) {
      const [tty, pipe] = await Promise.all([onTerminal([...flags, ...args], extra), piped([...flags, ...args], extra)]);
      expect(tty.stdout).not.toMatch(ANY_ESCAPE);
      expect(tty.stderr).not.toMatch(ANY_ESCAPE);
      if (args.includes('--help')) expect({ ...tty, stdout: words(tty.stdout) }).toEqual({ ...pipe, stdout: words(pipe.stdout) });
      else expect(tty).toEqual(pipe);
    }
  });

  // status reads this host's agent state (another test's agent may be running here, and its status
  // file changes as it works), so only its first line is compared.
  const STATUS_LINE = /^calico-node is (not running\.|running as a (container|host process) \(.*\)\.)$/;

  it('status: the agent state is coloured on a terminal, plain when piped', async () => {
    const [tty, pipe] = await Promise.all([onTerminal(['status']), piped(['status'])]);
    const [ttyFirst, pipeFirst] = [tty.stdout.split('\n')[0] as string, pipe.stdout.split('\n')[0] as string];
    expect(ttyFirst).toMatch(/^calico-node is \x1b\[3[12]m(not running|running)\x1b\[39m/);
    expect(stripColour(ttyFirst)).toMatch(STATUS_LINE);
    expect(pipeFirst).toMatch(STATUS_LINE);
    expect(pipe.stdout).not.toMatch(ANY_ESCAPE);
    expect(pipe.stderr).not.toMatch(ANY_ESCAPE);
  });

  it.each(NO_COLOUR)('status with %s: no escape codes on a terminal', async (_, extra, flags) => {
    const tty = await onTerminal([...flags, 'status'], extra);
    expect(tty.stdout).not.toMatch(ANY_ESCAPE);
    expect(tty.stderr).not.toMatch(ANY_ESCAPE);
    expect(tty.stdout.split('\n')[0]).toMatch(STATUS_LINE);
  });

  it.each(['json', 'yaml'])('status -o %s: no escape codes on a terminal', async (format) => {
    const tty = await onTerminal(['status', '-o', format]);
    expect(tty.stdout).not.toMatch(ANY_ESCAPE);
    expect(tty.stdout).toMatch(/running/);
    if (format === 'json') expect(JSON.parse(tty.stdout)).toEqual(expect.objectContaining({ agent: expect.objectContaining({ running: expect.any(Boolean) }) }));
  });

  it('errors go to stderr with the same words and exit code as off a terminal', async () => {
    const [tty, pipe] = await Promise.all([onTerminal(NOT_FOUND), piped(NOT_FOUND)]);
    expect(pipe).toEqual({ code: 1, stdout: '', stderr: '10.99.0.0/16 is not a configured pool.\n' });
    expect({ ...tty, stderr: stripColour(tty.stderr) }).toEqual(pipe);
  });
});

describe('-l debug and --debug', () => {
  /** The `debug: etcd …` lines: one per request, naming the endpoint and the gateway path. */
  const ETCD_LINE = () => new RegExp(`^debug: etcd ${etcd.endpoint.replace(/[.]/g, '\\.')}/v3/\\S+ .*\\(\\d+ ms\\)$`);

  it.each([
    ['-l debug', ['-l', 'debug']],
    ['--log-level=debug', ['--log-level=debug']],
    ['--debug', ['--debug']],
  ])('%s traces each etcd call on stderr; stdout is unchanged', async (_, flags) => {
    for (const args of [['profile', 'show'], ['profile', 'db', 'rule', 'show', '-o', 'json'], ['pool', 'show']]) {
      const plain = await piped(args);
      const traced = await piped([...flags, ...args]);
      expect(traced.code).toBe(0);
      expect(traced.stdout).toBe(plain.stdout);
      const lines = traced.stderr.split('\n').filter((line) => line !== '');
      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines) expect(line).toMatch(ETCD_LINE());
    }
  });

  it('on a terminal too: the trace stays on stderr, stdout is the untraced output', async () => {
    const [traced, plain] = await Promise.all([onTerminal(['-l', 'debug', 'profile', 'show']), piped(['profile', 'show'])]);
    expect(stripColour(traced.stdout)).toBe(plain.stdout);
    expect(traced.stdout).not.toContain('debug:');
    expect(traced.stderr).toMatch(/^debug: etcd /m);
  });

  it('Docker calls are traced too, failed ones included', async () => {
    const traced = await piped(['-l', 'debug', 'profile', 'show', '-o', 'wide']);
    expect(traced.code).toBe(0);
    expect(traced.stdout).toBe((await piped(['profile', 'show', '-o', 'wide'])).stdout);
    expect(traced.stderr).toMatch(/^debug: etcd /m);
    expect(traced.stderr).toMatch(new RegExp(`^debug: docker GET /networks at ${NO_DOCKER} failed after \\d+ ms: no such socket$`, 'm'));
    expect(traced.stderr).toMatch(/^Warning: network names are not shown: /m);
  });

  it('-l error (the default), warning and info trace nothing', async () => {
    for (const level of ['error', 'warning', 'info']) {
      expect(await piped(['-l', level, 'profile', 'show'])).toEqual({ code: 0, stdout: PROFILE_TABLE, stderr: '' });
    }
  });

  it('a bad level is a usage error naming the choices', async () => {
    expect(await piped(['-l', 'verbose', 'profile', 'show'])).toEqual({
      code: 2,
      stdout: '',
      stderr: "error: option '-l, --log-level <level>' argument 'verbose' is invalid. Allowed choices are error, warning, info, debug.\n",
    });
  });

  it('--debug adds the stack to an error; without it, one line', async () => {
    expect(await piped(NOT_FOUND)).toEqual({ code: 1, stdout: '', stderr: '10.99.0.0/16 is not a configured pool.\n' });
    const debug = await piped(['--debug', ...NOT_FOUND]);
    expect(debug.code).toBe(1);
    expect(debug.stdout).toBe('');
    expect(debug.stderr).toMatch(/^10\.99\.0\.0\/16 is not a configured pool\.\n/m);
    expect(debug.stderr).toMatch(/^\s+at .+/m);
  });

  it('an unreachable etcd is traced with the failure', async () => {
    const result = await piped(['-l', 'debug', '--timeout', '1', 'profile', 'show'], { ETCD_ENDPOINTS: 'http://127.0.0.1:1' });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^debug: etcd http:\/\/127\.0\.0\.1:1\/v3\/\S+ .*failed after \d+ ms: /m);
  });
});
