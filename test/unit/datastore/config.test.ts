import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { etcdSettings } from '../../../src/datastore/config';

describe('etcdSettings: the password file calicoctl node leaves for the agent', () => {
  const dir = mkdtempSync(join(tmpdir(), 'calico-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads ETCD_PASSWORD_FILE when ETCD_PASSWORD is not set, byte for byte', () => {
    const file = join(dir, 'etcd-password');
    writeFileSync(file, `it's "a b" `, { mode: 0o600 });
    expect(etcdSettings({ ETCD_USERNAME: 'root', ETCD_PASSWORD_FILE: file }).password).toBe(`it's "a b" `);
    expect(etcdSettings({ ETCD_USERNAME: 'root', ETCD_PASSWORD: 'env wins', ETCD_PASSWORD_FILE: file }).password).toBe('env wins');
  });

  it('an unreadable file is a one-line configuration error', () => {
    expect(() => etcdSettings({ ETCD_USERNAME: 'root', ETCD_PASSWORD_FILE: join(dir, 'missing') })).toThrow(/^Cannot read ETCD_PASSWORD_FILE: '.*missing' is not a readable file\.$/);
  });
});
