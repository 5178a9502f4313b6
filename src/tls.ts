import { Construct } from 'constructs';
import * as k8s from './k8s-api';
import { Container, secretVolume } from './workload';
import { checkSecretKey, checkSecretName } from './validation';

/** Where the TLS files are mounted in every pod. */
export const TLS_DIR = '/etc/redis-ha/tls';
/** The files under {@link TLS_DIR}. */
export const TLS_FILES = {
  cert: `${TLS_DIR}/tls.crt`,
  key: `${TLS_DIR}/tls.key`,
  ca: `${TLS_DIR}/ca.crt`,
  /** HAProxy's certificate, with its key beside it as `tls.crt.key`, the name HAProxy looks for. */
  haproxyCert: '/etc/redis-ha/tls-haproxy/tls.crt',
} as const;

/** Key names of a TLS Secret. */
export interface TlsSecretKeys {
  /**
   * Key of the PEM certificate; it must be valid for the chart's Service names.
   * @default 'tls.crt'
   */
  readonly cert?: string;
  /**
   * Key of the PEM private key.
   * @default 'tls.key'
   */
  readonly key?: string;
  /**
   * Key of the PEM CA certificate that signed every certificate in the chart.
   * @default 'ca.crt'
   */
  readonly ca?: string;
}

/**
 * TLS for every hop: clients to the proxy, the proxy and the sentinels to
 * Redis, replication, and sentinel to sentinel. Plain-text ports are closed.
 * The Secret is the shape cert-manager writes (`tls.crt`, `tls.key`, `ca.crt`).
 */
export class RedisTls {
  /** TLS files from an existing Secret in the chart's namespace. */
  public static fromSecret(secretName: string, keys: TlsSecretKeys = {}): RedisTls {
    return new RedisTls(secretName, keys.cert ?? 'tls.crt', keys.key ?? 'tls.key', keys.ca ?? 'ca.crt');
  }

  private constructor(
    /** Name of the Secret. */
    public readonly secretName: string,
    /** Key of the certificate. */
    public readonly certKey: string,
    /** Key of the private key. */
    public readonly keyKey: string,
    /** Key of the CA certificate. */
    public readonly caKey: string,
  ) {}

  /** @internal Throws, naming `scope`, when the reference is not valid. */
  public _validate(scope: Construct): void {
    checkSecretName(scope, 'tls.secretName', this.secretName);
    checkSecretKey(scope, 'tls.cert', this.certKey);
    checkSecretKey(scope, 'tls.key', this.keyKey);
    checkSecretKey(scope, 'tls.ca', this.caKey);
  }

  /**
   * @internal Mounts the files read-only at {@link TLS_DIR}, group-readable by
   * the pod's fsGroup; for HAProxy also {@link TLS_FILES.haproxyCert}. Returns the volume, which
   * other containers of the pod may mount too.
   */
  public _mount(container: Container, forHaproxy: boolean): k8s.Volume {
    const volume = secretVolume('tls', this.secretName, {
      [this.certKey]: 'tls.crt',
      [this.keyKey]: 'tls.key',
      [this.caKey]: 'ca.crt',
    });
    container.mount(TLS_DIR, volume, { readOnly: true });
    if (forHaproxy) {
      const keyVolume = secretVolume('tls-haproxy', this.secretName, { [this.certKey]: 'tls.crt', [this.keyKey]: 'tls.crt.key' });
      container.mount(TLS_FILES.haproxyCert.replace(/\/tls\.crt$/, ''), keyVolume, { readOnly: true });
    }
    return volume;
  }

  /** @internal redis-cli options for the chart's scripts. */
  public _cliArgs(): string {
    return `--tls --cacert ${TLS_FILES.ca} --cert ${TLS_FILES.cert} --key ${TLS_FILES.key}`;
  }
}
