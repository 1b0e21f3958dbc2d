import { useEffect, useState } from "preact/hooks";

import { ApiError, request, type CaseOut } from "../api";
import { useApp } from "../context";
import type { Key } from "../i18n";
import { navigate } from "../router";
import { PushControl } from "./PushPrompt";
import { TopBar } from "./TopBar";
import "./push.css";

interface ReminderOut {
  caseId: string;
  time: string | null;
}

interface QuietHoursOut {
  caseId: string;
  start: string | null;
  end: string | null;
}

/** what the last save said: kept as a text key, so it follows a change of language */
type Saved = { kind: "ok"; key: Key; vars: Record<string, string> } | { kind: "error"; code: string } | null;

function codeOf(x: unknown): string {
  return x instanceof ApiError ? x.code : "unknown";
}

/** A parent's settings for a child's case: notifications on this device, the child's
 * daily homework reminder time (`/cases/{id}/homework/reminder`) and quiet hours for the
 * child's devices (`/cases/{id}/quiet-hours`), in Finnish time. Only a guardian may
 * change the last two; others see them. */
export function Settings({ caseId }: { caseId: string }) {
  const { t, err, session } = useApp();
  const token = session?.token ?? "";
  const [kase, setCase] = useState<CaseOut | null>(null);
  const [reminder, setReminder] = useState("");
  const [start, setStart] = useState("");
  const [end, setEnd] = useState("");
  const [loaded, setLoaded] = useState(false);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [reminderSaved, setReminderSaved] = useState<Saved>(null);
  const [quietSaved, setQuietSaved] = useState<Saved>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (!session) return;
    void (async () => {
      try {
        const [c, r, q] = await Promise.all([
          request<CaseOut>("GET", `/cases/${caseId}`, token),
          request<ReminderOut>("GET", `/cases/${caseId}/homework/reminder`, token),
          request<QuietHoursOut>("GET", `/cases/${caseId}/quiet-hours`, token),
        ]);
        setCase(c);
        setReminder(r.time ?? "");
        setStart(q.start ?? "");
        setEnd(q.end ?? "");
        setLoaded(true);
      } catch (x) {
        setLoadError(codeOf(x));
      }
    })();
  }, [caseId, token]);

  const child = kase?.childName ?? "";
  const mayEdit = kase?.myRole === "guardian" && kase.closedAt === null;

  async function run(act: () => Promise<Saved>, set: (s: Saved) => void) {
    if (busy) return;
    setBusy(true);
    set(null);
    try {
      set(await act());
    } catch (x) {
      set({ kind: "error", code: codeOf(x) });
    } finally {
      setBusy(false);
    }
  }

  const saveReminder = (time: string | null) =>
    run(async () => {
      const r = await request<ReminderOut>("PUT", `/cases/${caseId}/homework/reminder`, token, { time });
      setReminder(r.time ?? "");
      return r.time ? { kind: "ok", key: "reminderSaved", vars: { time: r.time } } : { kind: "ok", key: "reminderSavedOff", vars: {} };
    }, setReminderSaved);

  const saveQuiet = () =>
    run(async () => {
      const q = await request<QuietHoursOut>("PUT", `/cases/${caseId}/quiet-hours`, token, { start, end });
      return { kind: "ok", key: "quietSaved", vars: { start: q.start ?? "", end: q.end ?? "" } };
    }, setQuietSaved);

  const clearQuiet = () =>
    run(async () => {
      await request<void>("DELETE", `/cases/${caseId}/quiet-hours`, token);
      setStart("");
      setEnd("");
      return { kind: "ok", key: "quietCleared", vars: {} };
    }, setQuietSaved);

  function status(s: Saved, id: string) {
    if (!s) return null;
    if (s.kind === "ok")
      return (
        <p id={id} class="saved" role="status">
          {t(s.key, s.vars)}
        </p>
      );
    return (
      <p id={id} class="error" role="alert" data-code={s.code}>
        {err(s.code)}
      </p>
    );
  }

  return (
    <main class="screen settings">
      <TopBar
        title={child ? t("settingsOf", { child }) : t("settingsTitle")}
        back={
          <button type="button" class="link back" aria-label={t("back")} onClick={() => navigate({ name: "thread", caseId, kind: "family" })}>
            ‹
          </button>
        }
      />
      <section class="card" aria-labelledby="settings-push-title">
        <h2 id="settings-push-title">{t("settingsNotifications")}</h2>
        <PushControl compact={false} />
      </section>
      {loadError && (
        <p class="error" role="alert" data-code={loadError}>
          {err(loadError)}
        </p>
      )}
      {!loaded && !loadError && <p class="muted">{t("loading")}</p>}
      {loaded && (
        <>
          <form
            class="card"
            id="reminder-form"
            aria-labelledby="reminder-title"
            onSubmit={(e) => {
              e.preventDefault();
              void saveReminder(reminder || null);
            }}
          >
            <h2 id="reminder-title">{t("reminderTitle", { child })}</h2>
            <p class="muted-text">{t("reminderLead", { child })}</p>
            <label>
              {t("reminderTime")}
              <input
                id="reminder-time"
                type="time"
                step={60}
                value={reminder}
                disabled={!mayEdit}
                onInput={(e) => setReminder(e.currentTarget.value)}
              />
            </label>
            {mayEdit && (
              <div class="push-buttons">
                <button id="reminder-save" type="submit" class="primary" disabled={busy || !reminder}>
                  {t("reminderSave")}
                </button>
                <button id="reminder-clear" type="button" class="link" disabled={busy} onClick={() => void saveReminder(null)}>
                  {t("reminderOff")}
                </button>
              </div>
            )}
            {status(reminderSaved, "reminder-status")}
          </form>
          <form
            class="card"
            id="quiet-form"
            aria-labelledby="quiet-title"
            onSubmit={(e) => {
              e.preventDefault();
              void saveQuiet();
            }}
          >
            <h2 id="quiet-title">{t("quietTitle")}</h2>
            <p class="muted-text">{t("quietLead", { child })}</p>
            <div class="times">
              <label>
                {t("quietStart")}
                <input id="quiet-start" type="time" step={60} value={start} disabled={!mayEdit} onInput={(e) => setStart(e.currentTarget.value)} />
              </label>
              <label>
                {t("quietEnd")}
                <input id="quiet-end" type="time" step={60} value={end} disabled={!mayEdit} onInput={(e) => setEnd(e.currentTarget.value)} />
              </label>
            </div>
            {!start && !end && !quietSaved && <p class="muted-text">{t("quietNone")}</p>}
            {mayEdit && (
              <div class="push-buttons">
                <button id="quiet-save" type="submit" class="primary" disabled={busy || !start || !end}>
                  {t("quietSave")}
                </button>
                <button id="quiet-clear" type="button" class="link" disabled={busy} onClick={() => void clearQuiet()}>
                  {t("quietClear")}
                </button>
              </div>
            )}
            {status(quietSaved, "quiet-status")}
          </form>
        </>
      )}
    </main>
  );
}
