import { spawnSync } from 'child_process';
import { writeFileSync } from 'fs';
import { join } from 'path';
import { ClusterConfValues, ClusterEndpointType, NODES_CONF, renderClusterConf } from '../../src/cluster/cluster-config';
import { REDIS_PATHS } from '../../src/server-config';
import { TLS_DIR, TLS_FILES } from '../../src/tls';
import { makeCerts } from '../util/certs';
import { RealProcess } from '../util/process';
import { tempDir } from '../util/temp';

const values: ClusterConfValues = {
  port: 16790, busPort: 26790, nodeTimeoutMillis: 5000, preferredEndpointType: ClusterEndpointType.HOSTNAME,
  minReplicasToWrite: 1, minReplicasMaxLagSeconds: 2,
};
const HOST = '127.0.123.1';

/** Starts redis-server on the rendered config, as the entrypoint's include would, and returns CONFIG GET. */
async function loaded(conf: string, tlsDir?: string): Promise<(key: string) => string> {
  const config = tempDir('cluster-conf');
  writeFileSync(join(config, 'redis.conf'), `${conf}bind ${HOST}\n`);
  const server = RealProcess.start(['redis-server', `${REDIS_PATHS.config}/redis.conf`], [
    { source: config, target: REDIS_PATHS.config, readOnly: true },
    { source: tempDir('cluster-conf-data'), target: REDIS_PATHS.data },
    ...(tlsDir ? [{ source: tlsDir, target: TLS_DIR, readOnly: true }] : []),
  ]);
  const tls = tlsDir ? ['--tls', '--cacert', join(tlsDir, 'ca.crt'), '--cert', join(tlsDir, 'tls.crt'), '--key', join(tlsDir, 'tls.key')] : [];
  const get = (key: string) => spawnSync('redis-cli', ['-h', HOST, '-p', String(values.port), ...tls, '--raw', 'config', 'get', key],
    { encoding: 'utf8', timeout: 5000 }).stdout.trim().split('\n')[1] ?? '';
  // A mount below /etc needs a tmpfs layer over the host's /etc (a bind per entry): slow under load.
  await server.waitUntil('the server answers with the rendered config', () => get('cluster-node-timeout') === '5000', tlsDir ? 60_000 : 10_000);
  return get;
}

describe('renderClusterConf', () => {
  test('the real server loads it: cluster on, nodes.conf on the volume, the chart\'s safety settings', async () => {
    const get = await loaded(renderClusterConf(values));
    expect(Object.fromEntries(['cluster-enabled', 'cluster-config-file', 'cluster-port', 'cluster-announce-port', 'cluster-announce-bus-port',
      'cluster-preferred-endpoint-type', 'cluster-require-full-coverage', 'cluster-replica-validity-factor', 'cluster-allow-replica-migration',
      'appendonly', 'min-replicas-to-write', 'min-replicas-max-lag', 'dir'].map((k) => [k, get(k)]))).toEqual({
      'cluster-enabled': 'yes', 'cluster-config-file': NODES_CONF, 'cluster-port': '26790', 'cluster-announce-port': '16790',
      'cluster-announce-bus-port': '26790', 'cluster-preferred-endpoint-type': 'hostname', 'cluster-require-full-coverage': 'no',
      'cluster-replica-validity-factor': '0', 'cluster-allow-replica-migration': 'no', 'appendonly': 'yes',
      'min-replicas-to-write': '1', 'min-replicas-max-lag': '2', 'dir': REDIS_PATHS.data,
    });
  });

  test('with TLS the real server closes the plain port and uses TLS for replication and the cluster bus', async () => {
    const certs = makeCerts(['node-0-0.cache.svc.cluster.local'], [HOST]);
    expect(TLS_FILES.cert).toBe(`${TLS_DIR}/tls.crt`);
    const get = await loaded(renderClusterConf({ ...values, tls: TLS_FILES }), certs.dir);
    expect([get('port'), get('tls-port'), get('tls-replication'), get('tls-cluster'), get('cluster-announce-tls-port')])
      .toEqual(['0', '16790', 'yes', 'yes', '16790']);
  }, 90_000);

  test('holds no address, name or secret: those are written at start', () => {
    expect(renderClusterConf(values)).not.toMatch(/announce-ip|announce-hostname|requirepass|masterauth|^bind|^user/m);
  });
});
