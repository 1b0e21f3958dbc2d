// What every screen gets: the language (and its texts), the session and the crypto
// worker's client, and the tab's live notices.

import { createContext } from "preact";
import { useContext } from "preact/hooks";

import type { CryptoClient } from "./crypto/client";
import { errorText, translate, type Key, type Locale } from "./i18n";
import type { LiveHub } from "./live";
import type { Route } from "./router";
import type { Session } from "./session";

export interface AppContext {
  locale: Locale;
  setLocale: (l: Locale) => void;
  session: Session | null;
  crypto: CryptoClient;
  /** the tab's live notices (live.ts) */
  live: LiveHub;
  signIn: (s: Session, to?: Route) => Promise<void>;
  signOut: () => Promise<void>;
}

export const Ctx = createContext<AppContext | null>(null);

export function useApp(): AppContext & {
  t: (key: Key, vars?: Record<string, string>) => string;
  err: (code: string) => string;
} {
  const ctx = useContext(Ctx);
  if (!ctx) throw new Error("no app context");
  return {
    ...ctx,
    t: (key, vars) => translate(ctx.locale, key, vars),
    err: (code) => errorText(ctx.locale, code),
  };
}
