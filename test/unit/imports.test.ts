import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/**
 * The layers' arrows (ARCHITECTURE.md, "Layers"), read from the sources: every `from '…'`,
 * `import('…')` and `require('…')` of every file under src/.
 */

const ROOT = resolve(__dirname, '../..');
const SRC = join(ROOT, 'src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

interface Import {
  readonly file: string; // relative to the repository, e.g. src/cli/main.ts
  readonly target: string; // a package name, or a path relative to the repository without .ts
}

function importsOf(file: string): Import[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|\brequire\s*\(\s*|^import\s+)['"]([^'"]+)['"]/gm)].map((m) => m[1] as string);
  return specifiers.map((specifier) => ({
    file: relative(ROOT, file),
    target: specifier.startsWith('.') ? relative(ROOT, resolve(dirname(file), specifier)).replace(/\.ts$/, '') : specifier,
  }));
}

const all = sources(SRC).flatMap(importsOf);
const from = (prefix: string) => all.filter((i) => i.file.startsWith(prefix));
const show = (imports: Import[]) => imports.map((i) => `${i.file} -> ${i.target}`);

describe('the layers', () => {
  it('reads imports (the scan itself works)', () => {
    expect(all.length).toBeGreaterThan(200);
    expect(show(from('src/cli/commands/diags/check.ts'))).toContain('src/cli/commands/diags/check.ts -> src/agent/dataplane/contract');
  });

  it('nothing imports src/cli/', () => {
    expect(show(all.filter((i) => !i.file.startsWith('src/cli/') && i.target.startsWith('src/cli')))).toEqual([]);
  });

  it('the CLI imports only the agent\'s two contract modules', () => {
    const allowed = new Set(['src/agent/contract', 'src/agent/dataplane/contract']);
    expect(show(from('src/cli/').filter((i) => i.target.startsWith('src/agent') && !allowed.has(i.target)))).toEqual([]);
  });

  it('the contracts import only Node\'s own modules and each other, so the CLI loads no agent internals', () => {
    expect(show(from('src/agent/contract.ts'))).toEqual([]);
    expect(show(from('src/agent/dataplane/contract.ts').filter((i) => !i.target.startsWith('node:') && i.target !== 'src/agent/contract'))).toEqual([]);
  });

  it('src/policy/ imports nothing of ours from outside it', () => {
    expect(show(from('src/policy/').filter((i) => i.target.startsWith('src/') && !i.target.startsWith('src/policy/')))).toEqual([]);
  });

  it('the agent never imports the CLI, and etcd3 and dockerode stay in their layers', () => {
    expect(show(from('src/agent/').filter((i) => i.target.startsWith('src/cli')))).toEqual([]);
    expect(show(all.filter((i) => i.target === 'etcd3' && i.file !== 'src/datastore/etcd3-store.ts'))).toEqual([]);
    expect(show(all.filter((i) => i.target === 'dockerode' && !i.file.startsWith('src/docker/')))).toEqual([]);
  });
});
