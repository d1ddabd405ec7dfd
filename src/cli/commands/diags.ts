import { join } from 'node:path';
import { progress } from '../progress';
import { command } from '../spec';
import { CONTAINER_NAME } from './node/plan';

/** Commands whose output goes into the bundle; a failing one records its error instead. */
const COMMANDS: [string, string, string[]][] = [
  ['iptables-save.txt', 'iptables-save', []],
  ['ip6tables-save.txt', 'ip6tables-save', []],
  ['ipset-list.txt', 'ipset', ['list']],
  ['ip-addr.txt', 'ip', ['addr']],
  ['ip-link.txt', 'ip', ['link']],
  ['ip-route.txt', 'ip', ['route', 'show', 'table', 'all']],
  ['ip-neigh.txt', 'ip', ['neigh']],
  ['ip-rule.txt', 'ip', ['rule']],
  ['conntrack-stats.txt', 'conntrack', ['-S']],
];

/** `calicoctl diags`: a tarball of logs, kernel state and etcd's /calico tree, for a bug report. */
export default command<{ logDir: string }>({
  path: ['diags'],
  summary: 'Collect logs, iptables/ipset state, routes and the etcd /calico tree into a tarball',
  options: [{ flags: '--log-dir <DIR>', description: "the agent's log directory", default: '/var/log/calico' }],
  writes: false,
  async run(options, ctx) {
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
    const { system } = ctx.deps;
    const work = system.makeTempDir('calico-diags-');
    const dir = join(work, `diags-${stamp}`);
    system.mkdir(dir);
    let done = () => undefined as void;
    const step = (text: string) => {
      done();
      done = progress(ctx.io, text);
    };

    step('Collecting kernel state (iptables, ipsets, routes)');
    for (const [file, command, args] of COMMANDS) {
      let text: string;
      try {
        text = await ctx.deps.runner.run(command, args);
      } catch (error) {
        text = `${command} failed: ${(error as Error).message}\n`;
      }
      system.writeFile(join(dir, file), text);
    }

    step('Collecting the etcd /calico tree');
    try {
      const { kvs, revision } = await ctx.kv().getPrefix('/calico/');
      system.writeFile(join(dir, 'etcd-calico.json'), `${JSON.stringify({ revision, keys: Object.fromEntries(kvs.map((kv) => [kv.key, kv.value])) }, null, 2)}\n`);
    } catch (error) {
      system.writeFile(join(dir, 'etcd-calico.json'), `${JSON.stringify({ error: (error as Error).message })}\n`);
    }

    step('Collecting logs');
    system.mkdir(join(dir, 'logs'));
    try {
      for (const file of system.listDir(options.logDir)) system.copyFile(join(options.logDir, file), join(dir, 'logs', file));
    } catch (error) {
      system.writeFile(join(dir, 'logs', 'README.txt'), `Could not read ${options.logDir}: ${(error as Error).message}\n`);
    }
    try {
      system.writeFile(join(dir, 'logs', `${CONTAINER_NAME}-container.log`), await ctx.containers().logs(CONTAINER_NAME));
    } catch {
      // No Docker, or no container: the host-process log is in the log directory.
    }

    step('Writing the tarball');
    const tarball = join(work, `diags-${stamp}.tar.gz`);
    await ctx.deps.runner.run('tar', ['-C', work, '-czf', tarball, `diags-${stamp}`]);
    done();
    ctx.io.out.write(`${tarball}\n`);
  },
});
