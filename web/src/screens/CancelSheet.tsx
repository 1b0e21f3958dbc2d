import { useState } from "preact/hooks";

import { ApiError } from "../api";
import {
  cancel,
  markSickDay,
  todayInHelsinki,
  type AppointmentOut,
  type CancellationOut,
  type Reason,
} from "../appointments";
import { useApp } from "../context";
import { CryptoError } from "../crypto/client";

const REASONS: readonly Reason[] = ["illness", "family", "other"];

function codeOf(x: unknown): string {
  if (x instanceof ApiError || x instanceof CryptoError) return x.code;
  return "unknown";
}

/** "Can't come?": the reason preselected (the child is ill), an optional note, Send;
 * then, for illness, one tap marks today as a sick day, and the therapist's "seen" shows
 * as soon as it is given (a live event to the schedule, which passes it in). */
export function CancelSheet({
  appt,
  caseId,
  child,
  when,
  clock,
  current,
  onClose,
  onCancelled,
}: {
  appt: AppointmentOut;
  caseId: string;
  child: string;
  when: string;
  /** the time of day as the screen shows it */
  clock: Intl.DateTimeFormat;
  /** the cancellation as the schedule knows it now (its seenBy kept live there) */
  current: CancellationOut | undefined;
  onClose: () => void;
  onCancelled: (c: CancellationOut) => void;
}) {
  const { t, err, session, crypto } = useApp();
  const [reason, setReason] = useState<Reason>("illness");
  const [note, setNote] = useState("");
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<CancellationOut | null>(null);
  const [sick, setSick] = useState<"no" | "busy" | "yes">("no");
  const [error, setError] = useState<string | null>(null);

  const shown = done && current?.id === done.id ? current : done;
  const seen = shown?.seenBy.find((s) => s.userId !== shown.cancelledBy);

  async function send(e: SubmitEvent) {
    e.preventDefault();
    if (!session || busy) return;
    setBusy(true);
    setError(null);
    try {
      const c = await cancel(session.token, crypto, appt.id, caseId, reason, note);
      setDone(c);
      onCancelled(c);
    } catch (x) {
      setError(codeOf(x));
    } finally {
      setBusy(false);
    }
  }

  async function sickDay() {
    if (!session) return;
    setSick("busy");
    setError(null);
    try {
      await markSickDay(session.token, caseId, todayInHelsinki());
      setSick("yes");
    } catch (x) {
      setSick("no");
      setError(codeOf(x));
    }
  }

  return (
    <div class="sheet-backdrop">
      <section class="sheet" id="cancel-sheet" role="dialog" aria-modal="true" aria-labelledby="cancel-title">
        <h2 id="cancel-title">{t("cancelTitle")}</h2>
        <p class="muted when">{when}</p>
        {!done && (
          <form onSubmit={(e) => void send(e)}>
            <fieldset class="reasons">
              <legend>{t("reasonLabel")}</legend>
              {REASONS.map((r) => (
                <label key={r} class="reason">
                  <input
                    type="radio"
                    name="reason"
                    value={r}
                    id={`reason-${r}`}
                    checked={reason === r}
                    onChange={() => setReason(r)}
                  />
                  {t(`reason.${r}`, { child })}
                </label>
              ))}
            </fieldset>
            <label for="cancel-note">{t("noteLabel")}</label>
            <textarea
              id="cancel-note"
              rows={3}
              maxLength={2000}
              placeholder={t("notePlaceholder")}
              value={note}
              onInput={(e) => setNote(e.currentTarget.value)}
            />
            <button id="cancel-send" type="submit" class="primary" disabled={busy}>
              {busy ? t("cancelSending") : t("cancelSend")}
            </button>
            <button id="cancel-keep" type="button" class="link" onClick={onClose}>
              {t("keep")}
            </button>
          </form>
        )}
        {done && (
          <div class="done">
            <p id="cancel-done" role="status">
              {t("cancelDone")}
            </p>
            {done.late && <p class="muted">{t("cancelLate")}</p>}
            <p id="cancel-seen" class="seen" role="status" data-seen={seen ? "yes" : "no"}>
              {seen ? t("seenBy", { name: seen.displayName, time: clock.format(new Date(seen.seenAt)) }) : t("notSeenYet")}
            </p>
            {reason === "illness" && sick !== "yes" && (
              <button id="sick-day" type="button" class="primary" disabled={sick === "busy"} onClick={() => void sickDay()}>
                {t("markSickDay")}
              </button>
            )}
            {sick === "yes" && (
              <p id="sick-day-done" role="status">
                {t("sickDayMarked")}
              </p>
            )}
            <button id="cancel-close" type="button" class="link" onClick={onClose}>
              {t("back")}
            </button>
          </div>
        )}
        {error && (
          <p class="error" role="alert" id="cancel-error" data-code={error}>
            {err(error)}
          </p>
        )}
      </section>
    </div>
  );
}
