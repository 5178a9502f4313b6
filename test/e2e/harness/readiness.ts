/**
 * Readiness as kubelet tracks it: each container's readinessProbe run on its own schedule
 * (initialDelaySeconds, periodSeconds, timeoutSeconds), ready after successThreshold successes in a
 * row, unready after failureThreshold failures in a row; a container that is not running is not
 * ready. One loop per running container, ended when the container exits or the tracker stops.
 */
import { setTimeout as delay } from 'timers/promises';
import type { Container, Pod } from './kubelet';
import { settleWithin } from './util';

/** Kubernetes' defaults for an unset probe field. */
const PROBE_DEFAULTS = { initialDelaySeconds: 0, periodSeconds: 10, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3 };
/** Bound on waiting for the loops at stop (a probe in flight ends within its timeoutSeconds). */
const STOP_WAIT_MS = 15_000;

export interface ProbeSchedule {
  initialDelayMs: number;
  periodMs: number;
  successThreshold: number;
  failureThreshold: number;
}

export function probeSchedule(probe: Record<string, number | undefined>): ProbeSchedule {
  const v = (k: keyof typeof PROBE_DEFAULTS): number => probe[k] ?? PROBE_DEFAULTS[k];
  return {
    initialDelayMs: v('initialDelaySeconds') * 1000,
    periodMs: v('periodSeconds') * 1000,
    successThreshold: v('successThreshold'),
    failureThreshold: v('failureThreshold'),
  };
}

interface Loop {
  startedAt: number;
  ready: boolean;
  abort: AbortController;
  done: Promise<void>;
}

export class ReadinessTracker {
  private readonly loops = new Map<Container, Loop>();
  private stopped = false;

  constructor(
    /** Called when a pod's readiness may have changed. */
    private readonly onChange: (pod: Pod) => void,
    private readonly log: (msg: string) => void,
  ) {}

  /** Whether every container runs and, where it has a readinessProbe, passes it. */
  isReady(pod: Pod): boolean {
    return pod.containers.every((c) => c.running && (!c.spec.readinessProbe || this.loops.get(c)?.ready === true));
  }

  /** Starts a loop for each running container of the pod that has none for its current run. */
  podStarted(pod: Pod): void {
    if (this.stopped) return;
    for (const c of pod.containers) {
      if (!c.running || !c.spec.readinessProbe) continue;
      const old = this.loops.get(c);
      if (old && old.startedAt === c.startedAt) continue;
      old?.abort.abort();
      const loop: Loop = { startedAt: c.startedAt, ready: false, abort: new AbortController(), done: Promise.resolve() };
      this.loops.set(c, loop);
      loop.done = this.run(c, loop);
    }
    this.onChange(pod);
  }

  /** A container exited: it is unready at once, and its loop ends. */
  containerExited(c: Container): void {
    const loop = this.loops.get(c);
    if (loop) {
      loop.abort.abort();
      loop.ready = false;
    }
    this.onChange(c.pod);
  }

  /** Ends every loop; waits (bounded) for probes in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const l of this.loops.values()) l.abort.abort();
    await settleWithin(Promise.all([...this.loops.values()].map((l) => l.done)), STOP_WAIT_MS);
  }

  private async run(c: Container, loop: Loop): Promise<void> {
    const s = probeSchedule(c.spec.readinessProbe);
    const current = (): boolean => !loop.abort.signal.aborted && c.running && c.startedAt === loop.startedAt;
    let successes = 0;
    let failures = 0;
    if (!(await pause(s.initialDelayMs, loop.abort.signal))) return;
    while (current()) {
      const t0 = Date.now();
      const ok = await c.pod.probe('readiness', { container: c.name });
      if (!current()) return;
      successes = ok ? successes + 1 : 0;
      failures = ok ? 0 : failures + 1;
      const ready = loop.ready ? failures < s.failureThreshold : successes >= s.successThreshold;
      if (ready !== loop.ready) {
        loop.ready = ready;
        this.log(`${c.pod.name}/${c.name} ${ready ? 'ready' : `unready after ${failures} failed readiness probes`}`);
        this.onChange(c.pod);
      }
      if (!(await pause(s.periodMs - (Date.now() - t0), loop.abort.signal))) return;
    }
  }
}

/** Sleeps; false when aborted first (leaves no timer behind). */
async function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false;
  if (ms <= 0) return true;
  try {
    await delay(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}
