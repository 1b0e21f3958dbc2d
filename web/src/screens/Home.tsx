import { useEffect, useState } from "preact/hooks";

import { ApiError, cases as listCases, type CaseOut } from "../api";
import { useApp } from "../context";
import { chosenCase, rememberCase } from "../family";
import { roomOf } from "../rooms";
import { href, navigate, parse, type Route } from "../router";
import { serverName } from "../session";
import { useUnread } from "../unread";
import { TopBar } from "./TopBar";
import { UnreadBadge } from "./UnreadBadge";
import "../family.css";

/** Opening the app (or signing in) with one child goes straight to the family thread,
 * once per page load; the thread's back arrow then comes here, to the child's home, as
 * does going back from a screen the page was opened on. */
let landed = !["home", "signIn", "notFound"].includes(parse(location.pathname).name);

/** A guardian's home: the chosen child's name, a switch between siblings (one case each,
 * the choice kept per user in localStorage) and the child's screens. */
export function Home() {
  const { t, err, session } = useApp();
  const [cases, setCases] = useState<CaseOut[] | null>(null);
  const [current, setCurrent] = useState<CaseOut | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [rooms, setRooms] = useState<{ family: string; child: string } | null>(null);

  useEffect(() => {
    if (!session) return;
    listCases(session.token).then(
      (all) => {
        const open = all.filter((c) => c.closedAt === null);
        const first = !landed;
        landed = true;
        if (first && open.length === 1 && open[0]) {
          navigate({ name: "thread", caseId: open[0].id, kind: "family" }, true);
          return;
        }
        setCases(open);
        setCurrent(chosenCase(session.userId, open));
      },
      (x: unknown) => setError(x instanceof ApiError ? x.code : "unknown"),
    );
  }, [session?.token]);

  // the chosen child's two threads: their unread messages (crypto/unread.ts)
  useEffect(() => {
    setRooms(null);
    if (!current || !session) return;
    const server = serverName(session);
    void Promise.all([roomOf(current.id, "family", server), roomOf(current.id, "child", server)]).then(([family, child]) =>
      setRooms({ family, child }),
    );
  }, [current?.id, session?.token]);
  const unread = useUnread(rooms ? [rooms.family, rooms.child] : []);

  function choose(id: string): void {
    const c = cases?.find((x) => x.id === id);
    if (!c || !session) return;
    rememberCase(session.userId, c.id);
    setCurrent(c);
  }

  function link(id: string, route: Route, text: string, count?: number) {
    return (
      <li>
        <a
          id={id}
          data-unread={count === undefined ? undefined : String(count)}
          href={href(route)}
          onClick={(e) => {
            e.preventDefault();
            navigate(route);
          }}
        >
          {text}
          <UnreadBadge count={count} />
        </a>
      </li>
    );
  }

  const child = current?.childName ?? t("childOf");
  return (
    <main class="screen home">
      <TopBar title={current ? child : t("casesTitle")} />
      {error && <p class="error" role="alert" data-code={error}>{err(error)}</p>}
      {!cases && !error && <p class="muted">{t("loading")}</p>}
      {cases && cases.length === 0 && <p class="muted">{t("noCases")}</p>}
      {cases && cases.length > 1 && current && (
        <div class="child-switch">
          <label for="child-switch">{t("chooseChild")}</label>
          <select id="child-switch" value={current.id} onChange={(e) => choose(e.currentTarget.value)}>
            {cases.map((c) => (
              <option key={c.id} value={c.id}>
                {c.childName ?? t("childOf")}
              </option>
            ))}
          </select>
        </div>
      )}
      {current && (
        <nav aria-label={child}>
          <ul class="cases" id="child-home" data-case={current.id}>
            {link("thread-link", { name: "thread", caseId: current.id, kind: "family" }, t("homeMessages"), rooms ? unread.get(rooms.family) : undefined)}
            {link("child-thread-home-link", { name: "thread", caseId: current.id, kind: "child" }, t("childThreadLink", { child }), rooms ? unread.get(rooms.child) : undefined)}
            {link("documents-home-link", { name: "documents", caseId: current.id }, t("documentsLink"))}
            {link("sessions-link", { name: "schedule", caseId: current.id, appointmentId: null }, t("homeSessions"))}
            {link("homework-link", { name: "homework", caseId: current.id }, t("homeHomework"))}
            {current.myRole === "guardian" && link("pair-tablet-link", { name: "pairTablet", caseId: current.id }, t("homePairTablet", { child }))}
          </ul>
        </nav>
      )}
    </main>
  );
}
