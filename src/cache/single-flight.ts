import { FOLLOWER_WAIT_MS } from "./policy";
import { TimeoutError, withTimeout } from "../lib/with-timeout";

/**
 * At most one run of the work for a key at a time in this isolate: whoever comes while it runs
 * waits for the same result. The leader's work is also handed to `waitUntil`, so it completes (and
 * its followers get their answer) even if the leader's client goes away. A follower waits at most
 * FOLLOWER_WAIT_MS and then does the work itself, so a lost leader can never hang it.
 */
export class SingleFlight<T> {
  private readonly flights = new Map<string, Promise<T>>();

  get inFlight(): number {
    return this.flights.size;
  }

  async run(key: string, work: () => Promise<T>, waitUntil?: (promise: Promise<unknown>) => void): Promise<{ value: T; leader: boolean }> {
    const running = this.flights.get(key);
    if (running) {
      try {
        return { value: await withTimeout(running, FOLLOWER_WAIT_MS, `waiting for ${key}`), leader: false };
      } catch (err) {
        if (!(err instanceof TimeoutError)) throw err;
        return { value: await work(), leader: true };
      }
    }
    const flight = work().finally(() => {
      if (this.flights.get(key) === flight) this.flights.delete(key);
    });
    this.flights.set(key, flight);
    waitUntil?.(flight.catch(() => {}));
    return { value: await flight, leader: true };
  }
}
