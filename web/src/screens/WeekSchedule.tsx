import { useEffect, useMemo, useState } from "preact/hooks";

import { ApiError } from "../api";
import {
  acknowledge,
  cancellation as getCancellation,
  periods as getPeriods,
  todayInHelsinki,
  userOf,
  ZONE,
  type AppointmentOut,
  type CancellationOut,
  type PeriodOut,
  type PlaceKind,
} from "../appointments";
import { useApp } from "../context";
import type { Key } from "../i18n";
import { addDays, fromHelsinki, helsinkiLocal, mondayOf, myCases, mySchedule, setOutcome, type TherapistCase } from "../therapist";
import { BookingForm } from "./BookingForm";
import { CancellationCost } from "./CancellationCost";
import { DATE_LOCALES, TherapistNav } from "./Caseload";
import { MoveSession } from "./MoveSession";
import { TopBar } from "./TopBar";
import { useFallbackPoll, useLive, useLiveState } from "../useLive";
import "../therapist.css";
import { JoinLink } from "../call/JoinLink";

type View = "week" | "day";

/** The therapist's sessions in a week (Monday to Sunday, Helsinki time) or a day: the
 * child, the time, the place kind and the status (a cancellation with its late flag, what
 * it costs the period, the period's count after it and a one-tap "seen"); booking
 * (screens/BookingForm.tsx: one session, a weekly series, a group), moving one or the rest
 * of its series (screens/MoveSession.tsx), and marking one completed or a no-show. Changes
 * arrive as live events (the tab's socket, live.ts); only while it is down is the range
 * asked again, slowly. */
