/**
 * Process-wide registry of process groups started by the harness, so they are SIGKILLed even
 * when a test crashes or the runner exits without calling shutdown(). Containers additionally
 * run with PR_SET_PDEATHSIG=SIGKILL, so they die if the test runner is SIGKILLed.
 */
const live = new Set<number>();
let hooked = false;

function killAll(): void {
  for (const pgid of live) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  live.clear();
}

function hook(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const handler = (): void => {
      killAll();
      process.removeListener(sig, handler);
      // Re-raise so default behaviour applies when nobody else handles the signal.
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    };
    process.on(sig, handler);
  }
}

export function registerGroup(pgid: number): void {
  hook();
  live.add(pgid);
}

export function unregisterGroup(pgid: number): void {
  live.delete(pgid);
}

export function liveGroups(): number[] {
  return [...live];
}
