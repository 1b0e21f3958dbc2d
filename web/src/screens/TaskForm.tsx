import { useState } from "preact/hooks";

import { ApiError } from "../api";
import { todayInHelsinki } from "../appointments";
import { useApp } from "../context";
import { AttachmentError, type AttachmentPointer } from "../files";
import {
  assign,
  edit,
  KINDS,
  MAX_INSTRUCTIONS,
  MAX_MEDIA,
  MAX_TITLE,
  newTaskId,
  planOf,
  sameSchedule,
  scheduleOf,
  TICKERS,
  uploadMedia,
  type Change,
  type Content,
  type Kind,
  type Task,
  type TickBy,
} from "../homework";
import type { Key } from "../i18n";

/** A server code in the words of this form (a generic refusal reads as "check the fields"). */
export function useFormError(): (code: string) => string {
  const { t, err } = useApp();
  return (code) =>
    code === "validation_error" || code === "http_400" ? t("hw.checkForm") : code === "content_event_invalid" ? t("hw.contentFailed") : err(code);
}

const WEEKDAYS = [1, 2, 3, 4, 5, 6, 7] as const;

/** Set a new task (no ``task``) or edit one: title, instructions, a picture or video
 * (encrypted here, homework.ts), how often, start and end, who ticks. The server judges
 * the rules (dates, schedules) and its refusal is shown in words. */
