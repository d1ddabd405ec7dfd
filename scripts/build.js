#!/usr/bin/env node
'use strict';
// Compiles src/ to dist/ with tsc (type-checked output), then bundles the two programs with
// esbuild: dist/calicoctl.js (reading one module instead of ~30 saves ~10 ms on every command)
// and dist/node/calico-node.js (the agent, which the node image ships without node_modules).
const { cpSync, mkdirSync, rmSync } = require('fs');
const { execFileSync, spawnSync } = require('child_process');
const path = require('path');
const esbuild = require('esbuild');
const { version } = require('../package.json');

const root = path.resolve(__dirname, '..');
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
const common = {
  absWorkingDir: root,
  bundle: true,
  platform: 'node',
  target: 'node20',
  minifySyntax: true,
  minifyWhitespace: true,
  logLevel: 'warning',
  // Saves reading package.json on every start.
  define: { CALICOCTL_VERSION: JSON.stringify(version) },
};
// dockerode, yaml, cli-table3, chalk and etcd3 (gRPC, for certificate plus password; src/cli/system.ts)
// stay outside the CLI bundle: the commands that need them
// load them from node_modules on first use, so the others never read them.
// The CLI is minified too (a smaller bundle compiles faster at every start); its source map is
// only read when --debug asks for stack traces. Error classes set their names explicitly, so
// renamed identifiers change no message.
// Commander loads child_process at start-up for executable subcommands, which calicoctl has none
// of: it gets a stand-in that loads the real module on first use.
const lazyChildProcess = {
  name: 'lazy-child-process',
  setup(build) {
    build.onResolve({ filter: /^(node:)?child_process$/ }, (args) => (/node_modules[\\/]commander[\\/]/.test(args.importer) ? { path: 'child_process', namespace: 'lazy' } : undefined));
    build.onLoad({ filter: /.*/, namespace: 'lazy' }, () => ({
      contents: "module.exports = new Proxy({}, { get: (_, key) => require('node:child_process')[key] });",
      loader: 'js',
    }));
  },
};
async function bundle() {
  // Plugins need esbuild's asynchronous API.
  await esbuild.build({ ...common, entryPoints: ['src/cli/index.ts'], outfile: 'dist/calicoctl.js', external: ['dockerode', 'yaml', 'cli-table3', 'chalk', 'etcd3'], minify: true, sourcemap: true, plugins: [lazyChildProcess] });
  esbuild.buildSync({ ...common, entryPoints: ['src/agent/index.ts'], outfile: 'dist/node/calico-node.js' });
  // etcd3 loads its protocol definition at run time from `<bundle dir>/../proto/rpc.proto`.
  mkdirSync(path.join(root, 'dist/proto'), { recursive: true });
  cpSync(path.join(root, 'node_modules/etcd3/proto'), path.join(root, 'dist/proto'), { recursive: true });
  // V8's compiled code for the CLI bundle (bin/calicoctl's loadBundle), made by one command that runs
  // through argument parsing, the datastore client and the error path: etcd on port 1 refuses at once.
  rmSync(path.join(root, 'dist/calicoctl.js.cache'), { force: true });
  spawnSync(process.execPath, [path.join(root, 'bin/calicoctl'), 'profile', 'databases', 'rule', 'show'], {
    env: { ...process.env, ETCD_ENDPOINTS: 'http://127.0.0.1:1', ETCD_AUTHORITY: '', ETCD_SCHEME: '' },
    stdio: 'ignore',
  });
}

bundle().catch((error) => {
  console.error(error);
  process.exit(1);
});
