// The service worker: caches the app shell and the crypto wasm at install (the list is
// made at build time, vite.config.ts), answers them from the cache, and never caches an
// API answer. A new build is a new sw.js (its list differs): it replaces the old cache.
// It also shows push notices (content-free, in the device's language) and opens the
// right screen when one is tapped (docs/web.md "Push").

import * as idb from "./idb";
import { fill, NOTICES, type NoticeLocale } from "./i18n/push";
import { unseal } from "./vault";

declare const self: ServiceWorkerGlobalScope & { __PRECACHE__: string[] };

const PRECACHE: string[] = self.__PRECACHE__;
const BASE = "/app/";

async function listHash(): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(PRECACHE.join("\n")));
  return Array.from(new Uint8Array(digest).slice(0, 6), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function cacheName(): Promise<string> {
  return `kaari-shell-${await listHash()}`;
}

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(await cacheName());
      await cache.addAll(PRECACHE.map((f) => new URL(f, self.registration.scope).href));
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      const keep = await cacheName();
      for (const name of await caches.keys()) {
        if (name.startsWith("kaari-shell-") && name !== keep) await caches.delete(name);
      }
      await self.clients.claim();
    })(),
  );
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== location.origin || !url.pathname.startsWith(BASE)) return;
  event.respondWith(
    (async () => {
      const cache = await caches.open(await cacheName());
      if (url.pathname.startsWith(`${BASE}assets/`)) {
        const hit = await cache.match(event.request);
        if (hit) return hit;
        return fetch(event.request);
      }
      // the shell (index.html for every client route): the network first, so a new
      // build shows at once; the cached copy when offline
      try {
        return await fetch(event.request);
      } catch {
        return (await cache.match(event.request)) ?? (await cache.match(BASE)) ?? Response.error();
      }
    })(),
  );
});

// --- push ---------------------------------------------------------------------------

/** The plaintext the server pushes (docs/notifications.md): a kind and ids, nothing else. */
interface PushMessage {
  type: string;
  ids: Record<string, string>;
}

function parsePush(data: PushMessageData | null): PushMessage | null {
  try {
    const raw = data?.json() as { type?: unknown; ids?: unknown } | undefined;
    if (!raw || typeof raw.type !== "string") return null;
    const ids: Record<string, string> = {};
    if (raw.ids && typeof raw.ids === "object") {
      for (const [k, v] of Object.entries(raw.ids as Record<string, unknown>)) if (typeof v === "string") ids[k] = v;
    }
    return { type: raw.type, ids };
  } catch {
    return null;
  }
}

const DATE_LOCALES = { fi: "fi-FI", sv: "sv-FI", en: "en-GB" } as const;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function noticeLocale(): Promise<NoticeLocale> {
  const stored = await idb.get<string>("push-locale").catch(() => undefined);
  return stored === "fi" || stored === "sv" || stored === "en" ? stored : "fi";
}

interface SessionLite {
  token: string;
  role: string;
}

async function signedIn(): Promise<SessionLite | null> {
  const raw = await unseal("session").catch(() => undefined);
  if (!raw) return null;
  try {
    const s = JSON.parse(raw) as Partial<SessionLite>;
    return typeof s.token === "string" ? { token: s.token, role: String(s.role ?? "") } : null;
  } catch {
    return null;
  }
}

async function api<T>(path: string, token: string): Promise<T | null> {
  try {
    const r = await fetch(path, { headers: { authorization: `Bearer ${token}` }, cache: "no-store" });
    return r.ok ? ((await r.json()) as T) : null;
  } catch {
    return null;
  }
}

/** "Eino has a session tomorrow at 10:00": the child's first name and the time, read with
 * the device's own token (the push itself carries neither); the plain line offline. */
async function reminderBody(locale: NoticeLocale, ids: Record<string, string>): Promise<string> {
  const words = NOTICES[locale];
  const session = await signedIn();
  const appointmentId = ids["appointmentId"] ?? "";
  if (!session || !UUID.test(appointmentId)) return words.reminderBodyPlain;
  const appt = await api<{ startsAt: string }>(`/appointments/${appointmentId}`, session.token);
  if (!appt) return words.reminderBodyPlain;
  const time = new Intl.DateTimeFormat(DATE_LOCALES[locale], {
    timeZone: "Europe/Helsinki",
    hour: "2-digit",
    minute: "2-digit",
  }).format(new Date(appt.startsAt));
  if (session.role === "child") return fill(words.reminderBodyChild, { time });
  const cases = await api<{ id: string; childName: string | null }[]>("/cases", session.token);
  const child = cases?.find((c) => c.id === ids["caseId"])?.childName;
  return child ? fill(words.reminderBody, { child, time }) : words.reminderBodyPlain;
}

