import { type AgentDeps, EXIT_FAILED, EXIT_OK, EXIT_USAGE, main } from '../../../src/agent/main';

function deps(env: NodeJS.ProcessEnv = {}) {
  const err: string[] = [];
  const d: AgentDeps = { env, version: '9.9.9', stderr: { write: (text: string) => err.push(text) }, onStopSignal: () => undefined };
  return { d, err };
}

describe('calico-node main', () => {
  let stdout: jest.SpyInstance;
  let stderr: jest.SpyInstance;
  beforeEach(() => {
    stdout = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  });
  afterEach(() => {
    stdout.mockRestore();
    stderr.mockRestore();
  });

  it('resolves 0 after printing its version or help', async () => {
    expect(await main(['--version'], deps().d)).toBe(EXIT_OK);
    expect(stdout.mock.calls.join('')).toContain('9.9.9');
    expect(await main(['--help'], deps().d)).toBe(EXIT_OK);
  });

  it('resolves 2 for a usage error', async () => {
    expect(await main(['--no-such-flag'], deps().d)).toBe(EXIT_USAGE);
    expect(await main(['--log-level', 'loud'], deps().d)).toBe(EXIT_USAGE);
  });

  it('resolves 1, saying why, when the agent cannot start', async () => {
    const { d, err } = deps({ ETCD_ENDPOINTS: 'not-a-url' });
    expect(await main(['--no-plugin', '--no-dataplane', '--log-level', 'error'], d)).toBe(EXIT_FAILED);
    expect(err.join('')).toMatch(/^calico-node: Invalid ETCD_ENDPOINTS/);
  });
});
