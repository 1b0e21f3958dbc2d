import { useEffect, useMemo, useState } from "preact/hooks";

import { logout } from "./api";
import { Ctx, type AppContext } from "./context";
import { CryptoClient } from "./crypto/client";
import { browserLocale, isLocale, translate, type Locale } from "./i18n";
import { LiveHub } from "./live";
import { navigate, parse, type Route } from "./router";
import { Documents } from "./screens/Documents";
import { Room } from "./call/Room";
import { dropPush, listenForNavigation, refreshPush, storePushLocale } from "./push";
import { Caseload } from "./screens/Caseload";
import { Devices } from "./screens/Devices";
import { Home } from "./screens/Home";
import { Homework } from "./screens/Homework";
import { PairTablet } from "./screens/PairTablet";
import { Invite } from "./screens/Invite";
import { Recovery } from "./screens/Recovery";
import { RestoreOffer, SecurityLinks } from "./screens/SecurityLinks";
import { Schedule } from "./screens/Schedule";
import { TaskBoard } from "./screens/TaskBoard";
import { Settings } from "./screens/Settings";
import { Pair } from "./screens/Pair";
import { Today } from "./screens/Today";
import { SignIn } from "./screens/SignIn";
import { Thread } from "./screens/Thread";
import { WeekSchedule } from "./screens/WeekSchedule";
import { clearSession, loadSession, saveSession, type Session } from "./session";

type CryptoState = "off" | "starting" | "ready" | "failed";

const LOCALE_KEY = "kaari.locale";

function initialLocale(): Locale {
  const chosen = localStorage.getItem(LOCALE_KEY);
  return isLocale(chosen) ? chosen : browserLocale();
}

export function App() {
  const [route, setRoute] = useState<Route>(() => parse(location.pathname));
  const [locale, setLocaleState] = useState<Locale>(initialLocale);
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [cryptoState, setCryptoState] = useState<CryptoState>("off");
  const crypto = useMemo(() => new CryptoClient(), []);
  const live = useMemo(() => new LiveHub(), []); // this tab's socket: the live notices

  useEffect(() => {
    const onPop = () => setRoute(parse(location.pathname));
    addEventListener("popstate", onPop);
    return () => removeEventListener("popstate", onPop);
  }, []);

  // a tapped notification asks for a screen (sw.ts)
  useEffect(() => listenForNavigation((path) => navigate(parse(path))), []);

  useEffect(() => {
    document.documentElement.lang = locale;
    document.title = translate(locale, "appName");
    void storePushLocale(locale).catch(() => undefined); // the service worker words notices in it
  }, [locale]);

  async function startCrypto(s: Session): Promise<void> {
    setCryptoState("starting");
    const run = async () => {
      try {
        await crypto.start({ token: s.token, matrixUserId: s.matrixUserId, deviceId: s.deviceId });
        setCryptoState("ready");
      } catch {
        setCryptoState("failed");
      }
    };
    // this tab's worker, or the owner tab's through the channel; if the owner closes,
    // this tab takes over and starts the device again
    await crypto.acquire(() => {
      setCryptoState("starting");
      void run();
    });
    await run();
  }

  useEffect(() => {
    void loadSession().then((s) => {
      setSession(s);
      if (s) void startCrypto(s);
      if (s) void refreshPush(s.token);
      if (s) live.start(s.token);
    });
    return crypto.subscribe((e) => {
      if (e.event === "status" && e.state === "signedOut") void finishSignOut();
    });
  }, []);

  async function finishSignOut(): Promise<void> {
    live.stop();
    try {
      await dropPush().catch(() => undefined);
      await crypto.signOut();
    } finally {
      await clearSession();
      location.replace("/app/signin"); // a fresh page: nothing of the old device stays in memory
    }
  }

  const ctx: AppContext = {
    locale,
    setLocale: (l) => {
      localStorage.setItem(LOCALE_KEY, l);
      setLocaleState(l);
    },
    session: session ?? null,
    crypto,
    live,
    signIn: async (s, to) => {
      await saveSession(s);
      setSession(s);
      live.start(s.token);
      if (!localStorage.getItem(LOCALE_KEY)) setLocaleState(s.locale);
      navigate(to ?? { name: s.role === "child" ? "today" : "home" }, true);
      await startCrypto(s);
    },
    signOut: async () => {
      if (session) await logout(session.token).catch(() => undefined);
      await finishSignOut();
    },
  };

  const t = (k: Parameters<typeof translate>[1]) => translate(locale, k);
  let screen;
  if (session === undefined) screen = <p class="muted center">{t("loading")}</p>;
  else if (session === null) screen = route.name === "pair" ? <Pair /> : route.name === "invite" ? <Invite /> : <SignIn />;
  else if (cryptoState === "failed") screen = <p class="error center" role="alert">{translate(locale, "error.crypto_failed")}</p>;
  else if (cryptoState !== "ready") screen = <p class="muted center" id="preparing">{t("preparing")}</p>;
  else if (session.role === "child") screen = <Today />;
  else if (route.name === "invite") screen = <Invite />;
  else if (route.name === "thread") screen = <Thread key={`${route.caseId}:${route.kind}`} caseId={route.caseId} kind={route.kind} />;
  else if (route.name === "call") screen = <Room key={route.appointmentId} appointmentId={route.appointmentId} />;
  else if (route.name === "documents") screen = <Documents caseId={route.caseId} />;
  else if (route.name === "week" && session.role === "therapist") screen = <WeekSchedule />;
  else if (route.name === "settings") screen = <Settings caseId={route.caseId} />;
  else if (route.name === "schedule") screen = <Schedule caseId={route.caseId} appointmentId={route.appointmentId} />;
  else if (route.name === "homework")
    screen = session.role === "therapist" ? <TaskBoard key={route.caseId} caseId={route.caseId} /> : <Homework caseId={route.caseId} />;
  else if (route.name === "pairTablet") screen = <PairTablet caseId={route.caseId} />;
  else if (route.name === "devices") screen = <Devices />;
  else if (route.name === "recovery") screen = <Recovery />;
  else if (session.role === "therapist") screen = <Caseload />;
  else screen = <Home />;
  // a parent's devices and recovery key, from every screen (Home goes straight to a
  // single case's thread)
  const parent = !!session && cryptoState === "ready" && session.role !== "child" && route.name !== "invite";

  return (
    <Ctx.Provider value={ctx}>
      {parent && <RestoreOffer route={route} />}
      {screen}
      {parent && <SecurityLinks />}
    </Ctx.Provider>
  );
}
