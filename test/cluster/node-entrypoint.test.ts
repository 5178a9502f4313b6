import { renderClusterNodeEntrypoint } from '../../src/cluster/node-entrypoint';
import { renderClusterNodeGuarantee } from '../../src/cluster/node-guarantee';
import { renderClusterNodePreStop } from '../../src/cluster/node-prestop';
import { renderClusterNodeProbe } from '../../src/cluster/node-probe';
import { renderClusterNodeRebalance } from '../../src/cluster/node-rebalance';
import { lintScript } from '../util/shell';

describe.each([
  ['renderClusterNodeEntrypoint', renderClusterNodeEntrypoint()],
  ['renderClusterNodeProbe', renderClusterNodeProbe()],
  ['renderClusterNodePreStop', renderClusterNodePreStop()],
  ['renderClusterNodeRebalance', renderClusterNodeRebalance()],
  ['renderClusterNodeGuarantee', renderClusterNodeGuarantee()],
])('%s', (_name, script) => {
  test('passes sh -n and shellcheck', () => {
    expect(lintScript(script)).toBe('');
  });
  test('holds no control character (a ConfigMap shows it as a readable block)', () => {
    // eslint-disable-next-line no-control-regex
    expect(script).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f]/);
  });
});

// The scenarios run in node-entrypoint-valkey.test.ts (the default line, every run) and
// node-entrypoint-redis7.test.ts (Debian's Redis 7.0, `npm run test:matrix`).
