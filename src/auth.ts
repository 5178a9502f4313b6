import { Construct } from 'constructs';
import { checkSecretKey, checkSecretName } from './validation';

/**
 * A password kept in an existing Kubernetes Secret. It turns on `requirepass`
 * and `masterauth` on every Redis, `requirepass`, `sentinel auth-pass` and
 * `sentinel sentinel-pass` on every sentinel, and AUTH in the proxy's checks.
 * The password reaches the pods as an environment variable from the Secret;
 * it never appears in the synthesized YAML or on a command line.
 */
export class RedisAuth {
  /**
   * Reads the password from `key` of the Secret `secretName` in the chart's namespace.
   * @param secretName name of an existing Secret
   * @param key the key holding the password
   */
  public static fromSecret(secretName: string, key: string): RedisAuth {
    return new RedisAuth(secretName, key);
  }

  private constructor(
    /** Name of the Secret. */
    public readonly secretName: string,
    /** Key of the password in the Secret. */
    public readonly key: string,
  ) {}

  /** @internal Throws, naming `scope`, when the reference is not valid. */
  public _validate(scope: Construct): void {
    checkSecretName(scope, 'auth.secretName', this.secretName);
    checkSecretKey(scope, 'auth.key', this.key);
  }
}
