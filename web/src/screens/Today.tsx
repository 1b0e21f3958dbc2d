import { useEffect, useMemo, useRef, useState } from "preact/hooks";

import { ApiError, cases as listCases, request } from "../api";
import { localNow, tick, today, undo, type TodayTask } from "../child/api";
import { taskText, type TaskText } from "../child/content";
import { nextSession, type NextSession } from "../child/next";
import { TickQueue } from "../child/queue";
import { useApp } from "../context";
import { PushControl } from "./PushPrompt";
import { TopBar } from "./TopBar";
import { useLiveReload } from "../useLive";
import "../child/child.css";

const HOMEWORK_EVENTS = ["homework_assigned", "homework_changed", "homework_ticked", "homework_unticked", "homework_sick_day"] as const;
const SESSION_EVENTS = ["appointment_scheduled", "appointment_rescheduled", "appointment_cancelled"] as const;

type State = "todo" | "done" | "waiting";

interface Row {
  task: TodayTask;
  text: TaskText | null; // null: no key yet
  state: State;
}

/** The child's tablet: today's tasks, big, with a tick button each; ticks made offline
 * wait in IndexedDB (child/queue.ts) and show as done-but-waiting until they are sent. */
export function Today() {
  const { t, err, session, crypto, locale } = useApp();
  const token = session?.token ?? "";
  const [rows, setRows] = useState<Row[] | null>(null);
  const [rest, setRest] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [cheer, setCheer] = useState(0);
  const [next, setNext] = useState<NextSession | null>(null);
  const [offline, setOffline] = useState(false);
  const texts = useRef(new Map<string, TaskText>());
  const queue = useMemo(() => new TickQueue(session?.deviceId ?? "", token), [session?.deviceId, token]);

  async function decryptMissing(list: Row[]): Promise<void> {
    let changed = false;
    for (const r of list) {
      if (texts.current.has(r.task.contentEventId)) continue;
      try {
        const text = await taskText(crypto, r.task.roomId, r.task.contentEventId, r.task.taskId);
        if (text) {
          texts.current.set(r.task.contentEventId, text);
          changed = true;
        }
      } catch {
        // offline or not yet readable: tried again after the next sync
      }
    }
    if (changed) setRows((now) => now && now.map((r) => ({ ...r, text: texts.current.get(r.task.contentEventId) ?? null })));
  }

  async function sickToday(day: string): Promise<boolean> {
    const mine = (await listCases(token)).filter((c) => c.closedAt === null);
    for (const c of mine) {
      const q = new URLSearchParams({ from: day, to: day });
      const out = await request<{ days: string[] }>("GET", `/cases/${c.id}/homework/sick-days?${q}`, token).catch(() => ({ days: [] as string[] }));
      if (out.days.includes(day)) return true;
    }
    return false;
  }

  async function load(): Promise<void> {
    try {
      if ((await queue.flush()) === 0) setOffline(false);
      const out = await today(token);
      const waiting = await queue.queued();
      const list: Row[] = out.tasks.map((task) => ({
        task,
        text: texts.current.get(task.contentEventId) ?? null,
        state: task.done ? "done" : waiting.some((q) => q.taskId === task.taskId) ? "waiting" : "todo",
      }));
      setRows(list);
      setError(null);
      setRest(list.length === 0 && (await sickToday(out.day)));
      void decryptMissing(list);
    } catch (x) {
      if (x instanceof ApiError && x.code === "network") setOffline(true);
      else setError(x instanceof ApiError ? x.code : "unknown");
    }
  }

  // a task set, changed or ticked on another device, a sick day, a session moved: live
  useLiveReload(HOMEWORK_EVENTS, () => void load());
  useLiveReload(SESSION_EVENTS, () => void nextSession(token, locale).then(setNext, () => setNext(null)));

  useEffect(() => {
    if (!token) return;
    void load();
    void nextSession(token, locale).then(setNext, () => setNext(null));
    const onOnline = () => void load();
    addEventListener("online", onOnline);
    // a fallback for a missed `online` event: queued ticks are retried every 15 s
    const timer = setInterval(() => void queue.queued().then((q) => (q.length ? load() : undefined)), 15_000);
    // a new event in one of the child's rooms may be a task just set (its content is
    // sent before the task itself): today again now and a moment later
    let later: ReturnType<typeof setTimeout> | undefined;
    const off = crypto.subscribe((e) => {
      if (e.event === "status" && e.state === "syncing") setRows((now) => (now && void decryptMissing(now), now));
      if (e.event === "timeline") {
        void load();
        clearTimeout(later);
        later = setTimeout(() => void load(), 2000);
      }
    });
    return () => {
      removeEventListener("online", onOnline);
      clearTimeout(later);
      clearInterval(timer);
      off();
    };
  }, [token, locale]);

  function setState(taskId: string, state: State): void {
    setRows((now) => now && now.map((r) => (r.task.taskId === taskId ? { ...r, state } : r)));
  }

  async function onTick(row: Row): Promise<void> {
    const { day, clientTime } = localNow();
    setState(row.task.taskId, "done");
    setCheer((n) => n + 1);
    try {
      await tick(token, row.task.taskId, day, clientTime);
      void load(); // the week's count
    } catch (x) {
      if (x instanceof ApiError && (x.code === "network" || x.status >= 500 || x.status === 429)) {
        await queue.enqueue({ taskId: row.task.taskId, day, clientTime });
        setState(row.task.taskId, "waiting");
        setOffline(true);
      } else {
        setState(row.task.taskId, "todo");
        setError(x instanceof ApiError ? x.code : "unknown");
      }
    }
  }

  async function onUndo(row: Row): Promise<void> {
    const { day } = localNow();
    if (row.state === "waiting") {
      await queue.dequeue(row.task.taskId, day);
      setState(row.task.taskId, "todo");
      return;
    }
    try {
      await undo(token, row.task.taskId, day);
      setState(row.task.taskId, "todo");
      void load();
    } catch (x) {
      setError(x instanceof ApiError ? x.code : "unknown");
    }
  }

  useEffect(() => {
    if (!cheer) return;
    const id = setTimeout(() => setCheer(0), 2500);
    return () => clearTimeout(id);
  }, [cheer]);

  return (
    <main class="screen child today">
      <TopBar title={rest ? t("restTitle") : t("todayTitle")} />
      <PushControl compact />
      {offline && <p class="offline" role="status">{t("offlineTicks")}</p>}
      {error && <p class="error" role="alert" data-code={error}>{err(error)}</p>}
      {next && (
        <p id="next-session" class="next">
          {t(next.visit ? "nextVisit" : "nextSession", { name: next.name, day: next.day })}
        </p>
      )}
      {!rows && !error && <p class="muted">{t("loading")}</p>}
      {rows && rows.length === 0 && rest && (
        <section id="rest" class="rest" aria-labelledby="rest-title">
          <p class="emoji" aria-hidden="true">🛌</p>
          <h2 id="rest-title">{t("restTitle")}</h2>
          <p>{t("restLead")}</p>
        </section>
      )}
      {rows && rows.length === 0 && !rest && <p class="muted center">{t("noTasks")}</p>}
      {rows && rows.length > 0 && (
        <ul class="tasks">
          {rows.map((r) => {
            const title = r.text?.words ?? t("unreadableTask");
            const count = r.task.weekTarget !== undefined
              ? t("weekCount", { done: String((r.task.weekDone ?? 0) + (r.state === "waiting" ? 1 : 0)), target: String(r.task.weekTarget) })
              : null;
            return (
              <li key={r.task.taskId} class={`task ${r.state}`} data-task={r.task.taskId} data-state={r.state}>
                <span class="emoji" aria-hidden="true">{r.text?.emoji ?? "⭐"}</span>
                <span class="title">{title}</span>
                {count && <span class="week">{count}</span>}
                {r.state === "todo" ? (
                  <button type="button" class="tick" aria-label={t("tickLabel", { title })} disabled={!r.task.mayTick} onClick={() => void onTick(r)}>
                    ✓
                  </button>
                ) : (
                  <span class="status">
                    <span class="mark">{r.state === "waiting" ? t("waiting") : t("done")}</span>
                    <button type="button" class="undo link" aria-label={t("undoLabel", { title })} onClick={() => void onUndo(r)}>
                      {t("undo")}
                    </button>
                  </span>
                )}
              </li>
            );
          })}
        </ul>
      )}
      {cheer > 0 && (
        <p id="well-done" class="cheer" role="status" key={cheer}>
          <span aria-hidden="true">🎉</span> {t("wellDone")}
        </p>
      )}
    </main>
  );
}
