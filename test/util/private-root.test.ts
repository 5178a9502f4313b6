import { spawnSync } from 'child_process';
import { existsSync, mkdirSync, writeFileSync } from 'fs';
import { join } from 'path';
import { privateRootArgv } from './private-root';
import { tempDir } from './temp';

// Paths that no host should have: the private root must make them without touching the host.
const ABSENT = '/redis-ha-private-root-test';
const UNDER_ETC = '/etc/redis-ha-private-root-test/tls';

function runInRoot(script: string, readOnlyRoot: boolean) {
  const vol = tempDir('vol');
  writeFileSync(join(vol, 'file'), 'from the volume\n');
  mkdirSync(join(vol, 'sub'));
  const argv = privateRootArgv({
    root: tempDir('root'),
    readOnlyRoot,
    hostname: 'pod-x',
    workingDir: ABSENT,
    mounts: [
      { source: vol, target: ABSENT },
      { source: vol, target: UNDER_ETC, readOnly: true },
      { source: join(vol, 'file'), target: '/etc/hosts' },
      { source: vol, target: `${UNDER_ETC}/sub/deeper` },
    ],
  }, ['sh', '-c', script]);
  // Bounded, with room for a loaded machine (a fresh CI machine builds engines beside the tests).
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 30_000 });
  return { ...r, vol };
}

test('mount paths exist only inside the private root; the host keeps its own entries and stays untouched', () => {
  const r = runInRoot([
    'pwd', 'hostname', 'cat /etc/hosts', `cat ${UNDER_ETC}/file`, 'test -f /etc/passwd && echo host-etc-visible',
    `ls ${UNDER_ETC}/sub`, `touch ${ABSENT}/written && echo volume-writable`,
  ].join('; '), false);
  expect(r.stderr).toBe('');
  expect(r.stdout.split('\n')).toEqual([
    ABSENT, 'pod-x', 'from the volume', 'from the volume', 'host-etc-visible', 'deeper', 'volume-writable', '',
  ]);
  expect(existsSync(join(r.vol, 'written'))).toBe(true);
  expect(existsSync(ABSENT)).toBe(false);
  expect(existsSync('/etc/redis-ha-private-root-test')).toBe(false);
});

test('readOnlyRoot: the root and read-only mounts refuse writes, writable mounts accept them', () => {
  const r = runInRoot([
    'touch /usr/x 2>/dev/null || echo usr-ro', 'touch /etc/x 2>/dev/null || echo etc-ro', 'mkdir /new 2>/dev/null || echo root-ro',
    `touch ${UNDER_ETC}/x 2>/dev/null || echo mount-ro`, `touch ${ABSENT}/y && echo volume-writable`,
  ].join('; '), true);
  expect(r.stdout.split('\n')).toEqual(['usr-ro', 'etc-ro', 'root-ro', 'mount-ro', 'volume-writable', '']);
});
