import { useEffect, useMemo, useState } from "preact/hooks";

import { ApiError } from "../api";
import { periods as getPeriods, todayInHelsinki, ZONE, type AppointmentOut, type PeriodOut } from "../appointments";
import { useApp } from "../context";
import type { Key } from "../i18n";
import { roomOf } from "../rooms";
import { href, navigate, type Route } from "../router";
import { serverName } from "../session";
import { daysBetween, myCases, mySchedule, progress, type TherapistCase, type WeekOut } from "../therapist";
import { TopBar } from "./TopBar";
import { UnreadBadge } from "./UnreadBadge";
import { useUnread } from "../unread";
import { useLiveReload } from "../useLive";
import "../therapist.css";

/** from this many days before a period's end: time to book the doctor's visit */
export const DOCTOR_DAYS = 60;
/** how far ahead the next session is looked for */
const AHEAD_DAYS = 120;
export const DATE_LOCALES = { fi: "fi-FI", sv: "sv-FI", en: "en-GB" } as const;

interface Row {
  c: TherapistCase;
  period: PeriodOut | null;
  next: AppointmentOut | null;
  week: WeekOut | null;
  /** the family and the child thread's room ids (rooms.ts) */
  rooms: { family: string; child: string };
}

/** A link that navigates inside the app; a thread's with its ``unread`` count (a badge,
 * and ``data-unread`` once known). */
export function AppLink({ id, route, text, cls, unread }: { id?: string; route: Route; text: string; cls?: string; unread?: number | undefined }) {
  return (
    <a
      id={id}
      class={cls}
      data-unread={unread === undefined ? undefined : String(unread)}
      href={href(route)}
      onClick={(e) => {
        e.preventDefault();
        navigate(route);
      }}
    >
      {text}
      <UnreadBadge count={unread} />
    </a>
  );
}

/** The therapist's two screens, under the top bar. */
export function TherapistNav({ current }: { current: "caseload" | "week" }) {
  const { t } = useApp();
  return (
    <nav class="th-nav" aria-label={t("appName")}>
      <AppLink id="caseload-link" route={{ name: "home" }} text={t("th.caseload")} cls={current === "caseload" ? "current" : ""} />
      <AppLink id="week-link" route={{ name: "week" }} text={t("th.schedule")} cls={current === "week" ? "current" : ""} />
    </nav>
  );
}

/** The current period of a case (today within it), else the latest one. */
function currentPeriod(list: PeriodOut[], today: string): PeriodOut | null {
  const now = list.find((p) => p.startsOn <= today && today <= p.endsOn);
  return now ?? [...list].sort((a, b) => b.endsOn.localeCompare(a.endsOn))[0] ?? null;
}

/** A therapist's home: each case with the child's name, the next session, the period's
 * sessions and end, open document requests and this week's homework; the search runs
 * here over what was fetched (the server never sees it). */
