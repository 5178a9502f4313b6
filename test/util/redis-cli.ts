import { spawnSync } from 'child_process';

/**
 * Runs redis-cli against `host:port` (bounded) and returns its output, trimmed. A password goes by
 * the environment, never argv; without one, no AUTH is sent (an inherited REDISCLI_AUTH is dropped).
 */
export function redisCli(host: string, port: number, args: string[], password?: string): string {
  const env: NodeJS.ProcessEnv = { ...process.env, REDISCLI_AUTH: password };
  if (password === undefined) delete env.REDISCLI_AUTH;
  return spawnSync('redis-cli', ['-h', host, '-p', String(port), ...args], { encoding: 'utf8', timeout: 5000, env }).stdout.trim();
}
