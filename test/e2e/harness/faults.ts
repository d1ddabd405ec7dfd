import { execFileSync } from 'child_process';
import { appendFileSync, readFileSync } from 'fs';
import { LAB_ETCD, type Lab, type LabHost, type RunResult } from './lab';

/**
 * What the fault tests (test/e2e/faults.test.ts, test/e2e/hostile-etcd.test.ts) and
 * bench/reliability share: bulk writes into the lab's etcd from inside a host, counts of the
 * agent's kernel objects in a host, the checker run until clean, and the rows of the reliability
 * table.
 */

export interface Put {
  readonly key: string;
  readonly value: string;
}

/**
 * The lab's etcd is reachable only inside the lab, so the writes run there: a short Node script
 * in the host's network namespace, with the keys on stdin, sending transactions of 100 puts (or
 * deletes: an entry without a value) to etcd's JSON gateway (etcd caps a transaction at 128
 * operations), as many at a time as its second argument says.
 */
const BULK_PUT = `
const url = process.argv[1] + '/v3/kv/txn';
const workers = Number(process.argv[2]);
let input = '';
process.stdin.on('data', (c) => (input += c));
process.stdin.on('end', async () => {
  const puts = JSON.parse(input);
  const b64 = (s) => Buffer.from(s, 'utf8').toString('base64');
  const batches = [];
  for (let i = 0; i < puts.length; i += 100) batches.push(puts.slice(i, i + 100));
  const work = async () => {
    for (let batch = batches.shift(); batch; batch = batches.shift()) {
      const ops = batch.map((p) => (p.value === undefined ? { requestDeleteRange: { key: b64(p.key) } } : { requestPut: { key: b64(p.key), value: b64(p.value) } }));
      const body = JSON.stringify({ success: ops });
      const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
      if (!res.ok) throw new Error('etcd answered ' + res.status + ': ' + (await res.text()));
    }
  };
  await Promise.all(Array.from({ length: workers }, work));
});
`;

async function bulkWrite(host: LabHost, ops: readonly { key: string; value?: string }[], workers: number): Promise<void> {
  const result = await host.execNet([process.execPath, '-e', BULK_PUT, LAB_ETCD.split(',')[0] as string, String(workers)], { input: JSON.stringify(ops), timeoutMs: 300_000 });
  if (result.code !== 0) throw new Error(`bulk write of ${ops.length} keys: ${result.stderr}`);
}

export async function bulkPut(host: LabHost, puts: readonly Put[]): Promise<void> {
  await bulkWrite(host, puts, 4);
}

/**
 * Deletes keys in transactions of 100, one after another: the agent sees many watch events, not
 * one, so its removal is spread over several passes (a kill can land between them).
 */
export async function bulkDelete(host: LabHost, keys: readonly string[]): Promise<void> {
  await bulkWrite(host, keys.map((key) => ({ key })), 1);
}

export async function etcdDelPrefix(lab: Lab, prefix: string): Promise<void> {
  const result = await lab.inSwitch(['etcdctl', `--endpoints=${LAB_ETCD}`, 'del', '--prefix', prefix]);
  if (result.code !== 0) throw new Error(`etcdctl del --prefix ${prefix}: ${result.stderr}`);
}

/** A synthetic endpoint of a fault test: its 64-character ID, its interface and address. */
export function syntheticEndpoint(tag: string, n: number): { id: string; iface: string; ip: string } {
  const id = `${tag}${n.toString(16).padStart(11 - tag.length, '0')}${'f'.repeat(53)}`;
  return { id, iface: `cali${id.slice(0, 11)}`, ip: `10.201.${Math.floor(n / 250)}.${(n % 250) + 1}` };
}

/**
 * Endpoints that an orchestrator other than Docker's put on `host` (so the checker does not ask
 * Docker for their containers), each in profile `profile`; their interfaces are dummy links that
 * makeLinks() creates, so the agent programs their routes too.
 */
export function endpointPuts(hostname: string, tag: string, count: number, profile: string, from = 0): Put[] {
  return Array.from({ length: count }, (_, i) => {
    const { id, iface, ip } = syntheticEndpoint(tag, from + i);
    const value = { state: 'active', name: iface, mac: 'ee:ee:ee:ee:ee:ee', profile_ids: [profile], ipv4_nets: [`${ip}/32`], ipv6_nets: [], labels: {} };
    return { key: `/calico/v1/host/${hostname}/workload/faults/w${tag}/endpoint/${id}`, value: JSON.stringify(value) };
  });
}

