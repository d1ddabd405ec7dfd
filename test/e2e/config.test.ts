import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { type AgentProcess, startAgent } from './harness/agent';
import { calicoctl } from './harness/cli';
import { etcdctl, type EtcdServer, startEtcd } from './harness/etcd';
import { waitUntil } from './harness/lab';
import { pluginRequest } from './harness/plugin-socket';
import { Teardown } from './harness/teardown';

/**
 * `calicoctl config` against a real etcd (the keys v0.23 wrote, refusals that write nothing), and a
 * running calico-node changing its log level live when `config felix loglevel` changes: no
 * restart, this host's own LogSeverityScreen winning, and --remove bringing its --log-level back.
 * The agent serves its plugin on a socket of the test's own (no dataplane), so each Plugin.Activate
 * request is a probe: it logs a DEBUG line exactly when the level is debug.
 */
jest.setTimeout(120_000);

const HOST = 'cfg-e2e-host';
let etcd: EtcdServer;
let agent: AgentProcess | undefined;
let dir: string;

async function ctl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return calicoctl(args, { ...etcd.env, HOSTNAME: HOST });
}

const get = async (key: string): Promise<string> => etcdctl(etcd, 'get', '--print-value-only', key);
const all = async (): Promise<string> => etcdctl(etcd, 'get', '--prefix', '/calico/');

beforeAll(async () => {
  etcd = await startEtcd();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'calico-config-e2e-'));
});

afterAll(async () => {
  const teardown = new Teardown();
  await teardown.attempt(async () => agent?.stop());
  await teardown.attempt(async () => etcd?.stop());
  await teardown.attempt(async () => fs.rmSync(dir, { recursive: true, force: true }));
  teardown.done();
});

describe('calicoctl config against etcd', () => {
  it('writes, shows and removes the keys of felix, bgp and node bgp loglevel', async () => {
    expect(await ctl('config', 'felix', 'loglevel', 'warning')).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(await ctl('config', 'bgp', 'loglevel', 'debug')).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(await ctl('config', 'node', 'bgp', 'loglevel', 'none')).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(await get('/calico/v1/config/LogSeverityScreen')).toBe('warning\n');
    expect(await get('/calico/bgp/v1/global/loglevel')).toBe('debug\n');
    expect(await get(`/calico/bgp/v1/host/${HOST}/loglevel`)).toBe('none\n');
    expect((await ctl('config', 'node', 'bgp', 'loglevel')).stdout).toBe('none\n');
    for (const command of [['felix'], ['bgp'], ['node', 'bgp']]) {
      expect((await ctl('config', ...command, 'loglevel', '--remove')).stdout).toBe('Value removed\n');
      expect((await ctl('config', ...command, 'loglevel', '--remove')).stdout).toBe('No value configured\n');
      expect((await ctl('config', ...command, 'loglevel')).stdout).toBe('No value configured\n');
    }
    expect(await all()).toBe('');
  });

  it('refuses unknown names and values (exit 1, etcd untouched) unless --force, which stores the name as given', async () => {
    expect(await ctl('config', 'felix', 'loglevel', 'verbose')).toEqual({
      code: 1,
      stdout: '',
      stderr: "The configuration value 'verbose' is not recognized as a valid value. Use the --force option to override.\n",
    });
    expect(await ctl('config', 'bgp', 'as_num', '1')).toEqual({
      code: 1,
      stdout: '',
      stderr: "The configuration 'as_num' is not recognized as a valid option. Use the --force option to override.\n",
    });
    expect(await all()).toBe('');
    expect((await ctl('config', 'felix', 'ReportingIntervalSecs', '30', '--force')).code).toBe(0);
    expect(await get('/calico/v1/config/ReportingIntervalSecs')).toBe('30\n');
    expect((await ctl('config', 'felix', 'ReportingIntervalSecs', '--remove', '--force')).stdout).toBe('Value removed\n');
    expect((await ctl('config', 'felix', 'loglevel', 'debug', '--dry-run')).stdout).toBe('Would set /calico/v1/config/LogSeverityScreen to debug\n');
    expect(await all()).toBe('');
  });
});

describe('a running calico-node follows config felix loglevel', () => {
  const socket = () => path.join(dir, 'calico.sock');
  const probe = async () => expect((await pluginRequest(socket(), '/Plugin.Activate', '')).status).toBe(200);
  const levelIs = (level: string, source: string) =>
    waitUntil(`the agent says its level is ${level}`, async () => agent!.log().includes(`Log level is now ${level} (from ${source})`), 30_000).catch((error: Error) => {
      throw new Error(`${error.message}\n${agent!.log().split('\n').slice(-20).join('\n')}`);
    });

  it('logs DEBUG lines from config felix loglevel debug on, without a restart, until --remove returns it to --log-level info', async () => {
    agent = await startAgent(etcd, ['--log-level', 'info', '--no-dataplane', '--backend', 'none', '--hostname', HOST, '--socket', socket(), '--state-dir', dir]);
    const pid = agent.child.pid;
    await probe();
    expect((await ctl('config', 'felix', 'loglevel', 'debug')).code).toBe(0);
    await levelIs('debug', 'the global LogSeverityScreen debug');
    await probe();
    // This host's own value wins over the global one, as in Felix.
    await etcdctl(etcd, 'put', `/calico/v1/host/${HOST}/config/LogSeverityScreen`, 'warning');
    await levelIs('warning', "this host's LogSeverityScreen warning");
    await probe();
    await etcdctl(etcd, 'del', `/calico/v1/host/${HOST}/config/LogSeverityScreen`);
    await levelIs('debug', 'the global LogSeverityScreen debug');
    await probe();
    expect((await ctl('config', 'felix', 'loglevel', '--remove')).stdout).toBe('Value removed\n');
    await levelIs('info', '--log-level');
    await probe();
    expect(agent.child.pid).toBe(pid);
    expect(agent.child.exitCode).toBeNull();
    // Stopped, the agent's whole log is in; it is in order, so each probe's line (or its absence)
    // falls between the announcements of the level it was sent at.
    await agent.stop();
    const segments = agent.log().split(/ Log level is now /);
    expect(segments.map((segment) => segment.split('\n')[0]?.replace(/ \(from .*$/, '') ?? '').slice(1)).toEqual(['debug', 'warning', 'debug', 'info']);
    expect(segments.map((segment) => segment.split('\n').filter((line) => / DEBUG \/Plugin\.Activate /.test(line)).length)).toEqual([0, 1, 0, 1, 0]);
  });
});
