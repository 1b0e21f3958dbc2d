import { useEffect, useMemo, useRef, useState } from "preact/hooks";

import { ApiError, cases as listCases } from "../api";
import { taskText, type TaskText } from "../child/content";
import { useApp } from "../context";
import { daysBefore, homeworkRoom, members, noteText, progress, rememberCase, tasks, ticks, type NoteText, type ProgressOut, type TaskOut, type TickOut } from "../family";
import { navigate } from "../router";
import { TopBar } from "./TopBar";
import { useLiveReload } from "../useLive";
import "../family.css";

const HOMEWORK_EVENTS = ["homework_assigned", "homework_changed", "homework_ticked", "homework_unticked", "homework_sick_day"] as const;

const DATE_LOCALES = { fi: "fi-FI", sv: "sv-FI", en: "en-GB" } as const;
const NOTE_DAYS = 28; // the notes of the last four weeks

interface Loaded {
  tasks: TaskOut[];
  progress: ProgressOut;
  ticks: Record<string, TickOut[]>; // by task, newest first
}

/** A guardian's view of one child's homework: each task's title (decrypted from its
 * org.kaari.homework.task event), this week's and the period's progress (the server
 * counts, docs/homework.md) and the notes made with the ticks (org.kaari.homework.note
 * events, decrypted here). Content whose key has not arrived is read again after syncs. */
