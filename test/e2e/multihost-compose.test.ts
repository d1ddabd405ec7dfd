import { execFile } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { IMAGE, SERVERS, startCalicoLab, tcpConnects } from './harness/calico-lab';
import type { Lab, LabHost } from './harness/lab';
import { settlesAs } from './harness/poll';

jest.setTimeout(300_000);

/**
 * Docker Compose across the multi-host lab: a project on host 1 makes the `databases` network and
 * runs the database, one on host 3 makes `applications` and runs the application. Both networks
 * are global (the cluster store), so each exists on every host with one ID and one profile. The rule, given once by the network's name, decides what crosses hosts,
 * and both `docker-compose down` leave no endpoint, address or network behind.
 */
let lab: Lab;
const PROJECT = 'labcompose';

function compose(host: LabHost, file: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('docker-compose', ['--project-name', PROJECT, '--file', file, ...args], { env: { PATH: process.env.PATH, HOME: host.dir, DOCKER_HOST: `unix://${host.dockerSock}` } }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

const mustCompose = async (host: LabHost, file: string, ...args: string[]) => {
  const result = await compose(host, file, ...args);
  if (result.code !== 0) throw new Error(`docker-compose ${args.join(' ')} on ${host.name}: ${result.stderr}\n${host.log('calico-node').split('\n').slice(-30).join('\n')}`);
  return result.stdout;
};

const databasesFile = `version: "2.4"
services:
  db:
    image: ${IMAGE}
    command: ["sh", "-c", "${SERVERS}"]
    networks: [databases]
networks:
  databases:
    driver: calico
    ipam:
      driver: calico
`;

const applicationsFile = `version: "2.4"
services:
  app:
    image: ${IMAGE}
    command: ["sleep", "86400"]
    networks: [applications]
networks:
  applications:
    driver: calico
    ipam:
      driver: calico
`;

let files: { databases: string; applications: string };

beforeAll(async () => {
  lab = await startCalicoLab({ hosts: 3, clusterStore: true });
  files = { databases: path.join(lab.dir, 'databases.yml'), applications: path.join(lab.dir, 'applications.yml') };
  fs.writeFileSync(files.databases, databasesFile);
  fs.writeFileSync(files.applications, applicationsFile);
});

afterAll(async () => {
  if (lab) {
    await compose(lab.hosts[2]!, files.applications, 'down', '--timeout', '1');
    await compose(lab.hosts[0]!, files.databases, 'down', '--timeout', '1');
    await lab.stop();
  }
});

const tcp = (from: LabHost, ip: string, port: number) => tcpConnects(from, `${PROJECT}_app_1`, ip, port);

const eventually = (check: () => Promise<boolean>, want: boolean) => settlesAs(check, want, 30, 300);

describe('docker-compose on the multi-host lab', () => {
  it('runs a project per host on shared calico networks, with one rule deciding across hosts, and comes down clean', async () => {
    const [h1, , h3] = lab.hosts as [LabHost, LabHost, LabHost];
    await mustCompose(h1, files.databases, 'up', '--detach');
    await mustCompose(h3, files.applications, 'up', '--detach');
    const databases = `${PROJECT}_databases`;
    const applications = `${PROJECT}_applications`;
    const ip = (await h1.docker('inspect', '-f', `{{(index .NetworkSettings.Networks "${databases}").IPAddress}}`, `${PROJECT}_db_1`)).stdout.trim();
    expect(ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);

    // The database is only reachable once the rule, given on host 2 by the network's name, says so.
    expect(await eventually(() => tcp(h3, ip, 3306), false)).toBe(false);
    const rule = await lab.hosts[1]!.calicoctl(['profile', databases, 'rule', 'add', 'inbound', 'allow', 'tcp', 'from', 'tag', applications, 'to', 'ports', '3306']);
    expect(rule).toMatchObject({ code: 0, stderr: '' });
    expect(await eventually(() => tcp(h3, ip, 3306), true)).toBe(true);
    expect(await tcp(h3, ip, 8080)).toBe(false);

    await mustCompose(h3, files.applications, 'down', '--timeout', '1');
    await mustCompose(h1, files.databases, 'down', '--timeout', '1');
    expect((await lab.etcdGet('/calico/v1/host/')).split('\n').filter((line) => line.includes('/endpoint/'))).toEqual([]);
    expect(await lab.etcdGet('/calico/v1/policy/profile/')).toBe('');
    const info = await h1.calicoctl(['ipam', 'info', ip]);
    expect(info.stdout + info.stderr).toContain('not currently assigned');
    for (const host of [h1, h3]) expect((await host.docker('network', 'ls', '--filter', `name=${PROJECT}`, '-q')).stdout.trim()).toBe('');
  });
});
