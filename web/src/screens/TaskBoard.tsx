import { useEffect, useMemo, useRef, useState } from "preact/hooks";

import { ApiError } from "../api";
import { useApp } from "../context";
import type { ProgressOut } from "../family";
import { download, objectUrl, type AttachmentPointer } from "../files";
import { edit, homeworkRoom, progress as getProgress, readContent, tasks as getTasks, type Content, type Status, type Task } from "../homework";
import type { Key } from "../i18n";
import { navigate } from "../router";
import { myCases } from "../therapist";
import { DATE_LOCALES } from "./Caseload";
import { TaskForm, useFormError } from "./TaskForm";
import { TopBar } from "./TopBar";
import "../family.css";
import "../therapist.css";

/** the counts are asked again this often: a tick made at home shows without a reload */
const POLL_MS = 15_000;

/** A picture or video of a task, decrypted on this device. */
function Media({ pointer }: { pointer: AttachmentPointer }) {
  const { t, session, err } = useApp();
  const [url, setUrl] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let made: string | null = null;
    download(session?.token ?? "", pointer).then(
      (plain) => setUrl((made = objectUrl(plain, pointer.mediaType))),
      (x: unknown) => setError(x instanceof Error ? x.message : "unknown"),
    );
    return () => {
      if (made) URL.revokeObjectURL(made);
    };
  }, [pointer.blobId]);
  const name = pointer.fileName ?? pointer.mediaType;
  if (error)
    return (
      <p class="error" data-code={error}>
        {err(error)}
      </p>
    );
  if (!url) return <p class="muted">{t("hw.mediaLoading")}</p>;
  if (pointer.mediaType.startsWith("video/"))
    return <video class="hw-media" src={url} controls preload="metadata" aria-label={t("hw.video", { name })} />;
  return <img class="hw-media" src={url} alt={t("hw.picture", { name })} />;
}

/** The therapist's homework of one case: each task with its decrypted title,
 * instructions and picture, its schedule, who ticks, this week's and the period's
 * progress (the server counts, GET /cases/{id}/homework/progress), and pause, resume,
 * edit and finish; a form sets a new task. */
