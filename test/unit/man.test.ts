import { readFileSync } from 'fs';
import { join } from 'path';
import { cliProgram, descendants, exampleLines, generateManPages, usage } from '../../scripts/man';
import { fakeWorld } from '../fakes/cli';

const ROOT = join(__dirname, '../..');
const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
const pages = generateManPages(version);
const committed = (file: string) => readFileSync(join(ROOT, 'man', file), 'utf8');
/** Man text as a reader sees it: roff escapes undone. */
const plain = (roff: string) => roff.replace(/\\-/g, '-').replace(/\\\\/g, '\\').replace(/\\&/g, '').replace(/\\f[BIR]/g, '');

describe('man pages', () => {
  it.each([...pages.keys()])('man/%s is up to date (regenerate with scripts/gen-man)', (file) => {
    expect(committed(file)).toBe(pages.get(file));
  });

  it('the npm package ships every page', () => {
    const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { man: string[] };
    expect([...manifest.man].sort()).toEqual([...pages.keys()].map((file) => `man/${file}`).sort());
  });

  const program = cliProgram(version);
  const groups = program.commands.filter((c) => c.commands.length > 0 && c.name() !== '__complete');
  it.each(groups.map((g) => g.name()))('calicoctl-%s(1) has every command and option of its group', (group) => {
    const text = plain(committed(`calicoctl-${group}.1`));
    const command = program.commands.find((c) => c.name() === group)!;
    for (const leaf of descendants(command)) {
      expect(text).toContain(usage(leaf));
      for (const option of leaf.options) expect(text).toContain(option.long ?? option.short ?? '');
    }
  });

  it('calicoctl(1) has every top-level command and global option', () => {
    const text = plain(committed('calicoctl.1'));
    for (const command of program.commands.filter((c) => c.name() !== '__complete')) expect(text).toContain(usage(command));
    for (const option of program.options) expect(text).toContain(option.long ?? '');
  });

  it('calico-node(8) has every option of the agent', () => {
    const text = plain(committed('calico-node.8'));
    for (const option of ['--log-dir', '--log-level', '--socket', '--hostname', '--no-plugin', '--no-dataplane', '--cleanup', '--state-dir', '--timeout']) {
      expect(text).toContain(option);
    }
  });
});

describe('examples in the man pages and in --help', () => {
  const fromMan = [...pages.values()].flatMap((roff) => plain(roff).split('\n')).map((l) => l.trim()).filter((l) => /^calicoctl [a-z]/.test(l) && !/[<[(|]/.test(l));
  const fromHelp = exampleLines(cliProgram(version));
  const all = [...new Set([...fromMan, ...fromHelp])];

  it('there are examples to check', () => {
    expect(all.length).toBeGreaterThan(10);
  });

  it.each(all)('%s parses (no usage error)', async (line) => {
    const words = line.replace(/\s+#.*$/, '').replace(/\s*[<>|].*$/, '').replace(/&&.*$/, '').trim().split(/\s+/).slice(1);
    const result = await fakeWorld().run(words);
    expect(result.stderr).not.toMatch(/^error: (unknown|missing|too many)|Unexpected word|Incomplete rule|Expected 'rule'/m);
    expect(result.code).not.toBe(2);
  });
});
