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

const KEY = "child-tick-queue";

export async function queued(): Promise<QueuedTick[]> {
  return (await idb.get<QueuedTick[]>(KEY)) ?? [];
}

export async function enqueue(t: QueuedTick): Promise<void> {
  const all = (await queued()).filter((q) => !(q.taskId === t.taskId && q.day === t.day));
  await idb.put(KEY, [...all, t]);
}

export async function dequeue(taskId: string, day: string): Promise<void> {
  await idb.put(KEY, (await queued()).filter((q) => !(q.taskId === taskId && q.day === day)));
}

/** Send what is queued; a tick the server refuses for good (too old, not due) is
 * dropped, a network error keeps it for the next try. Returns how many are left. */
export async function flush(token: string): Promise<number> {
  for (const q of await queued()) {
    try {
      await tick(token, q.taskId, q.day, q.clientTime);
      await dequeue(q.taskId, q.day);
    } catch (e) {
      if (e instanceof ApiError && e.status !== 0 && e.status !== 429 && e.status < 500) {
        await dequeue(q.taskId, q.day);
      }
    }
  }
  return (await queued()).length;
}