export function TaskBoard({ caseId }: { caseId: string }) {
  const { t, session, crypto, locale } = useApp();
  const words = useFormError();
  const token = session?.token ?? "";
  const [child, setChild] = useState<string | null>(null);
  const [room, setRoom] = useState<string | null>(null);
  const [list, setList] = useState<Task[] | null>(null);
  const [prog, setProg] = useState<ProgressOut | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [editing, setEditing] = useState<string | null>(null);
  const [finishing, setFinishing] = useState<string | null>(null);
  const [, setVersion] = useState(0); // a decrypted content arrived
  const contents = useRef(new Map<string, Content>()); // by content event id
  const listRef = useRef<Task[]>([]);

  const day = useMemo(() => new Intl.DateTimeFormat(DATE_LOCALES[locale], { timeZone: "UTC", weekday: "short", day: "numeric", month: "numeric" }), [locale]);
  const fmt = (d: string) => day.format(new Date(`${d}T12:00:00Z`));

  async function decryptMissing(): Promise<void> {
    let changed = false;
    for (const task of listRef.current) {
      if (contents.current.has(task.contentEventId)) continue;
      const c = await readContent(crypto, task).catch(() => null);
      if (c) {
        contents.current.set(task.contentEventId, c);
        changed = true;
      }
    }
    if (changed) setVersion((v) => v + 1);
  }

  async function load(): Promise<void> {
    try {
      const [all, p] = await Promise.all([getTasks(token, caseId), getProgress(token, caseId, 4)]);
      listRef.current = all;
      setList(all);
      setProg(p);
      setError(null);
      void decryptMissing();
    } catch (x) {
      setError(x instanceof ApiError ? x.code : "unknown");
    }
  }

  useEffect(() => {
    if (!token) return;
    void myCases(token).then((all) => setChild(all.find((c) => c.id === caseId)?.childName ?? null), () => undefined);
    void homeworkRoom(token, caseId).then(setRoom, (x: unknown) => setError(x instanceof ApiError ? x.code : "unknown"));
    void load();
    const timer = setInterval(() => void load(), POLL_MS);
    let later: ReturnType<typeof setTimeout> | undefined;
    const off = crypto.subscribe((e) => {
      if (e.event === "status" && e.state === "syncing") void decryptMissing();
      // a tick's note or a task from another device: the counts again
      if (e.event === "timeline" && listRef.current.some((x) => x.roomId === e.roomId)) {
        clearTimeout(later);
        later = setTimeout(() => void load(), 500);
      }
    });
    return () => {
      clearInterval(timer);
      clearTimeout(later);
      off();
    };
  }, [token, caseId]);

  async function setStatus(task: Task, status: Status): Promise<void> {
    setError(null);
    try {
      await edit(token, crypto, task, { status });
      setFinishing(null);
      await load();
    } catch (x) {
      setError(x instanceof ApiError ? x.code : "unknown");
    }
  }

  function schedule(task: Task): string {
    const s = task.schedule;
    if (!s) return "";
    if (s.kind === "once") return t("hw.kind.once", { day: fmt(task.startsOn) });
    if (s.kind === "weekly") return t("hw.kind.weekly", { days: (s.weekdays ?? []).map((d) => t(`hw.wd${d}` as Key)).join(", ") });
    if (s.kind === "perWeek") return t("hw.kind.perWeek", { n: String(s.timesPerWeek ?? 0) });
    return t("hw.kind.daily");
  }

  function card(task: Task) {
    const c = contents.current.get(task.contentEventId);
    const p = prog?.tasks.find((x) => x.taskId === task.id);
    const week = p?.weeks[p.weeks.length - 1];
    const since = prog?.summary.tasks.find((x) => x.taskId === task.id);
    const headId = `task-${task.id}`;
    const open = task.status !== "finished";
    return (
      <li key={task.id} class={`hw-task th-task ${task.status}`} data-task={task.id} data-status={task.status} aria-labelledby={headId}>
        <h3 id={headId} class={c ? "hw-title" : "hw-title unreadable"}>
          {c ? c.title : t("hw.unreadable")}
        </h3>
        <p class="hw-state">
          <span class="status">{t(`hw.status.${task.status}` as Key)}</span> · <span class="rule">{schedule(task)}</span>
        </p>
        <p class="hw-dates">
          {task.endsOn && task.schedule?.kind !== "once" ? t("hw.fromTo", { start: fmt(task.startsOn), end: fmt(task.endsOn) }) : t("hw.from", { start: fmt(task.startsOn) })}
          {" · "}
          <span class="ticker">{t(`hw.ticker.${task.tickBy}` as Key)}</span>
        </p>
        {c?.instructions && <p class="hw-instructions">{c.instructions}</p>}
        {c?.media.map((m) => <Media key={m.blobId} pointer={m} />)}
        {week && open && (
          <p class="hw-week">
            {t("hw.thisWeek", { done: String(week.done), expected: String(week.expected) })}
            <meter min={0} max={Math.max(week.expected, 1)} value={Math.min(week.done, Math.max(week.expected, 1))} aria-hidden="true" />
          </p>
        )}
        {since && <p class="hw-since">{t("hw.sinceSession", { done: String(since.done), expected: String(since.expected) })}</p>}
        {p && p.streak > 0 && <p class="hw-streak">{t(p.streakUnit === "weeks" ? "hw.streakWeeks" : "hw.streakTimes", { n: String(p.streak) })}</p>}
        {p && p.weeks.length > 1 && (
          <details class="hw-weeks">
            <summary>{t("hw.weeks")}</summary>
            <ul>
              {p.weeks.map((w) => (
                <li key={w.weekStart}>{t("hw.weekOf", { day: fmt(w.weekStart), done: String(w.done), expected: String(w.expected) })}</li>
              ))}
            </ul>
          </details>
        )}
        {open && editing !== task.id && finishing !== task.id && (
          <p class="hw-actions">
            {task.status === "active" ? (
              <button type="button" class="secondary pause" onClick={() => void setStatus(task, "paused")}>
                {t("hw.pause")}
              </button>
            ) : (
              <button type="button" class="secondary resume" onClick={() => void setStatus(task, "active")}>
                {t("hw.resume")}
              </button>
            )}
            <button type="button" class="secondary edit" onClick={() => setEditing(task.id)}>
              {t("hw.edit")}
            </button>
            <button type="button" class="secondary finish" onClick={() => setFinishing(task.id)}>
              {t("hw.finish")}
            </button>
          </p>
        )}
        {finishing === task.id && (
          <div class="hw-confirm" role="group" aria-labelledby={`${headId}-ask`}>
            <p id={`${headId}-ask`}>{t("hw.finishAsk")}</p>
            <button type="button" class="primary finish-yes" onClick={() => void setStatus(task, "finished")}>
              {t("hw.finishYes")}
            </button>
            <button type="button" class="secondary finish-no" onClick={() => setFinishing(null)}>
              {t("hw.cancel")}
            </button>
          </div>
        )}
        {editing === task.id && room && (
          <TaskForm
            caseId={caseId}
            roomId={room}
            task={task}
            content={c ?? null}
            onCancel={() => setEditing(null)}
            onDone={() => {
              setEditing(null);
              void load();
            }}
          />
        )}
      </li>
    );
  }

  const summary = prog?.summary;
  const current = (list ?? []).filter((x) => x.status !== "finished");
  const finished = (list ?? []).filter((x) => x.status === "finished");
  return (
    <main class="screen wide th-homework">
      <TopBar
        title={child ? t("hw.title", { child }) : t("hw.link")}
        back={
          <button type="button" class="link back" aria-label={t("hw.back")} onClick={() => navigate({ name: "home" })}>
            ‹
          </button>
        }
      />
      {error && (
        <p class="error" role="alert" id="homework-error" data-code={error}>
          {words(error)}
        </p>
      )}
      {list === null && !error && <p class="muted">{t("loading")}</p>}
      {summary && list && list.length > 0 && (
        <p class="period" id="homework-summary">
          {summary.expected > 0
            ? t("hw.summary", { since: fmt(summary.since), done: String(summary.done), expected: String(summary.expected) })
            : t("hw.summaryNone", { since: fmt(summary.since) })}
          {prog.streak > 0 && <span class="hw-case-streak"> · {t("hw.streak", { n: String(prog.streak) })}</span>}
        </p>
      )}
      <div class="hw-board">
        <section class="hw-list" aria-labelledby="tasks-title">
          <h2 id="tasks-title">{t("hw.tasks")}</h2>
          {list && current.length === 0 && (
            <p class="muted" id="no-tasks">
              {t("hw.none")}
            </p>
          )}
          <ul class="hw-tasks" id="tasks">
            {current.map(card)}
          </ul>
          {finished.length > 0 && (
            <>
              <h2 id="finished-title">{t("hw.finished")}</h2>
              <ul class="hw-tasks" id="finished-tasks" aria-labelledby="finished-title">
                {finished.map(card)}
              </ul>
            </>
          )}
        </section>
        {room && <TaskForm caseId={caseId} roomId={room} onDone={() => void load()} />}
      </div>
    </main>
  );
}
