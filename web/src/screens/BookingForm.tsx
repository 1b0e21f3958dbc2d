import { useEffect, useMemo, useState } from "preact/hooks";

import { ApiError } from "../api";
import { caseAppointments, periods as getPeriods, todayInHelsinki, ZONE, type AppointmentOut, type PeriodOut, type PlaceKind } from "../appointments";
import type { CryptoClient } from "../crypto/client";
import { useApp } from "../context";
import type { Key } from "../i18n";
import {
  bookSessions,
  GROUP_LIMITS,
  groupFits,
  MAX_OCCURRENCES,
  occurrencesUntil,
  periodOn,
  weeklyDays,
  type Booked,
  type GroupKind,
  type ScheduleWarning,
} from "../series";
import { addDays, fromHelsinki, helsinkiLocal, PLACES, type TherapistCase } from "../therapist";
import { DATE_LOCALES } from "./Caseload";
import "../schedule_series.css";

type Repeat = "once" | "count" | "until";

/** what the server said no with: its code, its own words, and the group asked for */
interface Refusal {
  code: string;
  detail: string | null;
  kind: GroupKind | null;
}

/** A case's periods and its sessions still scheduled, for the quota preview. */
interface Ledger {
  periods: PeriodOut[];
  scheduled: AppointmentOut[];
}

/** Book one session, a weekly series (a number of times or until a day) or a group
 * session (the size rules explained); the therapy period's quota for each child before
 * booking, and the server's warnings (or its refusal, in the user's language) after. */
