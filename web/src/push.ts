// Web Push on this device (docs/web.md "Push"): asked for with a button, never on load;
// the service worker's registration subscribes with the server's VAPID key and the
// subscription is registered with Kaari (`POST /me/push-subscriptions`). The language
// the service worker words notices in is kept in IndexedDB (`push-locale`), where it can
// read it.

import { ApiError, request } from "./api";
import * as idb from "./idb";
import type { Locale } from "./i18n";

export type PushState = "unsupported" | "default" | "denied" | "on";

export const LOCALE_KEY = "push-locale";
const DISMISSED_KEY = "kaari.push.later";

export function pushSupported(): boolean {
  return "serviceWorker" in navigator && typeof PushManager !== "undefined" && typeof Notification !== "undefined";
}

export async function pushState(): Promise<PushState> {
  if (!pushSupported()) return "unsupported";
  if (Notification.permission === "denied") return "denied";
  if (Notification.permission !== "granted") return "default";
  const reg = await navigator.serviceWorker.getRegistration("/app/");
  const sub = await reg?.pushManager.getSubscription();
  return sub ? "on" : "default";
}

export function promptDismissed(): boolean {
  return localStorage.getItem(DISMISSED_KEY) === "1";
}

export function dismissPrompt(): void {
  localStorage.setItem(DISMISSED_KEY, "1");
}

function keyBytes(b64url: string): Uint8Array<ArrayBuffer> {
  const b64 = b64url.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (b64url.length % 4)) % 4);
  const raw = atob(b64);
  const out = new Uint8Array(new ArrayBuffer(raw.length));
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

async function register(token: string, sub: PushSubscription): Promise<void> {
  await request("POST", "/me/push-subscriptions", token, sub.toJSON());
}

/** Ask for permission (call from a tap), subscribe and register; an ApiError's code
 * (the server's, or `push_denied` / `push_failed`) when it does not work. */
export async function enablePush(token: string, locale: Locale): Promise<void> {
  if (!pushSupported()) throw new ApiError(0, "push_failed");
  const permission = await Notification.requestPermission();
  if (permission !== "granted") throw new ApiError(0, "push_denied");
  await storePushLocale(locale);
  const reg = await navigator.serviceWorker.ready;
  let sub = await reg.pushManager.getSubscription();
  if (!sub) {
    const { publicKey } = await request<{ publicKey: string }>("GET", "/push/vapid-public-key", token);
    try {
      sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(publicKey) });
    } catch {
      throw new ApiError(0, "push_failed"); // no push service reachable from this browser
    }
  }
  try {
    await register(token, sub);
  } catch (x) {
    // a subscription the server refuses is of no use: drop it, so a later try starts afresh
    await sub.unsubscribe().catch(() => false);
    throw x;
  }
}

/** At every start of a signed-in device with notifications on: register the browser's
 * subscription again (the same endpoint replaces the earlier one), so a subscription the
 * browser renewed, or one made before a sign-in, reaches the server. */
export async function refreshPush(token: string): Promise<void> {
  if (!pushSupported() || Notification.permission !== "granted") return;
  const reg = await navigator.serviceWorker.getRegistration("/app/");
  const sub = await reg?.pushManager.getSubscription();
  if (sub) await register(token, sub).catch(() => undefined);
}

/** On sign-out: this browser stops receiving the signed-out account's notices. */
export async function dropPush(): Promise<void> {
  if (!pushSupported()) return;
  const reg = await navigator.serviceWorker.getRegistration("/app/");
  const sub = await reg?.pushManager.getSubscription().catch(() => null);
  await sub?.unsubscribe().catch(() => false);
}

export async function storePushLocale(locale: Locale): Promise<void> {
  await idb.put(LOCALE_KEY, locale);
}

/** The service worker asks a window to show a screen (a tapped notification): the
 * in-app router navigates, so the device's crypto keeps running. */
export function listenForNavigation(go: (path: string) => void): void {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.addEventListener("message", (e: MessageEvent) => {
    const data = e.data as { kind?: unknown; path?: unknown } | null;
    if (data?.kind === "kaari.navigate" && typeof data.path === "string" && data.path.startsWith("/app/")) go(data.path);
  });
}
