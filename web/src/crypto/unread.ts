// Unread counts, on this device only (docs/web.md, "Unread"): for each room the page asks
// about, the messages of the others after the user's own latest read receipt (from any
// of their devices; receipts.ts). The server never learns what was read: the worker
// counts in the decrypted timeline. A room's count is found once by paging its history
// back to that receipt (newest first, at most CAP messages), then kept up to date from
// sync (a new message of the others adds one, an own receipt that moves removes what it
// covers) and kept in IndexedDB (event ids and times only), so a reload pages nothing; a
// gap (a sync that carried fewer events than arrived) pages the room again.

import * as idb from "../idb";
import type { Receipt, TimelineEvent } from "./protocol";

/** counted this far (the page shows "9+" from here on) */
export const CAP = 10;
const PAGE = 30;
const MAX_PAGES = 10; // 300 events back at most: an older receipt counts as not found

/** One unread message: its id and when it was sent. */
interface Seen {
  eventId: string;
  ts: number;
}

/** A room's newest unread messages (oldest first, at most CAP). */
type Room = Seen[];

/** Where the counts come from (the engine): a page of the room's decrypted history
 * (``end``: the token of the older page, null at the start of the room), and the user's
 * own latest receipt as receipts.ts keeps it. */
export interface UnreadSource {
  page(roomId: string, from: string | null, limit: number): Promise<{ events: TimelineEvent[]; end: string | null }>;
  ownReceipt(roomId: string): Receipt | null;
}

/** A message the user may not have read: an ``m.room.message`` of another member (not a
 * Kaari record such as a receipt; an event this device cannot decrypt is not counted). */
function counts(e: TimelineEvent): boolean {
  return !e.own && e.clearType === "m.room.message";
}

/** The messages after the own receipt (all of them without one). */
function uncovered(room: Room, mine: Receipt | null): Room {
  if (!mine) return room;
  const at = room.findIndex((s) => s.eventId === mine.eventId);
  return at >= 0 ? room.slice(at + 1) : room.filter((s) => s.ts > mine.at);
}

/** Both lists together, once each, oldest first, the newest CAP. */
function union(a: readonly Seen[], b: readonly Seen[]): Room {
  const byId = new Map<string, Seen>();
  for (const s of [...a, ...b]) byId.set(s.eventId, s);
  return [...byId.values()].sort((x, y) => x.ts - y.ts).slice(-CAP);
}

export class UnreadBook {
  private rooms: Record<string, Room> = {};
  /** rooms being paged now, with the messages sync brought meanwhile */
  private readonly arriving = new Map<string, Seen[]>();
  private readonly scans = new Map<string, Promise<number>>();

  private constructor(
    private readonly key: string,
    private readonly source: UnreadSource,
    private readonly emit: (roomId: string, count: number) => void,
  ) {}

  static async load(deviceId: string, source: UnreadSource, emit: (roomId: string, count: number) => void): Promise<UnreadBook> {
    const book = new UnreadBook(`unread:${deviceId}`, source, emit);
    book.rooms = (await idb.get<Record<string, Room>>(book.key)) ?? {};
    return book;
  }

  /** Each room's count (at most CAP); null for a room that cannot be read (not a member,
   * no such room, offline). */
  async of(roomIds: readonly string[]): Promise<Record<string, number | null>> {
    const out: Record<string, number | null> = {};
    for (const roomId of roomIds) {
      const known = this.rooms[roomId];
      out[roomId] = known ? known.length : await this.scan(roomId).catch(() => null);
    }
    return out;
  }

  /** Sync brought ``events`` (oldest first) to a room, or a receipt moved (``[]``): a
   * room already counted is brought up to date, and the page told when its count moved. */
  async arrived(roomId: string, events: readonly TimelineEvent[]): Promise<void> {
    const fresh = events.filter(counts).map((e) => ({ eventId: e.eventId, ts: e.ts }));
    const waiting = this.arriving.get(roomId);
    if (waiting) {
      waiting.push(...fresh); // merged when the paging ends
      return;
    }
    const room = this.rooms[roomId];
    if (!room) return; // nobody asked: counted when asked
    const next = uncovered(union(room, fresh), this.source.ownReceipt(roomId));
    if (next.length === room.length && next.every((s, i) => s.eventId === room[i]?.eventId)) return;
    this.rooms[roomId] = next;
    await this.save();
    if (next.length !== room.length) this.emit(roomId, next.length);
  }

  /** More arrived than a sync carries: a counted room is paged again. */
  async gap(roomId: string): Promise<void> {
    if (!this.rooms[roomId]) return;
    delete this.rooms[roomId];
    const count = await this.scan(roomId).catch(() => null);
    if (count !== null) this.emit(roomId, count);
  }

  async wipe(): Promise<void> {
    this.rooms = {};
    await idb.del(this.key);
  }

  private scan(roomId: string): Promise<number> {
    let running = this.scans.get(roomId);
    if (!running) {
      running = this.page(roomId).finally(() => this.scans.delete(roomId));
      this.scans.set(roomId, running);
    }
    return running;
  }

  /** Page back from the newest event until the own receipt's, CAP messages of the
   * others, the start of the room or MAX_PAGES pages. */
  private async page(roomId: string): Promise<number> {
    this.arriving.set(roomId, []);
    try {
      const found: Seen[] = [];
      let from: string | null = null;
      for (let n = 0; n < MAX_PAGES && found.length < CAP; n++) {
        const { events, end } = await this.source.page(roomId, from, PAGE);
        const mine = this.source.ownReceipt(roomId); // receipts on this page included
        let reached = false;
        for (const e of [...events].reverse()) {
          if (mine && (e.eventId === mine.eventId || e.ts < mine.at)) {
            reached = true;
            break;
          }
          if (counts(e)) found.push({ eventId: e.eventId, ts: e.ts });
          if (found.length >= CAP) break;
        }
        if (reached || end === null || events.length === 0) break;
        from = end;
      }
      const room = uncovered(union(found, this.arriving.get(roomId) ?? []), this.source.ownReceipt(roomId));
      this.rooms[roomId] = room;
      await this.save();
      return room.length;
    } finally {
      this.arriving.delete(roomId);
    }
  }

  private save(): Promise<void> {
    return idb.put(this.key, this.rooms);
  }
}