export function BookingForm({
  cases,
  onBooked,
  token,
  crypto,
}: {
  cases: TherapistCase[];
  onBooked: () => void;
  token: string;
  crypto: CryptoClient;
}) {
  const { t, err, locale } = useApp();
  const [caseId, setCaseId] = useState("");
  const [start, setStart] = useState(() => `${addDays(todayInHelsinki(), 1)}T09:00`);
  const [duration, setDuration] = useState("60");
  const [place, setPlace] = useState<PlaceKind>("office");
  const [details, setDetails] = useState("");
  const [group, setGroup] = useState(false);
  const [kind, setKind] = useState<GroupKind>("children");
  const [others, setOthers] = useState<string[]>([]);
  const [repeat, setRepeat] = useState<Repeat>("once");
  const [count, setCount] = useState("10");
  const [until, setUntil] = useState(() => addDays(todayInHelsinki(), 64));
  const [ledgers, setLedgers] = useState<Record<string, Ledger>>({});
  const [busy, setBusy] = useState(false);
  const [refusal, setRefusal] = useState<Refusal | null>(null);
  const [booked, setBooked] = useState<Booked | null>(null);
  const chosen = caseId || cases[0]?.id || "";
  const caseIds = group ? [chosen, ...others.filter((c) => c !== chosen)] : [chosen];
  const names = Object.fromEntries(cases.map((c) => [c.id, c.childName ?? t("childOf")]));
  const firstDay = start.slice(0, 10);
  const occurrences =
    repeat === "once" ? 1 : repeat === "count" ? Math.trunc(Number(count)) || 0 : occurrencesUntil(firstDay, until);
  const seriesOk = occurrences >= 1 && occurrences <= MAX_OCCURRENCES;
  const days = seriesOk ? weeklyDays(firstDay, occurrences) : [];
  const [low, high] = GROUP_LIMITS[kind];

  const dayFmt = useMemo(
    () => new Intl.DateTimeFormat(DATE_LOCALES[locale], { timeZone: "UTC", day: "numeric", month: "numeric", year: "numeric" }),
    [locale],
  );
  const when = useMemo(
    () => new Intl.DateTimeFormat(DATE_LOCALES[locale], { timeZone: ZONE, weekday: "short", day: "numeric", month: "numeric", hour: "2-digit", minute: "2-digit" }),
    [locale],
  );
  const day = (d: string): string => dayFmt.format(new Date(`${d}T00:00:00Z`));

  // each chosen child's periods and scheduled sessions, once (again after a booking)
  const wanted = caseIds.filter((c) => c && !(c in ledgers)).join(",");
  useEffect(() => {
    if (!wanted) return;
    for (const id of wanted.split(",")) {
      void Promise.all([getPeriods(token, id), caseAppointments(token, id)]).then(
        ([periods, list]) =>
          setLedgers((old) => ({
            ...old,
            [id]: { periods, scheduled: list.filter((a) => a.cases.some((c) => c.caseId === id && c.status === "scheduled")) },
          })),
        () => setLedgers((old) => ({ ...old, [id]: { periods: [], scheduled: [] } })),
      );
    }
  }, [wanted, token]);

  function quota(id: string) {
    const ledger = ledgers[id];
    if (!ledger) return null;
    const child = names[id] ?? "";
    const lines: { text: string; warn: boolean }[] = [];
    const outside = days.filter((d) => periodOn(ledger.periods, d) === null).length;
    const touched = ledger.periods.filter((p) => days.some((d) => periodOn([p], d) === p));
    const shown = touched.length > 0 ? touched : ledger.periods.filter((p) => p === periodOn(ledger.periods, todayInHelsinki()));
    if (ledger.periods.length === 0) lines.push({ text: t("ss.noPeriod", { child }), warn: false });
    for (const p of shown) {
      const ahead = ledger.scheduled.filter((a) => periodOn([p], helsinkiLocal(new Date(a.startsAt)).slice(0, 10)) === p).length;
      lines.push({
        text: t("ss.quotaLine", {
          child,
          used: String(p.sessionsUsed),
          granted: String(p.sessionsGranted),
          booked: String(ahead),
          from: day(p.startsOn),
          to: day(p.endsOn),
        }),
        warn: false,
      });
      const fresh = days.filter((d) => periodOn([p], d) === p).length;
      const over = p.sessionsUsed + ahead + fresh - p.sessionsGranted;
      if (fresh > 0 && over > 0) lines.push({ text: t("ss.quotaOver", { child, over: String(Math.min(over, fresh)) }), warn: true });
    }
    if (outside > 0 && ledger.periods.length > 0) lines.push({ text: t("ss.quotaOutside", { child, n: String(outside) }), warn: true });
    return lines.map((l, i) => (
      <li key={`${id}:${i}`} class={l.warn ? "warn" : ""} data-case={id}>
        {l.text}
      </li>
    ));
  }

  function refusalText(r: Refusal): string {
    if ((r.code === "group_too_large" || r.code === "group_too_small") && r.kind) {
      const [lo, hi] = GROUP_LIMITS[r.kind];
      return t(`ss.refusal.${r.code}` as Key, { kind: t(`ss.${r.kind}` as Key), low: String(lo), high: String(hi) });
    }
    return err(r.code);
  }

  function warningText(w: ScheduleWarning): string {
    const appt = booked?.appointments.find((a) => a.id === w.appointmentId);
    const date = appt ? when.format(new Date(appt.startsAt)) : "";
    return t(`ss.warn.${w.code}` as Key, { child: names[w.caseId] ?? "", date });
  }

  async function submit(e: Event): Promise<void> {
    e.preventDefault();
    if (!chosen || busy || !seriesOk) return;
    setBusy(true);
    setRefusal(null);
    setBooked(null);
    const groupKind = group ? kind : null;
    try {
      const out = await bookSessions(token, crypto, {
        caseIds,
        startsAt: fromHelsinki(start),
        durationMinutes: Number(duration),
        placeKind: place,
        groupKind,
        weeklyOccurrences: occurrences,
        details,
      });
      setBooked(out);
      setDetails("");
      setLedgers({});
      onBooked();
    } catch (x) {
      setRefusal(x instanceof ApiError ? { code: x.code, detail: x.detail, kind: groupKind } : { code: "unknown", detail: null, kind: null });
    } finally {
      setBusy(false);
    }
  }

  function toggle(id: string, on: boolean): void {
    setOthers((old) => (on ? [...old.filter((c) => c !== id), id] : old.filter((c) => c !== id)));
  }

  const sizeOk = groupFits(kind, caseIds.length);
  return (
    <form class="th-new ss-form" id="new-session" aria-labelledby="new-session-title" onSubmit={(e) => void submit(e)}>
      <h2 id="new-session-title">{t("th.newSession")}</h2>
      <label for="new-case">{t("th.case")}</label>
      <select id="new-case" value={chosen} onChange={(e) => setCaseId(e.currentTarget.value)}>
        {cases.map((c) => (
          <option key={c.id} value={c.id}>
            {c.childName ?? t("childOf")}
          </option>
        ))}
      </select>
      <label class="ss-check">
        <input type="checkbox" id="new-group" checked={group} onChange={(e) => setGroup(e.currentTarget.checked)} />
        {t("ss.group")}
      </label>
      {group && (
        <div class="ss-group" id="group-fields">
          <p class="muted" id="group-rule">
            {t("ss.groupRule")}
          </p>
          <fieldset class="ss-radios">
            <legend>{t("ss.groupKind")}</legend>
            {(["children", "adults"] as const).map((k) => (
              <label key={k}>
                <input type="radio" name="group-kind" id={`group-${k}`} value={k} checked={kind === k} onChange={() => setKind(k)} />
                {t(`ss.${k}`)}
              </label>
            ))}
          </fieldset>
          <fieldset class="ss-radios" id="group-cases" aria-describedby="group-size">
            <legend>{t("ss.groupOthers")}</legend>
            {cases
              .filter((c) => c.id !== chosen)
              .map((c) => (
                <label key={c.id}>
                  <input type="checkbox" data-case={c.id} checked={others.includes(c.id)} onChange={(e) => toggle(c.id, e.currentTarget.checked)} />
                  {c.childName ?? t("childOf")}
                </label>
              ))}
          </fieldset>
          <p id="group-size" class={sizeOk ? "muted" : "warn"} aria-live="polite" data-fits={sizeOk ? "yes" : "no"}>
            {t("ss.groupSize", { n: String(caseIds.length), kind: t(`ss.${kind}`), low: String(low), high: String(high) })}
            {!sizeOk && ` ${t("ss.groupOutside")}`}
          </p>
        </div>
      )}
      <label for="new-start">{t("th.start")}</label>
      <input id="new-start" type="datetime-local" required value={start} onInput={(e) => setStart(e.currentTarget.value)} />
      <label for="new-repeat">{t("ss.repeat")}</label>
      <select id="new-repeat" value={repeat} onChange={(e) => setRepeat(e.currentTarget.value as Repeat)}>
        <option value="once">{t("ss.once")}</option>
        <option value="count">{t("ss.weeklyCount")}</option>
        <option value="until">{t("ss.weeklyUntil")}</option>
      </select>
      {repeat === "count" && (
        <>
          <label for="new-count">{t("ss.count")}</label>
          <input id="new-count" type="number" min={2} max={MAX_OCCURRENCES} required value={count} onInput={(e) => setCount(e.currentTarget.value)} />
        </>
      )}
      {repeat === "until" && (
        <>
          <label for="new-until">{t("ss.until")}</label>
          <input id="new-until" type="date" required value={until} onInput={(e) => setUntil(e.currentTarget.value)} />
        </>
      )}
      {repeat !== "once" && (
        <p id="series-summary" class={seriesOk ? "muted" : "warn"} aria-live="polite">
          {seriesOk
            ? t("ss.seriesSummary", { n: String(occurrences), last: day(days[days.length - 1] ?? firstDay) })
            : occurrences < 1
              ? t("ss.seriesEmpty")
              : t("ss.seriesTooLong")}
        </p>
      )}
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
      <section class="ss-quota" id="quota" aria-labelledby="quota-title">
        <h3 id="quota-title">{t("ss.quotaTitle")}</h3>
        <ul aria-live="polite">{caseIds.filter(Boolean).flatMap((id) => quota(id) ?? [])}</ul>
      </section>
      <button id="new-submit" type="submit" class="primary" disabled={busy || !chosen || !seriesOk}>
        {busy ? t("th.creating") : t("th.create")}
      </button>
      {refusal && (
        <div class="error" role="alert">
          <p id="new-error" data-code={refusal.code}>
            {refusalText(refusal)}
          </p>
          {refusal.detail && (
            <p class="server-detail" id="new-error-detail">
              {t("ss.serverSays")} <span lang="en">{refusal.detail}</span>
            </p>
          )}
        </div>
      )}
      {booked && (
        <div class="done" role="status" id="new-done" data-warnings={String(booked.warnings.length)}>
          <p>{booked.appointments.length > 1 ? t("ss.bookedSeries", { n: String(booked.appointments.length) }) : t("th.created")}</p>
          {booked.warnings.length > 0 && (
            <>
              <p class="warn">{t("ss.warningsTitle")}</p>
              <ul id="new-warnings">
                {booked.warnings.map((w) => (
                  <li key={`${w.appointmentId}:${w.caseId}`} data-code={w.code} data-case={w.caseId} data-appointment-id={w.appointmentId}>
                    {warningText(w)}
                  </li>
                ))}
              </ul>
            </>
          )}
        </div>
      )}
    </form>
  );
}
