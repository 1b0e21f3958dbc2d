// Read receipts, end to end encrypted (docs/messaging.md, "Read receipts"): a receipt is
// an ordinary Megolm room event of type org.kaari.read with content {"event_id": "$…"}
// (its sender has read that event and everything before it); the server keeps only
// m.room.encrypted. The worker takes them out of the decrypted timeline, keeps each
// room's latest per member in IndexedDB (never moving one backwards: a receipt whose
// target was not sent later than the kept one's is ignored), so a thread opened later
// (or after a reload) still knows who has read how far. Ids and times only.

import * as idb from "../idb";
import type { Receipt, TimelineEvent } from "./protocol";

export const READ_EVENT = "org.kaari.read";

/** The event id a decrypted receipt covers up to; null when it is not a valid one (not
 * a receipt, unreadable, or from a session that matches no device of its sender). */
export function receiptTarget(e: TimelineEvent): string | null {
  if (e.clearType !== READ_EVENT || e.senderDevice === null) return null;
  return typeof e.readUpTo === "string" && e.readUpTo.startsWith("$") ? e.readUpTo : null;
}

/** Each room's latest receipt per member (persisted per device). */
export class ReceiptBook {
  private rooms: Record<string, Record<string, Receipt>> = {};

  private constructor(private readonly key: string) {}

  static async load(deviceId: string): Promise<ReceiptBook> {
    const book = new ReceiptBook(`receipts:${deviceId}`);
    book.rooms = (await idb.get<Record<string, Record<string, Receipt>>>(book.key)) ?? {};
    return book;
  }

  /** Keep the receipts that move their member's forward; those. */
  async add(roomId: string, receipts: readonly Receipt[]): Promise<Receipt[]> {
    const room = (this.rooms[roomId] ??= {});
    const moved: Receipt[] = [];
    for (const r of receipts) {
      const known = room[r.userId];
      if (known && !(r.at > (known.at ?? -1))) continue; // never backwards
      room[r.userId] = r;
      moved.push(r);
    }
    if (moved.length) await idb.put(this.key, this.rooms);
    return moved;
  }

  of(roomId: string): Receipt[] {
    return Object.values(this.rooms[roomId] ?? {});
  }

  async wipe(): Promise<void> {
    this.rooms = {};
    await idb.del(this.key);
  }
}
