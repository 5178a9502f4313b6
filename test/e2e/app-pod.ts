import * as path from 'path';
import { K8sObject } from './harness';

/** The namespace the client applications run in: not the chart's. */
export const APP_NAMESPACE = 'app';
/** The project, bound into each client pod at /app (its node_modules holds the client libraries). */
const PROJECT = path.resolve(__dirname, '..', '..');

/** An env entry of a container. */
export const envValue = (name: string, v: string | number) => ({ name, value: String(v) });

/**
 * A client application's pod in {@link APP_NAMESPACE}: non-root, read-only root filesystem, running
 * `node <writer>` (a path under /app, where the project is bound) with this environment.
 */
export function appPod(name: string, writer: string, env: object[]): K8sObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: APP_NAMESPACE, labels: { app: name } },
    spec: {
      securityContext: { runAsUser: 1000, runAsGroup: 1000, runAsNonRoot: true },
      terminationGracePeriodSeconds: 15,
      containers: [{
        name: 'app',
        image: 'node:20',
        command: ['node', writer],
        securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false },
        // Bound, not reached by its host path: a clone under a 0700 temp dir is closed to uid 1000.
        volumeMounts: [{ name: 'app', mountPath: '/app', readOnly: true }],
        env,
      }],
      volumes: [{ name: 'app', hostPath: { path: PROJECT } }],
    },
  };
}
