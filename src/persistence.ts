import { Names, Size } from 'cdk8s';
import { Construct } from 'constructs';
import * as k8s from './k8s-api';
import { PersistentVolumeClaim } from './workload';
import { checkSize, fail, sizeQuantity } from './validation';

/** Options of a dynamically provisioned volume. */
export interface ClaimOptions {
  /**
   * Requested storage.
   * @default Size.gibibytes(1)
   */
  readonly size?: Size;
  /**
   * StorageClass of the claim.
   * @default - the cluster's default StorageClass
   */
  readonly storageClassName?: string;
}

/** Options of a static hostPath volume. */
export interface HostPathOptions {
  /**
   * Directory on the node under which each Redis instance and each sentinel gets a subdirectory
   * named after it: its construct path as a DNS label (`Names.toDnsLabel`, e.g.
   * `redis-ha-redis-redis1-c8…`), stable across synths. Each subdirectory must exist and be
   * writable by the pod's uid (999 for Redis and sentinels).
   */
  readonly directory: string;
  /**
   * Capacity recorded on the PersistentVolume.
   * @default Size.gibibytes(1)
   */
  readonly size?: Size;
}

/**
 * Where a Redis or sentinel pod keeps its data: a claim on a StorageClass
 * (the default), or a static hostPath PersistentVolume for single-node clusters.
 */
export class Persistence {
  /** A PersistentVolumeClaim provisioned by a StorageClass. */
  public static claim(options: ClaimOptions = {}): Persistence {
    return new Persistence(options.size ?? Size.gibibytes(1), options.storageClassName, undefined);
  }

  /** A hostPath PersistentVolume per pod, bound to its claim: data stays on one node. */
  public static hostPath(options: HostPathOptions): Persistence {
    return new Persistence(options.size ?? Size.gibibytes(1), '', options.directory);
  }

  private constructor(
    private readonly size: Size,
    private readonly storageClassName: string | undefined,
    private readonly hostDirectory: string | undefined,
  ) {}

  /** @internal Creates the claim (and its volume) for the pod of `scope`. */
  public _bind(scope: Construct): PersistentVolumeClaim {
    checkSize(scope, 'persistence.size', this.size);
    let volumeName: string | undefined;
    if (this.hostDirectory !== undefined) {
      if (!this.hostDirectory.startsWith('/')) {
        fail(scope, 'persistence.directory', this.hostDirectory, 'must be an absolute path');
      }
      const pv = new k8s.KubePersistentVolume(scope, 'Volume', {
        spec: {
          capacity: { storage: sizeQuantity(this.size, 'Mi') },
          accessModes: ['ReadWriteOnce'],
          persistentVolumeReclaimPolicy: 'Retain',
          storageClassName: '',
          hostPath: { path: `${this.hostDirectory.replace(/\/+$/, '')}/${Names.toDnsLabel(scope)}`, type: 'Directory' },
        },
      });
      volumeName = pv.name;
    }
    return new PersistentVolumeClaim(scope, 'Data', { storage: this.size, storageClassName: this.storageClassName, volumeName });
  }
}