export function Caseload() {
  const { t, err, session, locale } = useApp();
  const [rows, setRows] = useState<Row[] | null>(null);
  const [query, setQuery] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [generation, setGeneration] = useState(0);
  const token = session?.token ?? "";
  const today = todayInHelsinki();
  // what the cards show changed: sessions, homework ticks, document requests
  useLiveReload(
    [
      "appointment_scheduled",
      "appointment_rescheduled",
      "appointment_cancelled",
      "homework_assigned",
      "homework_changed",
      "homework_ticked",
      "homework_unticked",
      "homework_sick_day",
      "document_requested",
      "document_request_closed",
    ],
    () => setGeneration((n) => n + 1),
    () => true,
    1000,
  );

  const when = useMemo(
    () =>
      new Intl.DateTimeFormat(DATE_LOCALES[locale], {
        timeZone: ZONE,
        weekday: "short",
        day: "numeric",
        month: "numeric",
        hour: "2-digit",
        minute: "2-digit",
      }),
    [locale],
  );
  const day = useMemo(
    () => new Intl.DateTimeFormat(DATE_LOCALES[locale], { timeZone: "UTC", day: "numeric", month: "numeric", year: "numeric" }),
    [locale],
  );

  useEffect(() => {
    if (!session) return;
    const server = serverName(session);
    const load = async (): Promise<void> => {
      try {
        const all = (await myCases(token)).filter((c) => c.closedAt === null);
        const now = new Date();
        const ahead = await mySchedule(token, now, new Date(now.getTime() + AHEAD_DAYS * 86_400_000)).catch(() => []);
        ahead.sort((a, b) => a.startsAt.localeCompare(b.startsAt));
        const out = await Promise.all(
          all.map(async (c): Promise<Row> => {
            const [ps, pr, family, child] = await Promise.all([
              getPeriods(token, c.id).catch(() => [] as PeriodOut[]),
              progress(token, c.id).catch(() => null),
              roomOf(c.id, "family", server),
              roomOf(c.id, "child", server),
            ]);
            const next =
              ahead.find((a) => Date.parse(a.endsAt) >= now.getTime() && a.cases.some((x) => x.caseId === c.id && x.status === "scheduled")) ??
              null;
            return { c, period: currentPeriod(ps, today), next, week: pr?.weeks[pr.weeks.length - 1] ?? null, rooms: { family, child } };
          }),
        );
        out.sort((a, b) => (a.c.childName ?? "").localeCompare(b.c.childName ?? "", locale));
        setRows(out);
      } catch (x) {
        setRows([]);
        setError(x instanceof ApiError ? x.code : "unknown");
      }
    };
    void load();
  }, [token, generation]);

  // each thread's unread messages, counted on this device (crypto/unread.ts)
  const unread = useUnread((rows ?? []).flatMap((r) => [r.rooms.family, r.rooms.child]));

  const needle = query.trim().toLocaleLowerCase(locale);
  const shown = (rows ?? []).filter((r) => !needle || (r.c.childName ?? "").toLocaleLowerCase(locale).includes(needle));

  function card(r: Row) {
    const child = r.c.childName ?? t("childOf");
    const p = r.period;
    const soon = p !== null && daysBetween(today, p.endsOn) <= DOCTOR_DAYS && p.endsOn >= today;
    const requests = r.c.openDocumentRequests ?? [];
    return (
      <li key={r.c.id} class={`case-card${soon ? " book-doctor" : ""}`} data-case={r.c.id}>
        <h2 class="child">{child}</h2>
        <dl>
          <dt>{t("th.nextSession")}</dt>
          <dd class="next">
            {r.next ? (
              <time dateTime={r.next.startsAt}>
                {when.format(new Date(r.next.startsAt))} · {t(`place.${r.next.placeKind}` as Key)}
              </time>
            ) : (
              t("th.noNext")
            )}
          </dd>
          <dt>{t("th.sessions")}</dt>
          <dd class="used">
            {p
              ? t("th.usedOf", { used: String(p.sessionsUsed), granted: String(p.sessionsGranted), end: day.format(new Date(p.endsOn)) })
              : t("th.noPeriod")}
          </dd>
          <dt>{t("th.requests")}</dt>
          <dd class="requests">
            {requests.length === 0 ? (
              t("th.noRequests")
            ) : (
              <ul>
                {requests.map((q) => (
                  <li key={q.id} class="request" data-request={q.id}>
                    {t("th.request", { kind: t(`doc.${q.kind}` as Key), date: day.format(new Date(q.neededBy)) })}
                  </li>
                ))}
              </ul>
            )}
          </dd>
          <dt>{t("th.homework")}</dt>
          <dd class="homework">
            {r.week && r.week.expected > 0
              ? t("th.homeworkLine", { done: String(r.week.done), expected: String(r.week.expected) })
              : t("th.noHomework")}
          </dd>
        </dl>
        {soon && p && (
          <p class="doctor" role="note">
            {t("th.bookDoctor", { end: day.format(new Date(p.endsOn)) })}
          </p>
        )}
        <p class="threads">
          <AppLink cls="family-link" route={{ name: "thread", caseId: r.c.id, kind: "family" }} text={t("th.familyThread")} unread={unread.get(r.rooms.family)} />
          <AppLink cls="child-link" route={{ name: "thread", caseId: r.c.id, kind: "child" }} text={t("th.childThread", { child })} unread={unread.get(r.rooms.child)} />
          <AppLink cls="homework-link" route={{ name: "homework", caseId: r.c.id }} text={t("hw.link")} />
        </p>
      </li>
    );
  }

  return (
    <main class="screen wide caseload">
      <TopBar title={t("th.caseload")} />
      <TherapistNav current="caseload" />
      {error && (
        <p class="error" role="alert" data-code={error}>
          {err(error)}
        </p>
      )}
      <div class="th-search">
        <label for="case-filter">{t("th.filter")}</label>
        <input id="case-filter" type="search" value={query} autocomplete="off" onInput={(e) => setQuery(e.currentTarget.value)} />
      </div>
      {rows === null && <p class="muted">{t("loading")}</p>}
      {rows !== null && rows.length === 0 && !error && <p class="muted">{t("th.noCases")}</p>}
      {rows !== null && rows.length > 0 && shown.length === 0 && (
        <p class="muted" id="no-match" role="status">
          {t("th.noMatch")}
        </p>
      )}
      <ul class="case-grid" id="caseload">
        {shown.map(card)}
      </ul>
    </main>
  );
}