export function profilePuts(id: string, tags: readonly string[] = [id]): Put[] {
  return [
    { key: `/calico/v1/policy/profile/${id}/tags`, value: JSON.stringify(tags) },
    { key: `/calico/v1/policy/profile/${id}/rules`, value: JSON.stringify({ inbound_rules: [{ action: 'allow', src_tag: tags[0] }, { action: 'allow', protocol: 'tcp', dst_ports: [5000] }], outbound_rules: [{ action: 'allow' }] }) },
  ];
}

/**
 * Veth pairs named like the endpoints' (the kernel here has no dummy links), so the agent's routes
 * have their devices; the other end's name has no `cali` prefix, so nothing owns or judges it.
 */
export async function makeLinks(host: LabHost, tag: string, count: number, op: 'add' | 'del' = 'add'): Promise<void> {
  const lines = Array.from({ length: count }, (_, i) => {
    const { iface } = syntheticEndpoint(tag, i);
    const peer = `p${iface.slice(4)}`;
    return op === 'add' ? `link add ${iface} type veth peer name ${peer}\nlink set ${iface} up\nlink set ${peer} up` : `link del ${iface}`;
  });
  const result = await host.exec(['ip', '-batch', '-'], { input: `${lines.join('\n')}\n`, timeoutMs: 120_000 });
  if (result.code !== 0) throw new Error(`ip link ${op} of ${count} links: ${result.stderr}`);
}

export interface KernelCounts {
  /** cali-from-<tag>… chains: one per programmed endpoint with that tag. */
  readonly chains: number;
  /** proto 157 routes into <tag>'s interfaces. */
  readonly routes: number;
}

export async function kernelCounts(host: LabHost, tag: string): Promise<KernelCounts> {
  const [saved, routes] = await Promise.all([host.exec(['iptables-save', '-t', 'filter']), host.exec(['ip', '-4', 'route', 'show', 'proto', '157'])]);
  return {
    chains: saved.stdout.split('\n').filter((line) => line.startsWith(`:cali-from-${tag}`)).length,
    routes: routes.stdout.split('\n').filter((line) => line.includes(` dev cali${tag}`)).length,
  };
}

/**
 * `diags --check` on a host until it is clean: the agent programs the kernel a moment after etcd
 * changes. Bounded by attempts; the last result is returned either way.
 */
export async function checkUntilClean(host: LabHost, attempts = 120): Promise<RunResult> {
  let result = await host.calicoctl(['diags', '--check']);
  for (let attempt = 0; attempt < attempts && result.code !== 0; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    result = await host.calicoctl(['diags', '--check']);
  }
  return result;
}

export const CLEAN: RunResult = { code: 0, stdout: 'No problems found.\n', stderr: '' };

/** The pids of a daemon (by its command name, or a pattern of it) in a host's network namespace. */
export function pidsOf(host: LabHost, comm: string | RegExp): number[] {
  const pids: number[] = [];
  for (const pid of execFileSync('ip', ['netns', 'pids', host.ns], { encoding: 'utf8' }).split(/\s+/).filter(Boolean)) {
    try {
      const name = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      if (typeof comm === 'string' ? name === comm : comm.test(name)) pids.push(Number(pid));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

/** One row of bench/reliability's table. */
export interface ReliabilityRow {
  readonly scenario: string;
  readonly done: string;
  /** What was lost or left behind; 0 is the only good answer. */
  readonly lost: number;
  /** `diags --check`'s findings after recovery (null where the scenario has no host of its own to check). */
  readonly findings: number | null;
  readonly seconds: number;
}

/** Appends a row to the file bench/reliability names in RELIABILITY_ROWS (and prints it for a plain test run). */
export function recordRow(row: ReliabilityRow): void {
  console.log(`reliability: ${JSON.stringify(row)}`);
  const file = process.env.RELIABILITY_ROWS;
  if (file) appendFileSync(file, `${JSON.stringify(row)}\n`);
}

/** The findings a check printed; a failed run without any (it printed "No problems found." and still exited non-zero) counts none. */
export const findingsOf = (result: RunResult): number => (result.code === 0 ? 0 : result.stdout.split('\n').filter((line) => line.trim() !== '' && line !== 'No problems found.').length);
