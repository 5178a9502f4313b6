/**
 * Metrics with TLS, with a real redis_exporter (Debian's prometheus-redis-exporter, the program the
 * sidecar image runs) and a certificate issued as the README says: for the chart's Service names only,
 * no localhost, no pod address. The exporter verifies the server's certificate against the host it
 * dials, so the sidecar dials its instance's own Service name.
 */
import { spawnSync } from 'child_process';
import { join } from 'path';
import { Duration } from 'cdk8s';
import { RedisEngine, RedisTls } from '../../src';
import { makeCerts } from '../util/certs';
import { K8sObject, canRun, errText, waitUntil } from './harness';
import { HaEnv } from './redis-ha-env';
import { httpGet as get, metric } from './tls-checks';

jest.setTimeout(180_000);

/** The image's entrypoint (`/redis_exporter`), as Debian installs the same program. */
const EXPORTER = 'prometheus-redis-exporter';

// The default engine, and Redis: the exporter reads either's INFO.
const ENGINES = [
  { name: 'valkey 9.1 (default)', engine: undefined, subnet: 223 },
  { name: 'redis 8.0', engine: RedisEngine.redis({ image: 'redis:8.0.6' }), subnet: 238 },
].filter((e) => {
  if (!e.engine || canRun(e.engine.image)) return true;
  console.warn(`[e2e] SKIPPED metrics on ${e.name}: no build of its line in the engine cache (scripts/ensure-engines.sh)`);
  return false;
});

describe.each(ENGINES)('metrics with TLS on $name: the exporter sidecar verifies a certificate that names only the Services', ({ engine, subnet }) => {
  let env: HaEnv;
  let caFile = '';
  const tls = RedisTls.fromSecret('redis-ha-e2e-tls');
  const props = { engine, tls, metrics: {}, sentinel: { downAfter: Duration.millis(2000), failoverTimeout: Duration.millis(6000) } };

  beforeAll(async () => {
    const { manifests } = HaEnv.synth(props);
    const names = manifests.filter((o) => o.kind === 'Service').flatMap((o) => [o.metadata.name, `${o.metadata.name}.default.svc.cluster.local`]);
    const certs = makeCerts(names);
    caFile = join(certs.dir, 'ca.crt');
    env = await HaEnv.create({
      subnet, name: `metrics-tls-${subnet}`, certs, props,
      editManifests: (objects: K8sObject[]) => {
        for (const d of objects.filter((o) => o.kind === 'Deployment')) {
          for (const c of d.spec.template.spec.containers.filter((x: K8sObject) => x.name === 'exporter')) {
            c.command = [EXPORTER];
            // Pods share the test's network here: each exporter listens on its pod's own address (the
            // harness sets BIND_ADDRESS to it), not on every address, as a pod's own network would allow.
            c.env = [{ name: 'BIND_ADDRESS', value: '0.0.0.0' }, ...c.env, { name: 'REDIS_EXPORTER_WEB_LISTEN_ADDRESS', value: '$(BIND_ADDRESS):9121' }];
          }
        }
      },
    });
  });
  afterAll(async () => env?.shutdown());

  test('every exporter reports redis_up 1 over verified TLS; dialling localhost would fail the verification', async () => {
    await env.settle(120_000, { converged: false });
    for (const pod of env.redis) {
      const base = `http://${pod.address}:9121`;
      const body = await waitUntil(async () => {
        const b = await get(`${base}/metrics`).catch(() => '');
        return metric(b, 'redis_up') === '1' ? b : undefined;
      }, 30_000, `${pod.name}: redis_up 1`, { intervalMs: 500 }).catch((e) => {
        throw new Error(`${errText(e)}\n${pod.logs({ container: 'exporter', lines: 20 })}`);
      });
      expect(metric(body, 'redis_connected_clients')).toBeDefined();
      // The same exporter, its TLS options unchanged, asked to dial localhost as the sidecar did before.
      const scraped = await get(`${base}/scrape?target=${encodeURIComponent('rediss://localhost:6379')}`);
      expect(metric(scraped, 'redis_up')).toBe('0');
    }
    expect(env.redis[0].logs({ container: 'exporter' })).not.toMatch(/skip-tls|InsecureSkipVerify/i);
    // Why localhost fails: the same handshake, verifying the name the client dials.
    const handshake = (name: string) => spawnSync('openssl', ['s_client', '-connect', `${env.redis[0].address}:6379`, '-CAfile', caFile,
      '-verify_hostname', name, '-verify_return_error', '-brief'], { input: '', encoding: 'utf8', timeout: 15_000 });
    const local = handshake('localhost');
    expect(local.stdout + local.stderr).toMatch(/hostname mismatch/);
    expect(local.status).not.toBe(0);
    const own = handshake(env.hosts[0]);
    expect(own.stdout + own.stderr).toMatch(/Verification: OK/);
    expect(own.status).toBe(0);
  });
});
