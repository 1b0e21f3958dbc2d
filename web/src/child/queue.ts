// Ticks made while offline: kept in IndexedDB (idb.ts) with the device's time and local
// day, sent when the tablet is back online (the `online` event, and at start). The
// server's PUT is idempotent, so a tick sent twice is one tick.

import { ApiError } from "../api";
import * as idb from "../idb";
import { tick } from "./api";

export interface QueuedTick {
  taskId: string;
  day: string;
  clientTime: string;
}

/** One queue per device: a tick is sent only with the session of the device it was made on. */
export class TickQueue {
  private readonly key: string;

  constructor(
    deviceId: string,
    private readonly token: string,
  ) {
    this.key = `child-tick-queue:${deviceId}`;
  }

  async queued(): Promise<QueuedTick[]> {
    return (await idb.get<QueuedTick[]>(this.key)) ?? [];
  }

  async enqueue(t: QueuedTick): Promise<void> {
    const all = (await this.queued()).filter((q) => !(q.taskId === t.taskId && q.day === t.day));
    await idb.put(this.key, [...all, t]);
  }

  async dequeue(taskId: string, day: string): Promise<void> {
    await idb.put(this.key, (await this.queued()).filter((q) => !(q.taskId === taskId && q.day === day)));
  }

  /** Send what is queued; a tick the server refuses for good (too old, not due) is
   * dropped, a network error keeps it for the next try. Returns how many are left. */
  async flush(): Promise<number> {
    for (const q of await this.queued()) {
      try {
        await tick(this.token, q.taskId, q.day, q.clientTime);
        await this.dequeue(q.taskId, q.day);
      } catch (e) {
        if (e instanceof ApiError && e.status !== 0 && e.status !== 429 && e.status < 500) {
          await this.dequeue(q.taskId, q.day);
        }
      }
    }
    return (await this.queued()).length;
  }
}

