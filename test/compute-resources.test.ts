/**
 * Requests and limits as the API server accepts them (issue 30, item 1): it refuses a container
 * whose request is above its limit, which synth used to produce from a limit set alone.
 */
import { Size, Testing } from 'cdk8s';
import { ComputeResources, RedisCluster, RedisHa } from '../src';
import { ofKind } from './util/synth';

/** Every container of every Deployment, with the Deployment's component and the container's name. */
function containers(objects: any[]): Array<{ where: string; resources: any }> {
  return ofKind(objects, 'Deployment').flatMap((d) => d.spec.template.spec.containers.map((c: any) => ({
    where: `${d.metadata.labels['app.kubernetes.io/component']}/${c.name}`, resources: c.resources,
  })));
}

const millicores = (q: string) => Number(q.replace(/m$/, ''));
const mebibytes = (q: string) => Number(q.replace(/Mi$/, ''));

/** Synthesizes a mode with the same resources on every container it has. */
const MODES: Array<[string, (r: ComputeResources) => any[]]> = [
  ['RedisHa', (r) => {
    const chart = Testing.chart();
    new RedisHa(chart, 'ha', { redis: { resources: r }, sentinel: { resources: r }, proxy: { resources: r }, metrics: { exporterResources: r } });
    return Testing.synth(chart);
  }],
  ['RedisCluster', (r) => {
    const chart = Testing.chart();
    new RedisCluster(chart, 'cache', { resources: r, metrics: { exporterResources: r } });
    return Testing.synth(chart);
  }],
];

describe.each(MODES)('%s: every container (server, sentinel, proxy, exporter)', (_mode, synth) => {
  test('a limit below the default request lowers the request to it', () => {
    const all = containers(synth({ cpuLimitMillis: 5, memoryLimit: Size.mebibytes(8) }));
    expect(all.length).toBeGreaterThan(0);
    for (const { where, resources } of all) {
      expect({ where, ...resources }).toEqual({ where, limits: { cpu: '5m', memory: '8Mi' }, requests: { cpu: '5m', memory: '8Mi' } });
    }
  });

  test('by default, and with any limit, no request is above its limit', () => {
    for (const r of [{}, { cpuLimitMillis: 50, memoryLimit: Size.mebibytes(128) }, { memoryLimit: Size.gibibytes(4) }]) {
      for (const { where, resources } of containers(synth(r))) {
        expect({ where, cpu: millicores(resources.requests.cpu) <= millicores(resources.limits.cpu) }).toEqual({ where, cpu: true });
        expect({ where, memory: mebibytes(resources.requests.memory) <= mebibytes(resources.limits.memory) }).toEqual({ where, memory: true });
      }
    }
  });

  test('a request given above its limit fails at synth, naming both', () => {
    expect(() => synth({ memoryRequest: Size.mebibytes(512), memoryLimit: Size.mebibytes(256) }))
      .toThrow(/resources\.memoryRequest \("512Mi"\) must not be above the memory limit \(256Mi, [\w.]*resources\.memoryLimit\)/);
    expect(() => synth({ cpuRequestMillis: 300, cpuLimitMillis: 200 }))
      .toThrow(/resources\.cpuRequestMillis \(300\) must not be above the CPU limit \(200, [\w.]*resources\.cpuLimitMillis\)/);
  });

  test('a request above the default limit fails too, saying the limit is the default', () => {
    expect(() => synth({ memoryRequest: Size.gibibytes(64) })).toThrow(/memoryRequest \("65536Mi"\) must not be above the memory limit \(\d+Mi, [\w.]*memoryLimit, by default\)/);
  });

  test('guaranteed: requests equal to the limits (Guaranteed QoS), the defaults\' or the ones given', () => {
    for (const r of [{ guaranteed: true }, { guaranteed: true, cpuLimitMillis: 300, memoryLimit: Size.mebibytes(200) }]) {
      const all = containers(synth(r));
      expect(all.length).toBeGreaterThan(0);
      for (const { where, resources } of all) expect({ where, requests: resources.requests }).toEqual({ where, requests: resources.limits });
    }
    expect(() => synth({ guaranteed: true, memoryRequest: Size.mebibytes(100) }))
      .toThrow(/resources\.memoryRequest \("100Mi"\) must equal the memory limit \(\d+Mi, [\w.]*resources\.memoryLimit, by default\) with guaranteed/);
    expect(() => synth({ guaranteed: true, cpuRequestMillis: 10, cpuLimitMillis: 20 }))
      .toThrow(/resources\.cpuRequestMillis \(10\) must equal the CPU limit \(20, [\w.]*resources\.cpuLimitMillis\) with guaranteed/);
  });

  test('sizes that are no whole number of mebibytes, and CPU that is no positive whole number, fail at synth', () => {
    expect(() => synth({ memoryLimit: Size.kibibytes(1536) })).toThrow(/resources\.memoryLimit \("1\.5Mi"\) must be a positive whole number of mebibytes/);
    expect(() => synth({ cpuLimitMillis: 0 })).toThrow(/resources\.cpuLimitMillis \(0\) must be an integer at least 1/);
  });
});

test('the error names the construct path and the prop the user set', () => {
  const chart = Testing.chart();
  expect(() => new RedisHa(chart, 'ha', { proxy: { resources: { cpuRequestMillis: 900, cpuLimitMillis: 500 } } }))
    .toThrow(/^test\/ha: proxy\.resources\.cpuRequestMillis \(900\)/);
});