export function WeekSchedule() {
  const { t, err, session, crypto, locale } = useApp();
  const token = session?.token ?? "";
  const [view, setView] = useState<View>("week");
  const [anchor, setAnchor] = useState<string>(() => todayInHelsinki());
  const [list, setList] = useState<AppointmentOut[] | null>(null);
  const [cases, setCases] = useState<TherapistCase[]>([]);
  const [notices, setNotices] = useState<Record<string, CancellationOut>>({});
  const [periodsOf, setPeriodsOf] = useState<Record<string, PeriodOut[]>>({});
  const [acking, setAcking] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  const [moving, setMoving] = useState<AppointmentOut | null>(null);
  const liveState = useLiveState();
  const me = session ? userOf(session.matrixUserId) : "";

  const first = view === "week" ? mondayOf(anchor) : anchor;
  const days = view === "week" ? Array.from({ length: 7 }, (_, i) => addDays(first, i)) : [anchor];
  const last = days[days.length - 1] ?? anchor;

  const clock = useMemo(() => new Intl.DateTimeFormat(DATE_LOCALES[locale], { timeZone: ZONE, hour: "2-digit", minute: "2-digit" }), [locale]);
  const dayName = useMemo(
    () => new Intl.DateTimeFormat(DATE_LOCALES[locale], { timeZone: "UTC", weekday: "long", day: "numeric", month: "numeric" }),
    [locale],
  );

  useEffect(() => {
    if (!session) return;
    myCases(token).then(
      (all) => setCases(all.filter((c) => c.closedAt === null)),
      () => setCases([]),
    );
  }, [token]);

  async function readNotice(id: string): Promise<void> {
    try {
      const x = await getCancellation(token, id);
      setNotices((old) => ({ ...old, [id]: x }));
    } catch {
      // shown without its late flag; the next load asks again
    }
  }

  async function readPeriods(caseId: string): Promise<void> {
    try {
      const got = await getPeriods(token, caseId);
      setPeriodsOf((old) => ({ ...old, [caseId]: got }));
    } catch {
      // the period line is left out
    }
  }

  // the range on screen; each cancellation's notice (late, seen) once, and the periods
  // of a case with a cancellation not seen before
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    if (!session) return;
    let stop = false;
    void (async () => {
      try {
        const got = await mySchedule(token, fromHelsinki(first), fromHelsinki(addDays(last, 1)));
        if (stop) return;
        got.sort((a, b) => a.startsAt.localeCompare(b.startsAt));
        setList(got);
        setError(null);
        const changed = new Set<string>();
        for (const a of got)
          for (const c of a.cases)
            if (c.cancellationId && !(c.cancellationId in notices)) {
              void readNotice(c.cancellationId);
              changed.add(c.caseId); // a new cancellation: its period's count may differ
            }
        for (const caseId of changed) void readPeriods(caseId);
      } catch (x) {
        if (!stop) setError(x instanceof ApiError ? x.code : "unknown");
      }
    })();
    return () => {
      stop = true;
    };
  }, [token, first, last, tick, generation]);

  const reload = (): void => setGeneration((n) => n + 1);
  useLive({
    appointment_scheduled: reload,
    appointment_rescheduled: reload,
    appointment_cancelled: reload, // the new cancellation's notice and periods follow
    cancellation_seen: ({ cancellationId }) => void readNotice(cancellationId),
    resync: reload,
  });
  useFallbackPoll(reload);

  async function ack(id: string): Promise<void> {
    setAcking(id);
    try {
      const x = await acknowledge(token, id);
      setNotices((old) => ({ ...old, [id]: x }));
    } catch (x) {
      setError(x instanceof ApiError ? x.code : "unknown");
    } finally {
      setAcking(null);
    }
  }

  const names = Object.fromEntries(cases.map((c) => [c.id, c.childName ?? t("childOf")]));

  async function mark(a: AppointmentOut, status: "completed" | "no_show"): Promise<void> {
    try {
      await setOutcome(token, a.id, status);
      setTick((n) => n + 1);
    } catch (x) {
      setError(x instanceof ApiError ? x.code : "unknown");
    }
  }

  function item(a: AppointmentOut) {
    const now = Date.now();
    return a.cases.map((c) => {
      const cancelled = c.status === "cancelled";
      const notice = c.cancellationId ? notices[c.cancellationId] : undefined;
      const isLate = notice?.late === true;
      const day = helsinkiLocal(new Date(a.startsAt)).slice(0, 10);
      const period = (periodsOf[c.caseId] ?? []).find((p) => p.startsOn <= day && day <= p.endsOn);
      const mine = notice?.seenBy.find((x) => x.userId === me);
      const other = notice?.seenBy.find((x) => x.userId !== me && x.userId !== notice.cancelledBy);
      return (
        <li
          key={`${a.id}:${c.caseId}`}
          class={`th-session ${c.status}`}
          data-appointment-id={a.id}
          data-status={c.status}
          data-late={isLate ? "yes" : "no"}
          data-seen={mine ? "yes" : "no"}
        >
          <p class="time">
            <time dateTime={a.startsAt}>
              {clock.format(new Date(a.startsAt))}–{clock.format(new Date(a.endsAt))}
            </time>
          </p>
          <p class="who">{names[c.caseId] ?? "…"}</p>
          <p class="what">
            {t(`place.${a.placeKind}` as Key)} · <span class="status">{t(`status.${c.status}` as Key)}</span>
            {cancelled && isLate && <span class="late"> · {t("th.late")}</span>}
          </p>
          {(a.seriesId || a.groupKind) && (
            <p class="ss-tags">{[a.seriesId ? t("ss.series") : "", a.groupKind ? `${t("ss.groupTag")} (${t(`ss.${a.groupKind}`)})` : ""].filter(Boolean).join(" · ")}</p>
          )}
          {cancelled && c.cancellationId && <CancellationCost cancellationId={c.cancellationId} caseId={c.caseId} token={token} />}
          {c.status === "scheduled" && Date.parse(a.startsAt) > now && (
            <button
              type="button"
              class="secondary move"
              aria-label={`${t("ss.move")}: ${names[c.caseId] ?? ""} ${clock.format(new Date(a.startsAt))}`}
              onClick={() => setMoving(a)}
            >
              {t("ss.move")}
            </button>
          )}
          {cancelled && notice && periodsOf[c.caseId] && (
            <p class="period-cost">
              {period
                ? t("live.period", { used: String(period.sessionsUsed), granted: String(period.sessionsGranted), left: String(period.sessionsRemaining) })
                : t("live.noPeriod")}
            </p>
          )}
          {cancelled && notice && notice.cancelledBy !== me && (
            <p class="seen">
              {mine ? (
                <span class="seen-by-me">{t("live.seenByMe", { time: clock.format(new Date(mine.seenAt)) })}</span>
              ) : (
                <button type="button" class="secondary ack" disabled={acking === notice.id} onClick={() => void ack(notice.id)}>
                  {acking === notice.id ? t("live.acking") : t("live.ack")}
                </button>
              )}
              {other && <span class="seen-by-other"> {t("live.seenBy", { name: other.displayName, time: clock.format(new Date(other.seenAt)) })}</span>}
            </p>
          )}
          <JoinLink appt={a} status={c.status} />
          {c.status === "scheduled" && Date.parse(a.startsAt) <= now && (
            <p class="outcome">
              <button type="button" class="secondary mark-completed" onClick={() => void mark(a, "completed")}>
                {t("th.completed")}
              </button>
              <button type="button" class="secondary mark-no-show" onClick={() => void mark(a, "no_show")}>
                {t("th.noShow")}
              </button>
            </p>
          )}
        </li>
      );
    });
  }

  const step = view === "week" ? 7 : 1;
  return (
    <main class="screen wide th-schedule">
      <TopBar title={t("th.schedule")} />
      <TherapistNav current="week" />
      {error && (
        <p class="error" role="alert" data-code={error} id="schedule-error">
          {err(error)}
        </p>
      )}
      <div class="th-toolbar" role="group" aria-label={t("th.schedule")}>
        <button type="button" id="view-week" class={view === "week" ? "primary" : "secondary"} aria-pressed={view === "week"} onClick={() => setView("week")}>
          {t("th.week")}
        </button>
        <button type="button" id="view-day" class={view === "day" ? "primary" : "secondary"} aria-pressed={view === "day"} onClick={() => setView("day")}>
          {t("th.day")}
        </button>
        <button type="button" id="prev" class="secondary" onClick={() => setAnchor(addDays(anchor, -step))}>
          ‹ {t("th.previous")}
        </button>
        <button type="button" id="today" class="secondary" onClick={() => setAnchor(todayInHelsinki())}>
          {t("th.today")}
        </button>
        <button type="button" id="next" class="secondary" onClick={() => setAnchor(addDays(anchor, step))}>
          {t("th.next")} ›
        </button>
      </div>
      <p class="muted live" role="status" id="live-state" data-live={liveState}>
        {liveState === "down" ? t("live.down") : t("live.open")}
      </p>
      {list === null && <p class="muted">{t("loading")}</p>}
      <div class={`th-days ${view}`} id="days">
        {days.map((d) => {
          const mine = (list ?? []).filter((a) => helsinkiLocal(new Date(a.startsAt)).slice(0, 10) === d);
          return (
            <section key={d} class="th-day" data-day={d} aria-labelledby={`day-${d}`}>
              <h2 id={`day-${d}`}>{dayName.format(new Date(`${d}T00:00:00Z`))}</h2>
              {mine.length === 0 ? <p class="muted">{t("th.nothing")}</p> : <ul>{mine.flatMap(item)}</ul>}
            </section>
          );
        })}
      </div>
      {moving && (
        <MoveSession
          key={moving.id}
          appt={moving}
          child={moving.cases.map((c) => names[c.caseId] ?? "").join(", ")}
          token={token}
          onClose={() => setMoving(null)}
          onMoved={() => setTick((n) => n + 1)}
        />
      )}
      <BookingForm cases={cases} onBooked={() => setTick((n) => n + 1)} token={token} crypto={crypto} />
    </main>
  );
}
