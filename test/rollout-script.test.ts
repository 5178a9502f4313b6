import { renderRolloutFns } from '../src/rollout-script';
import { SCRIPT_HEADER, logFn } from '../src/shell';
import { redisCli } from './util/redis-cli';
import { startRedis, startSentinel } from './util/servers';
import { ScriptRun, lintScript, startScript } from './util/shell';

// The queue functions, run by sh against a real redis-server and a real redis-sentinel on loopback.
const HOST = '127.0.78.1';
const REDIS_PORT = 16390;
const SENTINEL_PORT = 26390;
const FNS = `${logFn('test')}\n${renderRolloutFns()}\n`;

const cli = (port: number, ...args: string[]) => redisCli(HOST, port, args);

/** Starts `script` after the functions, as pod `me`. */
function start(me: string, script: string, timeoutMs = 20_000): ScriptRun {
  return startScript(`set -euf\n${FNS}${script}`, {
    SENTINEL_HOSTS: HOST, SENTINEL_PORT: String(SENTINEL_PORT), MASTER_NAME: 'mm', ANNOUNCE_HOST: me, REDIS_PORT: String(REDIS_PORT),
  }, timeoutMs);
}

/** Runs `script` to its end (its place holders end with it). */
function run(me: string, script: string): Promise<{ code: number | null; out: string }> {
  return start(me, script).done;
}

test('the functions pass sh -n and shellcheck', () => {
  expect(lintScript(`${SCRIPT_HEADER}${FNS}`)).toBe('');
});

test('a queue on the master: first come first served, a place vanishes with its holder, a wait is bounded', async () => {
  await startRedis(HOST, REDIS_PORT);
  const sentinel = await startSentinel({ host: HOST, port: SENTINEL_PORT, masterName: 'mm', masterHost: HOST, masterPort: REDIS_PORT });
  await sentinel.waitUntil('redis-sentinel', () => cli(SENTINEL_PORT, 'SENTINEL', 'get-master-addr-by-name', 'mm').includes(HOST), 10_000);

  // a-host queues first and holds its place; b-host queues behind it and cannot pass within 3 s.
  // a-host keeps its place until stopped.
  const a = start('a-host', `rollout_wait redis true "$(( $(date +%s) + 10 ))" && echo "a first"; sleep 30`, 60_000);
  const deadline = Date.now() + 10_000;
  let queued = '';
  while (queued !== 'a-host' && Date.now() < deadline) queued = (await run('x', `rollout_queue ${HOST} ${REDIS_PORT} redis`)).out.trim();
  expect(queued).toBe('a-host');
  const bBlocked = await run('b-host', `if rollout_wait redis true "$(( $(date +%s) + 2 ))"; then echo passed; else echo timed-out; fi`);
  expect(bBlocked.out).toContain('timed-out');
  // Other queues are separate.
  const s = await run('s-host', `rollout_wait sentinel true "$(( $(date +%s) + 5 ))" && echo "s first"`);
  expect(s.out).toContain('s first');
  a.stop();
  expect((await a.done).out).toContain('a first');
  // a-host is gone, so b-host passes; but not while its own check fails.
  const bNotReady = await run('b-host', `no() { return 1; }; if rollout_wait redis no "$(( $(date +%s) + 2 ))"; then echo passed; else echo timed-out; fi`);
  expect(bNotReady.out).toContain('timed-out');
  const b = await run('b-host', `rollout_wait redis true "$(( $(date +%s) + 5 ))" && echo passed`);
  expect(b.out).toContain('passed');
  // The readiness checks, against the real servers.
  expect((await run('x', `redis_in_sync ${HOST} && echo in-sync`)).out).toContain('in-sync');
  expect((await run('x', `redis_in_sync 127.0.78.2 || echo down`)).out).toContain('down');
  expect((await run('x', `sentinels_serving && echo serving`)).out).toContain('serving');
  expect((await run(HOST, `sentinels_serving && echo serving-without-self`)).out).toContain('serving-without-self');
}, 30_000);