export function Homework({ caseId }: { caseId: string }) {
  const { t, err, session, crypto, locale } = useApp();
  const token = session?.token ?? "";
  const [child, setChild] = useState<string | null>(null);
  const [data, setData] = useState<Loaded | null>(null);
  const [names, setNames] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const [, setVersion] = useState(0); // a decrypted title or note arrived
  const titles = useRef(new Map<string, TaskText>());
  const notes = useRef(new Map<string, NoteText>());
  const dataRef = useRef<Loaded | null>(null);

  const day = useMemo(() => new Intl.DateTimeFormat(DATE_LOCALES[locale], { timeZone: "UTC", weekday: "short", day: "numeric", month: "numeric" }), [locale]);
  const fmt = (d: string) => day.format(new Date(`${d}T12:00:00Z`));

  async function decryptMissing(): Promise<void> {
    const d = dataRef.current;
    if (!d) return;
    let changed = false;
    for (const task of d.tasks) {
      if (!titles.current.has(task.contentEventId)) {
        const text = await taskText(crypto, task.roomId, task.contentEventId, task.id).catch(() => null);
        if (text) {
          titles.current.set(task.contentEventId, text);
          changed = true;
        }
      }
      for (const tick of d.ticks[task.id] ?? []) {
        if (!tick.noteEventId || notes.current.has(tick.noteEventId)) continue;
        const note = await noteText(crypto, task.roomId, tick).catch(() => null);
        if (note) {
          notes.current.set(tick.noteEventId, note);
          changed = true;
        }
      }
    }
    if (changed) setVersion((v) => v + 1);
  }

  async function load(): Promise<void> {
    try {
      const [all, prog] = await Promise.all([tasks(token, caseId), progress(token, caseId, 4)]);
      const shown = all.filter((x) => x.status !== "finished");
      const from = daysBefore(prog.today, NOTE_DAYS - 1);
      const byTask: Record<string, TickOut[]> = {};
      await Promise.all(
        shown.map(async (x) => {
          byTask[x.id] = (await ticks(token, x.id, from, prog.today)).sort((a, b) => b.day.localeCompare(a.day));
        }),
      );
      const loaded = { tasks: shown, progress: prog, ticks: byTask };
      dataRef.current = loaded;
      setData(loaded);
      setError(null);
      void decryptMissing();
    } catch (x) {
      setError(x instanceof ApiError ? x.code : "unknown");
    }
  }

  useEffect(() => {
    if (!token || !session) return;
    rememberCase(session.userId, caseId);
    void listCases(token).then((all) => setChild(all.find((c) => c.id === caseId)?.childName ?? null), () => undefined);
    void members(token, caseId).then((m) => setNames(Object.fromEntries(m.map((x) => [x.userId, x.displayName]))), () => undefined);
    void load();
    // the homework room: also before the first task, so one set now appears
    let room: string | null = null;
    void homeworkRoom(token, caseId).then((r) => (room = r), () => undefined);
    let later: ReturnType<typeof setTimeout> | undefined;
    const off = crypto.subscribe((e) => {
      if (e.event === "status" && e.state === "syncing") void decryptMissing();
      // a new event in the homework room: a task or a note just made; the counts again
      if (e.event === "timeline" && (e.roomId === room || dataRef.current?.tasks.some((x) => x.roomId === e.roomId))) {
        clearTimeout(later);
        later = setTimeout(() => void load(), 500);
      }
    });
    return () => {
      clearTimeout(later);
      off();
    };
  }, [token, caseId]);

  // a tick from the child's tablet, a task set or changed, a sick day: read again
  useLiveReload(HOMEWORK_EVENTS, () => void load(), (ids) => ids.caseId === caseId);

  const summary = data?.progress.summary;
  return (
    <main class="screen homework">
      <TopBar
        title={child ? t("homeworkOf", { child }) : t("homeworkTitle")}
        back={
          <button type="button" class="link back" aria-label={t("back")} onClick={() => navigate({ name: "home" })}>
            ‹
          </button>
        }
      />
      {error && (
        <p class="error" role="alert" data-code={error}>
          {err(error)}
        </p>
      )}
      {!data && !error && <p class="muted">{t("loading")}</p>}
      {data && data.tasks.length === 0 && <p class="muted" id="no-homework">{t("noHomework")}</p>}
      {summary && data.tasks.length > 0 && (
        <p class="period" id="homework-summary">
          {t("homeworkSummary", { since: fmt(summary.since), done: String(summary.done), expected: String(summary.expected) })}
        </p>
      )}
      {data && data.tasks.length > 0 && (
        <ul class="hw-tasks">
          {data.tasks.map((task) => {
            const title = titles.current.get(task.contentEventId);
            const p = data.progress.tasks.find((x) => x.taskId === task.id);
            const week = p?.weeks[p.weeks.length - 1];
            const period = summary?.tasks.find((x) => x.taskId === task.id);
            const withNotes = (data.ticks[task.id] ?? []).filter((x) => x.noteEventId);
            const headId = `hw-${task.id}`;
            return (
              <li key={task.id} class="hw-task" data-task={task.id} aria-labelledby={headId}>
                <h2 id={headId} class={title ? "hw-title" : "hw-title unreadable"}>
                  {title ? title.title : t("taskUnreadable")}
                </h2>
                {task.status === "paused" && <p class="hw-paused">{t("taskPaused")}</p>}
                {week && (
                  <p class="hw-week">
                    {t("thisWeek", { done: String(week.done), expected: String(week.expected) })}
                    <meter min={0} max={Math.max(week.expected, 1)} value={Math.min(week.done, Math.max(week.expected, 1))} aria-hidden="true" />
                  </p>
                )}
                {period && <p class="hw-period">{t("sinceSession", { done: String(period.done), expected: String(period.expected) })}</p>}
                {p && p.streak > 0 && <p class="hw-streak">{t(p.streakUnit === "weeks" ? "streakWeeks" : "streakTimes", { n: String(p.streak) })}</p>}
                {p && p.weeks.length > 1 && (
                  <details class="hw-weeks">
                    <summary>{t("weeksTitle")}</summary>
                    <ul>
                      {p.weeks.map((w) => (
                        <li key={w.weekStart}>{t("weekOf", { day: fmt(w.weekStart), done: String(w.done), expected: String(w.expected) })}</li>
                      ))}
                    </ul>
                  </details>
                )}
                <h3 class="hw-notes-title">{t("notesTitle")}</h3>
                {withNotes.length === 0 && <p class="muted hw-none">{t("noNotes")}</p>}
                {withNotes.length > 0 && (
                  <ul class="hw-notes">
                    {withNotes.map((tick) => {
                      const n = tick.noteEventId ? notes.current.get(tick.noteEventId) : undefined;
                      return (
                        <li key={tick.day + tick.userId} class="hw-note" data-day={tick.day} data-readable={n ? "yes" : "no"}>
                          <span class="hw-note-meta">
                            <time dateTime={tick.day}>{fmt(tick.day)}</time>
                            {names[tick.userId] ? ` · ${names[tick.userId]}` : ""}
                          </span>
                          {n ? (
                            <span class="hw-note-text">
                              {n.emoji && <span class="hw-note-emoji">{n.emoji} </span>}
                              {n.note}
                            </span>
                          ) : (
                            <span class="hw-note-text unreadable">{t("noteUnreadable")}</span>
                          )}
                        </li>
                      );
                    })}
                  </ul>
                )}
              </li>
            );
          })}
        </ul>
      )}
    </main>
  );
}
