import { useEffect, useMemo, useState } from "preact/hooks";

import { ApiError } from "../api";
import { cancellation as getCancellation, todayInHelsinki, ZONE, type AppointmentOut } from "../appointments";
import { useApp } from "../context";
import type { Key } from "../i18n";
import { addDays, fromHelsinki, helsinkiLocal, mondayOf, myCases, mySchedule, setOutcome, type TherapistCase } from "../therapist";
import { BookingForm } from "./BookingForm";
import { CancellationCost } from "./CancellationCost";
import { DATE_LOCALES, TherapistNav } from "./Caseload";
import { MoveSession } from "./MoveSession";
import { TopBar } from "./TopBar";
import "../therapist.css";

/** the schedule is asked again this often: a family's cancellation shows without a reload
 * (no /ws in the app yet) */
const POLL_MS = 4000;

type View = "week" | "day";

/** The therapist's sessions in a week (Monday to Sunday, Helsinki time) or a day: the
 * child, the time, the place kind and the status (a cancellation with its late flag and
 * what it costs the period); booking (screens/BookingForm.tsx: one session, a weekly
 * series, a group), moving one or the rest of its series (screens/MoveSession.tsx), and
 * marking one completed or a no-show. */
export function WeekSchedule() {
  const { t, err, session, crypto, locale } = useApp();
  const token = session?.token ?? "";
  const [view, setView] = useState<View>("week");
  const [anchor, setAnchor] = useState<string>(() => todayInHelsinki());
  const [list, setList] = useState<AppointmentOut[] | null>(null);
  const [cases, setCases] = useState<TherapistCase[]>([]);
  const [late, setLate] = useState<Record<string, boolean>>({});
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  const [moving, setMoving] = useState<AppointmentOut | null>(null);

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

  useEffect(() => {
    if (!session) return;
    let stop = false;
    const load = async (): Promise<void> => {
      try {
        const got = await mySchedule(token, fromHelsinki(first), fromHelsinki(addDays(last, 1)));
        if (stop) return;
        got.sort((a, b) => a.startsAt.localeCompare(b.startsAt));
        setList(got);
        setError(null);
        for (const a of got)
          for (const c of a.cases)
            if (c.cancellationId && !(c.cancellationId in late)) {
              const id = c.cancellationId;
              void getCancellation(token, id).then(
                (x) => setLate((old) => ({ ...old, [id]: x.late })),
                () => undefined,
              );
            }
      } catch (x) {
        if (!stop) setError(x instanceof ApiError ? x.code : "unknown");
      }
    };
    void load();
    const timer = setInterval(() => void load(), POLL_MS);
    return () => {
      stop = true;
      clearInterval(timer);
    };
  }, [token, first, last, tick]);

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
      const isLate = c.cancellationId ? late[c.cancellationId] === true : false;
      return (
        <li key={`${a.id}:${c.caseId}`} class={`th-session ${c.status}`} data-appointment-id={a.id} data-status={c.status} data-late={isLate ? "yes" : "no"}>
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
      <p class="muted live" role="status">
        {t("th.live")}
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
