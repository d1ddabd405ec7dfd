/** @type {import('jest').Config} */
const transform = { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] };

module.exports = {
  projects: [
    {
      displayName: 'fast',
      testEnvironment: 'node',
      roots: ['<rootDir>/test/unit', '<rootDir>/test/cli'],
      transform,
    },
    {
      // Real etcd, Docker, iptables and ipset: scripts/test-all runs these one file at a time.
      displayName: 'e2e',
      testEnvironment: 'node',
      roots: ['<rootDir>/test/e2e'],
      transform,
      testTimeout: 180000,
    },
  ],
};
