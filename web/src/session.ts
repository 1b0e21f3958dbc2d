// The signed-in device: its token, user and device, kept sealed (vault.ts).

import { seal, unseal, forget } from "./vault";
import type { Locale } from "./i18n";

export interface Session {
  token: string;
  userId: string; // Kaari's user uuid
  matrixUserId: string; // @uuid:server
  deviceId: string;
  displayName: string;
  role: string;
  locale: Locale;
}

const NAME = "session";

export async function loadSession(): Promise<Session | null> {
  const raw = await unseal(NAME);
  if (!raw) return null;
  try {
    return JSON.parse(raw) as Session;
  } catch {
    return null;
  }
}

export async function saveSession(session: Session): Promise<void> {
  await seal(NAME, JSON.stringify(session));
}

export async function clearSession(): Promise<void> {
  await forget(NAME);
}

export function serverName(session: Session): string {
  return session.matrixUserId.slice(session.matrixUserId.indexOf(":") + 1);
}