async function showNotice(msg: PushMessage): Promise<void> {
  const locale = await noticeLocale();
  const words = NOTICES[locale];
  const kind = words.kinds[msg.type] ?? words.fallback;
  const options: NotificationOptions & { actions?: { action: string; title: string }[] } = {
    body: msg.type === "session_reminder" ? await reminderBody(locale, msg.ids) : kind.body,
    tag: `${msg.type}:${msg.ids["appointmentId"] ?? msg.ids["caseId"] ?? ""}`,
    data: { type: msg.type, ids: msg.ids },
    icon: new URL("icons/icon-192.png", self.registration.scope).href,
    lang: locale,
  };
  if (msg.type === "session_reminder") options.actions = [{ action: "cancel", title: words.cancelAction }];
  await self.registration.showNotification(kind.title, options);
}

self.addEventListener("push", (event) => {
  // a push the app cannot read still shows a notice (a user-visible subscription must):
  // the plain "Something new in Kaari"
  const msg = parsePush(event.data) ?? { type: "", ids: {} };
  event.waitUntil(showNotice(msg));
});

/** Where a tapped notice leads (a path under /app/): a message to its thread; the
 * reminder's "Can't come? Cancel" (and its body, where a browser shows no actions) to the
 * two-tap cancel sheet of that session; other session notices to the sessions. */
function targetOf(data: unknown, action: string, actionsShown: boolean): string {
  const d = (data ?? {}) as { type?: unknown; ids?: Record<string, unknown> };
  const ids = d.ids ?? {};
  const caseId = typeof ids["caseId"] === "string" && UUID.test(ids["caseId"]) ? ids["caseId"] : null;
  const appointmentId =
    typeof ids["appointmentId"] === "string" && UUID.test(ids["appointmentId"]) ? ids["appointmentId"] : null;
  if (!caseId) return BASE;
  switch (d.type) {
    case "message": // the server's ids.room: the family or the child thread
      return `${BASE}cases/${caseId}/${ids["room"] === "child" ? "child" : "family"}`;
    case "session_reminder":
      if (appointmentId && (action === "cancel" || !actionsShown)) {
        return `${BASE}cases/${caseId}/appointments/${appointmentId}/cancel`;
      }
      return `${BASE}cases/${caseId}/appointments`;
    case "appointment_cancelled":
    case "appointment_scheduled":
    case "appointment_rescheduled":
    case "cancellation_seen":
    case "period_sessions_low":
    case "period_ending":
      return `${BASE}cases/${caseId}/appointments`;
    default:
      return BASE;
  }
}

/** Open ``path`` in a window of the app: an open one navigates in-app (its crypto keeps
 * running) and comes to the front; otherwise a new window. */
async function open(path: string): Promise<void> {
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const mine = windows.find((w) => new URL(w.url).pathname.startsWith(BASE));
  if (mine) {
    mine.postMessage({ kind: "kaari.navigate", path });
    await mine.focus().catch(() => undefined);
    return;
  }
  await self.clients.openWindow(path);
}

async function onNoticeClick(notification: Notification, action: string): Promise<void> {
  notification.close();
  const maxActions = (Notification as unknown as { maxActions?: number }).maxActions ?? 0;
  await open(targetOf(notification.data, action, maxActions > 0));
}

self.addEventListener("notificationclick", (event) => {
  event.waitUntil(onNoticeClick(event.notification, event.action));
});

// The browser tests cannot tap a system notification: a window of the app may ask for
// the tap of a notice that is being shown (by its tag), which runs exactly what a tap
// runs. It can only open an app screen, as the user's tap would.
self.addEventListener("message", (event) => {
  const data = event.data as { kind?: unknown; tag?: unknown; action?: unknown } | null;
  if (data?.kind !== "kaari.notice.tap" || typeof data.tag !== "string") return;
  const action = typeof data.action === "string" ? data.action : "";
  event.waitUntil(
    (async () => {
      const [shown] = await self.registration.getNotifications({ tag: data.tag as string });
      if (shown) await onNoticeClick(shown, action);
    })(),
  );
});
