import { useEffect, useMemo, useRef, useState } from "preact/hooks";

import { ApiError } from "../api";
import { ZONE, type AppointmentOut } from "../appointments";
import { useApp } from "../context";
import type { Key } from "../i18n";
import { reschedule, type Booked, type Scope } from "../series";
import { fromHelsinki, helsinkiLocal } from "../therapist";
import { DATE_LOCALES } from "./Caseload";
import "../schedule_series.css";

/** Move a scheduled session to a new start: only it, or (a weekly series) it and the
 * rest of the series by the same wall-clock amount; the server's quota warnings after. */
export function MoveSession({
  appt,
  child,
  token,
  onClose,
  onMoved,
}: {
  appt: AppointmentOut;
  child: string;
  token: string;
  onClose: () => void;
  onMoved: () => void;
}) {
  const { t, err, locale } = useApp();
  const [start, setStart] = useState(() => helsinkiLocal(new Date(appt.startsAt)));
  const [scope, setScope] = useState<Scope>("one");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [moved, setMoved] = useState<Booked | null>(null);
  const heading = useRef<HTMLHeadingElement>(null);
  const when = useMemo(
    () => new Intl.DateTimeFormat(DATE_LOCALES[locale], { timeZone: ZONE, weekday: "short", day: "numeric", month: "numeric", hour: "2-digit", minute: "2-digit" }),
    [locale],
  );

  useEffect(() => heading.current?.focus(), [appt.id]);

  async function submit(e: Event): Promise<void> {
    e.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(null);
    setMoved(null);
    try {
      setMoved(await reschedule(token, appt.id, fromHelsinki(start), appt.seriesId ? scope : "one"));
      onMoved();
    } catch (x) {
      setError(x instanceof ApiError ? x.code : "unknown");
    } finally {
      setBusy(false);
    }
  }

  return (
    <form class="th-new ss-form" id="move-session" aria-labelledby="move-title" data-appointment-id={appt.id} onSubmit={(e) => void submit(e)}>
      <h2 id="move-title" tabIndex={-1} ref={heading}>
        {t("ss.moveTitle", { child, when: when.format(new Date(appt.startsAt)) })}
      </h2>
      <label for="move-start">{t("ss.newStart")}</label>
      <input id="move-start" type="datetime-local" required value={start} onInput={(e) => setStart(e.currentTarget.value)} />
      {appt.seriesId && (
        <fieldset class="ss-radios">
          <legend>{t("ss.scope")}</legend>
          {(["one", "following"] as const).map((s) => (
            <label key={s}>
              <input type="radio" name="move-scope" id={`scope-${s}`} value={s} checked={scope === s} onChange={() => setScope(s)} />
              {t(s === "one" ? "ss.scopeOne" : "ss.scopeFollowing")}
            </label>
          ))}
        </fieldset>
      )}
      <p class="ss-actions">
        <button id="move-submit" type="submit" class="primary" disabled={busy}>
          {busy ? t("ss.moving") : t("ss.moveSubmit")}
        </button>
        <button id="move-close" type="button" class="secondary" onClick={onClose}>
          {t("ss.close")}
        </button>
      </p>
      {error && (
        <p class="error" role="alert" id="move-error" data-code={error}>
          {err(error)}
        </p>
      )}
      {moved && (
        <div class="done" role="status" id="move-done" data-moved={String(moved.appointments.length)}>
          <p>{t("ss.moved", { n: String(moved.appointments.length) })}</p>
          {moved.warnings.length > 0 && (
            <ul id="move-warnings">
              {moved.warnings.map((w) => {
                const a = moved.appointments.find((x) => x.id === w.appointmentId);
                return (
                  <li key={`${w.appointmentId}:${w.caseId}`} class="warn" data-code={w.code}>
                    {t(`ss.warn.${w.code}` as Key, { child, date: a ? when.format(new Date(a.startsAt)) : "" })}
                  </li>
                );
              })}
            </ul>
          )}
        </div>
      )}
    </form>
  );
}
