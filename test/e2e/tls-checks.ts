/**
 * Small checks the TLS tests of both modes share: what a plain-text client gets from a port, and the
 * metrics an exporter serves over HTTP.
 */
import * as http from 'http';
import { RedisClient } from './harness';

/** What a plain-text client gets from a port: `answered <reply>` to PING, or 'refused' when the connection or the PING fails. */
export async function plainText(host: string, port: number, password?: string): Promise<string> {
  try {
    const c = await RedisClient.connect(host, port, { timeoutMs: 1000, password });
    try {
      return `answered ${String(await c.command('PING'))}`;
    } finally {
      c.close();
    }
  } catch {
    return 'refused';
  }
}

/** GET over plain HTTP, bounded (10 s); the body. */
export function httpGet(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
  });
}

/** The value of an unlabelled metric in a Prometheus text body, or undefined. */
export function metric(body: string, name: string): string | undefined {
  return body.split('\n').find((l) => l.startsWith(`${name} `))?.split(' ')[1];
}
