/**
 * The sharded mode with a password and TLS on every hop: clients, replication and the cluster bus
 * speak TLS only (a plain-text client is refused, the bus answers a TLS handshake that verifies
 * against the CA), a failover runs over the TLS bus while ioredis `Cluster` writes over TLS with the
 * password, and the redis_exporter sidecar (Debian's build of the program the image runs) reads each
 * node in cluster mode over verified TLS.
 */
import { spawnSync } from 'child_process';
import { join } from 'path';
import { Duration } from 'cdk8s';
import { RedisAuth, RedisTls } from '../../src';
import { makeCerts } from '../util/certs';
import { ClusterEnv } from './cluster-env';
import { ClusterWriter } from './cluster-writer';
import { K8sObject, Pod, RedisClient, errText, sleep, waitUntil } from './harness';
import { httpGet as get, metric, plainText } from './tls-checks';

jest.setTimeout(600_000);

const SUBNET = 246;
const NODE_TIMEOUT_MS = 5000;
const HEAL_MS = 180_000;
const PASSWORD = 'cluster s3cret "pw"';
/** The image's entrypoint (`/redis_exporter`), as Debian installs the same program. */
const EXPORTER = 'prometheus-redis-exporter';

describe('RedisCluster with auth and TLS on every hop, metrics in cluster mode', () => {
  const props = {
    nodeTimeout: Duration.millis(NODE_TIMEOUT_MS),
    auth: RedisAuth.fromSecret('cache-auth', 'password'),
    tls: RedisTls.fromSecret('cache-tls'),
    metrics: {},
  };
  let env: ClusterEnv;
  let caFile = '';

  beforeAll(async () => {
    const { manifests } = ClusterEnv.synth(props);
    // As the README says: a certificate for the nodes' Service names only.
    const names = manifests.filter((o) => o.kind === 'Service').flatMap((o) => [o.metadata.name, `${o.metadata.name}.default.svc.cluster.local`]);
    const certs = makeCerts(names);
    caFile = join(certs.dir, 'ca.crt');
    env = await ClusterEnv.create({
      subnet: SUBNET, name: 'cluster-tls', props, password: PASSWORD, certs,
      editManifests: (objects: K8sObject[]) => {
        for (const d of objects.filter((o) => o.kind === 'Deployment')) {
          for (const c of d.spec.template.spec.containers.filter((x: K8sObject) => x.name === 'exporter')) c.command = [EXPORTER];
        }
      },
    });
    await env.waitHealthy('the first start forms the cluster over the TLS bus', HEAL_MS);
  });
  afterAll(async () => {
    await env?.shutdown();
  });

  test('formed over TLS; plain text is refused on the client port, even with the password; the bus port completes a TLS handshake verified by the CA', async () => {
    expect(await env.problems()).toEqual([]);
    const node = env.pods[0];
    expect(await plainText(node.address, 6379, PASSWORD)).toBe('refused');
    // Over TLS, the password is required.
    const anonymous = await RedisClient.connect(node.address, 6379, { timeoutMs: 3000, tls: env.access.tls });
    try {
      await expect(anonymous.command('GET', 'x')).rejects.toThrow(/NOAUTH/);
    } finally {
      anonymous.close();
    }
    // The bus speaks no RESP either way; what shows it is TLS is a handshake that verifies.
    const handshake = spawnSync('openssl', ['s_client', '-connect', `${node.address}:16379`, '-CAfile', caFile, '-verify_return_error', '-brief'],
      { input: '', encoding: 'utf8', timeout: 15_000 });
    expect(handshake.stdout + handshake.stderr).toMatch(/Verification: OK/);
  });

  test('a SIGKILL of a shard\'s master under writes over TLS: its replica is promoted over the TLS bus, nothing WAIT-acknowledged is lost', async () => {
    await env.waitHealthy('healthy before the kill', HEAL_MS);
    const client = env.ioredis();
    const writer = new ClusterWriter(client, 3, Array.from({ length: 120 }, (_, i) => `tls:${i}`));
    const victim = (await env.masterOf(1)) as Pod;
    const replica = env.pods.find((p) => env.shardOf(p) === 1 && p !== victim) as Pod;
    writer.start();
    try {
      await env.waitReplicatedWrites(writer, 20, 'replicated writes on every shard over TLS');
      await victim.kill('SIGKILL');
      try {
        await waitUntil(async () => (await env.masterOf(1)) === replica, HEAL_MS, `${replica.name} promoted`, { intervalMs: 200 });
      } finally {
        await victim.start();
      }
      await env.waitHealthy('the killed master back as a replica', HEAL_MS);
      const since = Date.now();
      await waitUntil(() => writer.acks.some((a) => a.shard === 1 && a.replicated && a.at > since), 60_000, 'shard 1 acknowledging replicated writes again')
        .catch((e) => { throw new Error(`${errText(e)}; the writers' failures: ${writer.describeFailures()}`); });
      await sleep(1000);
    } finally {
      await writer.stop();
    }
    const result = await writer.verify(client);
    console.log(`cluster TLS failover: ${JSON.stringify({ ...result, lostKeys: result.lostKeys.slice(0, 5) })}; failures ${writer.describeFailures()}`);
    expect(result.replicated).toBeGreaterThan(60);
    expect(result.replicatedLost).toBe(0);
  });

  test('every exporter reads its node in cluster mode over verified TLS with the password', async () => {
    await env.waitHealthy('healthy before the scrape', HEAL_MS);
    for (const pod of env.pods) {
      const body = await waitUntil(async () => {
        const b = await get(`http://${pod.address}:9121/metrics`).catch(() => '');
        return metric(b, 'redis_up') === '1' && metric(b, 'redis_cluster_state') === '1' ? b : undefined;
      }, 60_000, `${pod.name}: redis_up 1 and cluster_state 1`, { intervalMs: 500 }).catch((e) => {
        throw new Error(`${errText(e)}\n${pod.logs({ container: 'exporter', lines: 20 })}`);
      });
      expect(metric(body, 'redis_cluster_slots_assigned')).toBe('16384');
    }
    expect(env.pods[0].logs({ container: 'exporter' })).not.toMatch(/skip-tls|InsecureSkipVerify/i);
  });
});
