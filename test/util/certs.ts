import { execFileSync } from 'child_process';
import { readFileSync, writeFileSync } from 'fs';
import { tempDir } from './temp';
import { join } from 'path';

/** PEM texts of a CA and one certificate it signed. */
export interface TestCerts {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
  /** The directory holding ca.crt, tls.crt and tls.key. */
  readonly dir: string;
}

/**
 * Generates, with the real openssl, a throwaway CA and a certificate valid for
 * `names` (DNS) and 127.0.0.0/8 addresses used by tests, in a fresh directory.
 */
export function makeCerts(names: string[], ips: string[] = []): TestCerts {
  const dir = tempDir('certs');
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe', timeout: 15_000 });
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=redis-ha-test-ca',
    '-keyout', 'ca.key', '-out', 'ca.crt');
  run('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=redis-ha', '-keyout', 'tls.key', '-out', 'tls.csr');
  const san = [...names.map((n) => `DNS:${n}`), ...ips.map((ip) => `IP:${ip}`)].join(',');
  writeFileSync(join(dir, 'ext.cnf'), `subjectAltName=${san}\nextendedKeyUsage=serverAuth,clientAuth\n`);
  run('x509', '-req', '-in', 'tls.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2',
    '-extfile', 'ext.cnf', '-out', 'tls.crt');
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  return { ca: read('ca.crt'), cert: read('tls.crt'), key: read('tls.key'), dir };
}