export function TaskForm({
  caseId,
  roomId,
  task,
  content,
  onDone,
  onCancel,
}: {
  caseId: string;
  roomId: string;
  task?: Task;
  content?: Content | null;
  onDone: (task: Task) => void;
  onCancel?: () => void;
}) {
  const { t, session, crypto } = useApp();
  const words = useFormError();
  const token = session?.token ?? "";
  const p = planOf(task?.schedule ?? null);
  const prefix = task ? `edit-${task.id.slice(0, 8)}` : "new";
  const id = (name: string) => `${prefix}-${name}`;
  const [taskId, setTaskId] = useState(() => task?.id ?? newTaskId()); // a retry reuses it
  const [title, setTitle] = useState(content?.title ?? "");
  const [instructions, setInstructions] = useState(content?.instructions ?? "");
  const [media, setMedia] = useState<AttachmentPointer[]>(content?.media ?? []);
  const [kind, setKind] = useState<Kind>(p.kind);
  const [weekdays, setWeekdays] = useState<number[]>(p.weekdays);
  const [times, setTimes] = useState(String(p.timesPerWeek));
  const [startsOn, setStartsOn] = useState(task?.startsOn ?? todayInHelsinki());
  const [endsOn, setEndsOn] = useState(task?.endsOn ?? "");
  const [tickBy, setTickBy] = useState<TickBy>(task?.tickBy ?? "both");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState(false);
  const readable = !task || !!content;

  async function attach(file: File | undefined): Promise<void> {
    if (!file || busy) return;
    setBusy(true);
    setError(null);
    try {
      const pointer = await uploadMedia(token, roomId, file);
      setMedia((m) => [...m, pointer].slice(0, MAX_MEDIA));
    } catch (x) {
      setError(x instanceof ApiError || x instanceof AttachmentError ? x.code : "unknown");
    } finally {
      setBusy(false);
    }
  }

  async function submit(e: Event): Promise<void> {
    e.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(null);
    setDone(false);
    const next: Content = { title: title.trim(), instructions, media };
    const plan = { kind, weekdays, timesPerWeek: Number(times) };
    const ends = kind === "once" ? null : endsOn || null; // a one-time task ends on its day
    try {
      let saved: Task;
      if (!task) {
        saved = await assign(token, crypto, caseId, roomId, { id: taskId, content: next, plan, startsOn, endsOn: ends, tickBy });
        setTaskId(newTaskId()); // the next task is another
        setTitle("");
        setInstructions("");
        setMedia([]);
        setEndsOn("");
      } else {
        const change: Change = {};
        const before = content ?? null;
        if (readable && JSON.stringify(before) !== JSON.stringify(next)) change.content = { next, before };
        const schedule = scheduleOf(plan);
        if (!sameSchedule(task.schedule, schedule)) change.schedule = schedule;
        if (kind !== "once" && task.endsOn !== ends) change.endsOn = ends;
        if (task.tickBy !== tickBy) change.tickBy = tickBy;
        saved = await edit(token, crypto, task, change);
      }
      setDone(true);
      onDone(saved);
    } catch (x) {
      setError(x instanceof ApiError ? x.code : "unknown");
    } finally {
      setBusy(false);
    }
  }

  const toggleDay = (d: number) => setWeekdays((w) => (w.includes(d) ? w.filter((x) => x !== d) : [...w, d]));
  const headId = id("heading");
  return (
    <form class="th-new hw-form" id={id("form")} aria-labelledby={headId} onSubmit={(e) => void submit(e)}>
      <h2 id={headId}>{task ? t("hw.editTitle") : t("hw.new")}</h2>
      {readable && (
        <>
          <label for={id("title")}>{t("hw.taskTitle")}</label>
          <input id={id("title")} required maxLength={MAX_TITLE} value={title} onInput={(e) => setTitle(e.currentTarget.value)} />
          <label for={id("instructions")}>{t("hw.instructions")}</label>
          <textarea id={id("instructions")} rows={3} maxLength={MAX_INSTRUCTIONS} value={instructions} onInput={(e) => setInstructions(e.currentTarget.value)} />
          <label for={id("media")}>{t("hw.media")}</label>
          <input
            id={id("media")}
            type="file"
            accept="image/*,video/*"
            aria-describedby={id("media-hint")}
            disabled={busy || media.length >= MAX_MEDIA}
            onChange={(e) => {
              const input = e.currentTarget;
              void attach(input.files?.[0]).finally(() => (input.value = ""));
            }}
          />
          <p class="muted hint" id={id("media-hint")}>
            {t("hw.mediaHint")}
          </p>
          {media.length > 0 && (
            <ul class="hw-attached" id={id("attached")}>
              {media.map((m) => (
                <li key={m.blobId} data-blob={m.blobId}>
                  <span>{m.fileName ?? m.mediaType}</span>
                  <button type="button" class="link" onClick={() => setMedia((all) => all.filter((x) => x.blobId !== m.blobId))}>
                    {t("hw.mediaRemove", { name: m.fileName ?? m.mediaType })}
                  </button>
                </li>
              ))}
            </ul>
          )}
        </>
      )}
      <fieldset class="hw-kind">
        <legend>{t("hw.kind")}</legend>
        {KINDS.map((k) => (
          <label key={k} class="choice">
            <input
              type="radio"
              name={id("kind")}
              id={id(`kind-${k}`)}
              value={k}
              checked={kind === k}
              disabled={!!task && (task.schedule?.kind === "once") !== (k === "once")}
              onChange={() => setKind(k)}
            />
            {t(`hw.kindName.${k}` as Key)}
          </label>
        ))}
      </fieldset>
      {kind === "weekly" && (
        <fieldset class="hw-weekdays">
          <legend>{t("hw.weekdays")}</legend>
          {WEEKDAYS.map((d) => (
            <label key={d} class="choice">
              <input type="checkbox" id={id(`wd-${d}`)} checked={weekdays.includes(d)} onChange={() => toggleDay(d)} />
              {t(`hw.wd${d}` as Key)}
            </label>
          ))}
        </fieldset>
      )}
      {kind === "perWeek" && (
        <>
          <label for={id("times")}>{t("hw.timesPerWeek")}</label>
          <input id={id("times")} type="number" min={1} max={7} required value={times} onInput={(e) => setTimes(e.currentTarget.value)} />
        </>
      )}
      {!task && (
        <>
          <label for={id("starts")}>{t("hw.startsOn")}</label>
          <input id={id("starts")} type="date" required value={startsOn} onInput={(e) => setStartsOn(e.currentTarget.value)} />
        </>
      )}
      {kind !== "once" && (
        <>
          <label for={id("ends")}>{t("hw.endsOn")}</label>
          <input id={id("ends")} type="date" value={endsOn} onInput={(e) => setEndsOn(e.currentTarget.value)} />
        </>
      )}
      <label for={id("tick-by")}>{t("hw.tickBy")}</label>
      <select id={id("tick-by")} value={tickBy} onChange={(e) => setTickBy(e.currentTarget.value as TickBy)}>
        {TICKERS.map((w) => (
          <option key={w} value={w}>
            {t(`hw.ticker.${w}` as Key)}
          </option>
        ))}
      </select>
      <p class="hw-buttons">
        <button id={id("submit")} type="submit" class="primary" disabled={busy}>
          {busy ? t("hw.saving") : task ? t("hw.save") : t("hw.assign")}
        </button>
        {onCancel && (
          <button id={id("cancel")} type="button" class="secondary" onClick={onCancel}>
            {t("hw.cancel")}
          </button>
        )}
      </p>
      {error && (
        <p class="error" role="alert" id={id("error")} data-code={error}>
          {words(error)}
        </p>
      )}
      {done && !error && (
        <p class="done" role="status" id={id("done")}>
          {task ? t("hw.saved") : t("hw.assigned")}
        </p>
      )}
    </form>
  );
}
