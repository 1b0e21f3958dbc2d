import { useEffect, useMemo, useState } from "preact/hooks";

import { ApiError } from "../api";
import { cancellation as getCancellation, todayInHelsinki, ZONE, type AppointmentOut, type PlaceKind } from "../appointments";
import { useApp } from "../context";
import type { Key } from "../i18n";
import { addDays, book, fromHelsinki, helsinkiLocal, mondayOf, myCases, mySchedule, PLACES, setOutcome, type TherapistCase } from "../therapist";
import { DATE_LOCALES, TherapistNav } from "./Caseload";
import { TopBar } from "./TopBar";
import "../therapist.css";
import { JoinLink } from "../call/JoinLink";

/** the schedule is asked again this often: a family's cancellation shows without a reload
 * (no /ws in the app yet) */
const POLL_MS = 4000;

type View = "week" | "day";

/** The therapist's sessions in a week (Monday to Sunday, Helsinki time) or a day: the
 * child, the time, the place kind and the status (a cancellation with its late flag);
 * booking one session with encrypted details, and marking one completed or a no-show. */
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
      <NewSession cases={cases} onBooked={() => setTick((n) => n + 1)} token={token} crypto={crypto} />
    </main>
  );
}

function NewSession({
  cases,
  onBooked,
  token,
  crypto,
}: {
  cases: TherapistCase[];
  onBooked: () => void;
  token: string;
  crypto: Parameters<typeof book>[1];
}) {
  const { t, err } = useApp();
  const [caseId, setCaseId] = useState("");
  const [start, setStart] = useState(() => `${addDays(todayInHelsinki(), 1)}T09:00`);
  const [duration, setDuration] = useState("60");
  const [place, setPlace] = useState<PlaceKind>("office");
  const [details, setDetails] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<"ok" | "warning" | null>(null);
  const chosen = caseId || cases[0]?.id || "";

  async function submit(e: Event): Promise<void> {
    e.preventDefault();
    if (!chosen || busy) return;
    setBusy(true);
    setError(null);
    setDone(null);
    try {
      const out = await book(token, crypto, chosen, fromHelsinki(start), Number(duration), place, details);
      setDone(out.warnings.length > 0 ? "warning" : "ok");
      setDetails("");
      onBooked();
    } catch (x) {
      setError(x instanceof ApiError ? x.code : "unknown");
    } finally {
      setBusy(false);
    }
  }

  return (
    <form class="th-new" id="new-session" aria-labelledby="new-session-title" onSubmit={(e) => void submit(e)}>
      <h2 id="new-session-title">{t("th.newSession")}</h2>
      <label for="new-case">{t("th.case")}</label>
      <select id="new-case" value={chosen} onChange={(e) => setCaseId(e.currentTarget.value)}>
        {cases.map((c) => (
          <option key={c.id} value={c.id}>
            {c.childName ?? t("childOf")}
          </option>
        ))}
      </select>
      <label for="new-start">{t("th.start")}</label>
      <input id="new-start" type="datetime-local" required value={start} onInput={(e) => setStart(e.currentTarget.value)} />
      <label for="new-duration">{t("th.duration")}</label>
      <select id="new-duration" value={duration} onChange={(e) => setDuration(e.currentTarget.value)}>
        {["45", "60"].map((m) => (
          <option key={m} value={m}>
            {m}
          </option>
        ))}
      </select>
      <label for="new-place">{t("th.place")}</label>
      <select id="new-place" value={place} onChange={(e) => setPlace(e.currentTarget.value as PlaceKind)}>
        {PLACES.map((p) => (
          <option key={p} value={p}>
            {t(`place.${p}` as Key)}
          </option>
        ))}
      </select>
      <label for="new-details">{t("th.details")}</label>
      <textarea id="new-details" rows={2} maxLength={4000} value={details} onInput={(e) => setDetails(e.currentTarget.value)} />
      <button id="new-submit" type="submit" class="primary" disabled={busy || !chosen}>
        {busy ? t("th.creating") : t("th.create")}
      </button>
      {error && (
        <p class="error" role="alert" id="new-error" data-code={error}>
          {err(error)}
        </p>
      )}
      {done && (
        <p class="done" role="status" id="new-done">
          {done === "warning" ? t("th.warning") : t("th.created")}
        </p>
      )}
    </form>
  );
}
