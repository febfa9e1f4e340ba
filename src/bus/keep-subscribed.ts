// A subscription that survives the bus being unreachable when it is made: the process starts anyway
// (readiness reports the bus), and the subscription is tried again with backoff until it holds.
// For listeners whose loss would be silent (cancels, settings changes, progress pushes), not for a
// caller that must know the subscription is active before it goes on.
import type { Logger } from '../log.ts';
import type { Bus, Unsubscribe } from './bus.ts';

export interface KeptSubscription {
  /** Resolves once subscribed (never rejects); a test or a start-up that wants to wait can. */
  readonly active: Promise<void>;
  close(): Promise<void>;
}

export function keepSubscribed(bus: Bus, topic: string, handler: (message: unknown) => void, log: Logger, maxDelayMs = 30_000): KeptSubscription {
  let closed = false;
  let unsubscribe: Unsubscribe | null = null;
  let wake: (() => void) | null = null;
  const active = (async () => {
    for (let delay = 500; !closed; delay = Math.min(delay * 2, maxDelayMs)) {
      try {
        const u = await bus.subscribe(topic, handler);
        if (closed) await u().catch(() => {});
        else unsubscribe = u;
        return;
      } catch (err) {
        log.warn({ err, topic, retryInMs: delay }, 'subscribing to the bus failed; retrying');
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay);
          timer.unref();
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    }
  })();
  return {
    active,
    async close() {
      closed = true;
      (wake as (() => void) | null)?.();
      await unsubscribe?.().catch(() => {});
    },
  };
}
