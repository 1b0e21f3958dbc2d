// The page's side of the unread counts (crypto/unread.ts counts them in the worker, from
// the decrypted timeline; the server never learns what was read): asked once for the
// rooms on screen, then kept up to date by the worker's ``unread`` events.

import { useEffect, useState } from "preact/hooks";

import { useApp } from "./context";

/** Each room's unread count (absent while not known, or for a room that cannot be read). */
export function useUnread(roomIds: readonly string[]): ReadonlyMap<string, number> {
  const { crypto } = useApp();
  const [counts, setCounts] = useState<ReadonlyMap<string, number>>(new Map());
  const key = roomIds.join(" ");
  useEffect(() => {
    if (roomIds.length === 0) return;
    const wanted = new Set(roomIds);
    const told = new Set<string>(); // by an event since asking: newer than the answer
    let live = true;
    const unsubscribe = crypto.subscribe((e) => {
      if (e.event !== "unread" || !wanted.has(e.roomId)) return;
      told.add(e.roomId);
      setCounts((old) => new Map(old).set(e.roomId, e.count));
    });
    crypto.call<"unread">({ op: "unread", roomIds: [...roomIds] }).then(
      (answer) => {
        if (!live) return;
        setCounts((old) => {
          const out = new Map(old);
          for (const [roomId, count] of Object.entries(answer.counts)) {
            if (count !== null && !told.has(roomId)) out.set(roomId, count);
          }
          return out;
        });
      },
      () => undefined, // no badges: the links work as ever
    );
    return () => {
      live = false;
      unsubscribe();
    };
  }, [key]);
  return counts;
}
