import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { etcdSettings } from '../../../src/datastore/config';
import { DatastoreConfigError, DatastoreRefusedError, DatastoreUnavailableError } from '../../../src/datastore/errors';
import { describeEtcd3Error } from '../../../src/datastore/etcd3-store';

// What TLS and auth settings are accepted, and what gRPC's TLS and auth failures are turned into.
// test/e2e/tls-auth.test.ts runs the same against a real etcd with real certificates.
let dir: string;
let ca: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'calico-tls-settings-'));
  ca = join(dir, 'ca.crt');
  writeFileSync(ca, 'not read here');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('TLS settings with plain HTTP', () => {
  it.each([
    ['ETCD_CA_CERT_FILE', { ETCD_ENDPOINTS: 'http://127.0.0.1:2379', ETCD_CA_CERT_FILE: 'ca' }, /^ETCD_CA_CERT_FILE is set, but ETCD_ENDPOINTS says plain http:\/\//],
    ['ETCD_CERT_FILE', { ETCD_AUTHORITY: '127.0.0.1:2379', ETCD_CERT_FILE: 'c', ETCD_KEY_FILE: 'k' }, /^ETCD_CERT_FILE is set, but ETCD_SCHEME says plain http:\/\//],
  ])('is an error naming %s, not a silent downgrade', (_name, env, message) => {
    expect(() => etcdSettings({ ...env, ca } as Record<string, string>)).toThrow(DatastoreConfigError);
    expect(() => etcdSettings(env)).toThrow(message);
  });

  it('https with a CA is fine', () => {
    expect(etcdSettings({ ETCD_ENDPOINTS: 'https://127.0.0.1:2379', ETCD_CA_CERT_FILE: ca })).toMatchObject({ caFile: ca });
  });
});

describe('gRPC failures that no retry can fix', () => {
  const settings = { endpoints: ['https://10.0.0.1:2379'], source: 'ETCD_ENDPOINTS' as const, timeoutMs: 5000, caFile: '/etc/ca.pem', certFile: '/etc/client.pem', keyFile: '/etc/client.key' };
  it.each([
    ['an untrusted server certificate', '14 UNAVAILABLE: No connection established. Last error: Error: unable to verify the first certificate. Resolution note: ', /^TLS with etcd at https:\/\/10\.0\.0\.1:2379 failed: unable to verify the first certificate \(its certificate is not trusted\)\. Check ETCD_CA_CERT_FILE \(\/etc\/ca\.pem\)\.$/],
    ['a refused client certificate', '14 UNAVAILABLE: No connection established. Last error: 80BC4BDC657F0000:error:0A000412:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1601:SSL alert number 42 (2026-12-02T00:24:51.728Z). Resolution note: .', /^etcd at .* refused this client's certificate \(TLS alert bad certificate\)\. Check ETCD_CERT_FILE \(\/etc\/client\.pem\) and ETCD_KEY_FILE\.$/],
    ['a bad password', '3 INVALID_ARGUMENT: etcdserver: authentication failed, invalid user ID or password', /refused the request: .*authentication failed.*Check ETCD_USERNAME and ETCD_PASSWORD\.$/],
  ])('%s is a DatastoreRefusedError naming the setting', (_what, message, expected) => {
    const error = describeEtcd3Error(new Error(message), settings);
    expect(error).toBeInstanceOf(DatastoreRefusedError);
    expect(error.message).toMatch(expected);
    expect(error.message).not.toMatch(/\n|Resolution note|deps\/openssl/);
  });

  it('an unreachable endpoint is unavailable, which a daemon waits out', () => {
    const error = describeEtcd3Error(new Error('14 UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED 10.0.0.1:2379'), settings);
    expect(error).toBeInstanceOf(DatastoreUnavailableError);
    expect(error).not.toBeInstanceOf(DatastoreRefusedError);
  });
});
