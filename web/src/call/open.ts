// When a schedule offers to join a video session's room.

/** The room opens this long before the start and closes this long after the end
 * (KAARI_ROOM_OPEN_BEFORE_MINUTES, KAARI_ROOM_GRACE_MINUTES); the server decides. */
const OPEN_BEFORE_MS = 15 * 60_000;
const GRACE_MS = 15 * 60_000;

/** Whether a schedule shows "Join" for a session: a video one that is on and whose room
 * is open (or, with ``soon``, opens within the hour: shown with its opening time). */
export function joinable(a: { placeKind: string; startsAt: string; endsAt: string }, status: string, now = Date.now()): "open" | "soon" | null {
  if (a.placeKind !== "video" || status !== "scheduled") return null;
  const opens = Date.parse(a.startsAt) - OPEN_BEFORE_MS;
  if (now > Date.parse(a.endsAt) + GRACE_MS) return null;
  if (now >= opens) return "open";
  return opens - now < 60 * 60_000 ? "soon" : null;
}
