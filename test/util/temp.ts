import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';

const made: string[] = [];

/** Removes every directory {@link tempDir} made. */
export function removeTempDirs(): void {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** A fresh directory in the system temp directory, removed after the test file (pass or fail). */
export function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), `redis-ha-${prefix}-`));
  made.push(d);
  return d;
}

// Imported by a test file: clean up after it. Imported elsewhere (bench): the caller cleans up.
if (typeof afterAll === 'function') afterAll(removeTempDirs);
