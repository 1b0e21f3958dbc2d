// The therapist's homework calls (docs/homework.md), as client/homework.py makes them:
// a task's picture or video is encrypted here and uploaded to the case's homework room
// (files.ts, the Python attachment format); its title, instructions and the pointers go
// in an org.kaari.homework.task event of that room (client/homework_content.py), sent
// first; then the task names the event (POST /cases/{id}/homework, PATCH /homework/{id})
// and the uploaded blobs (mediaBlobIds: the server keeps them as long as the task).

import { request } from "./api";
import { TASK_EVENT } from "./child/content";
import type { CryptoClient } from "./crypto/client";
import type { ProgressOut, ScheduleOut } from "./family";
import { parsePointer, upload, type AttachmentPointer } from "./files";

export type Kind = "once" | "daily" | "weekly" | "perWeek";
export type TickBy = "child" | "guardian" | "both";
export type Status = "active" | "paused" | "finished";
export const KINDS: readonly Kind[] = ["once", "daily", "weekly", "perWeek"];
export const TICKERS: readonly TickBy[] = ["both", "child", "guardian"];

/** client/homework_content.py TaskContent's bounds */
export const MAX_TITLE = 200;
export const MAX_INSTRUCTIONS = 20_000;
export const MAX_MEDIA = 20;

export interface Task {
  id: string;
  caseId: string;
  roomId: string;
  contentEventId: string;
  contentVersion: number;
  schedule: ScheduleOut | null;
  startsOn: string;
  endsOn: string | null;
  tickBy: TickBy;
  status: Status;
}

export interface Content {
  title: string;
  instructions: string;
  media: AttachmentPointer[];
}

export interface Plan {
  kind: Kind;
  weekdays: number[]; // ISO, 1 = Monday (weekly)
  timesPerWeek: number; // perWeek
}

export function tasks(token: string, caseId: string): Promise<Task[]> {
  return request("GET", `/cases/${caseId}/homework`, token);
}

export function progress(token: string, caseId: string, weeks = 4): Promise<ProgressOut> {
  return request("GET", `/cases/${caseId}/homework/progress?weeks=${weeks}`, token);
}

export async function homeworkRoom(token: string, caseId: string): Promise<string> {
  return (await request<{ roomId: string }>("GET", `/cases/${caseId}/homework/room`, token)).roomId;
}

/** The server's schedule of a plan: only the fields of its kind (app/homework/schemas.py). */
export function scheduleOf(p: Plan): ScheduleOut {
  if (p.kind === "weekly") return { kind: p.kind, weekdays: [...p.weekdays].sort() };
  if (p.kind === "perWeek") return { kind: p.kind, timesPerWeek: p.timesPerWeek };
  return { kind: p.kind };
}

export function planOf(s: ScheduleOut | null): Plan {
  const kind = (KINDS as readonly string[]).includes(s?.kind ?? "") ? (s?.kind as Kind) : "daily";
  return { kind, weekdays: s?.weekdays ?? [], timesPerWeek: s?.timesPerWeek ?? 3 };
}

export function sameSchedule(a: ScheduleOut | null, b: ScheduleOut): boolean {
  return JSON.stringify(a && scheduleOf(planOf(a))) === JSON.stringify(scheduleOf(planOf(b)));
}

/** The task's content, or null when this device cannot read it (no key yet, or an event
 * that does not name this task: a server that moved ids shows nothing). */
export async function readContent(crypto: CryptoClient, task: Task): Promise<Content | null> {
  const { event } = await crypto.call<"readEvent">({ op: "readEvent", roomId: task.roomId, eventId: task.contentEventId });
  const c = event?.content;
  if (event?.type !== TASK_EVENT || !c || c["task_id"] !== task.id) return null;
  const { title, instructions = "", media = [] } = c as { title?: unknown; instructions?: unknown; media?: unknown };
  if (typeof title !== "string" || title.length < 1 || title.length > MAX_TITLE) return null;
  if (typeof instructions !== "string" || instructions.length > MAX_INSTRUCTIONS) return null;
  if (!Array.isArray(media) || media.length > MAX_MEDIA) return null;
  const pointers = media.map(parsePointer);
  if (pointers.some((p) => p === null)) return null;
  return { title, instructions, media: pointers as AttachmentPointer[] };
}

function localId(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A new task id (chosen here: the encrypted content names it, and a retry reuses it). */
export function newTaskId(): string {
  return crypto.randomUUID();
}

/** Encrypt and upload a picture or video to the case's homework room. */
export async function uploadMedia(token: string, roomId: string, file: File): Promise<AttachmentPointer> {
  const plain = new Uint8Array(await file.arrayBuffer());
  return upload(token, roomId, plain, file.type || "application/octet-stream", file.name);
}

/** The content as the org.kaari.homework.task event (snake case, as the Python client). */
async function sendContent(cryptoClient: CryptoClient, roomId: string, taskId: string, c: Content): Promise<string> {
  const content = { task_id: taskId, title: c.title, instructions: c.instructions, media: c.media };
  const { eventId } = await cryptoClient.call<"sendEvent">({ op: "sendEvent", roomId, type: TASK_EVENT, content, localId: localId() });
  return eventId;
}

export interface NewTask {
  id: string;
  content: Content;
  plan: Plan;
  startsOn: string;
  endsOn: string | null;
  tickBy: TickBy;
}

/** Set a task: its content event first, then the task naming it (a retry with the same
 * id answers the first task). */
export async function assign(token: string, cryptoClient: CryptoClient, caseId: string, roomId: string, t: NewTask): Promise<Task> {
  const eventId = await sendContent(cryptoClient, roomId, t.id, t.content);
  const body: Record<string, unknown> = {
    id: t.id,
    contentEventId: eventId,
    schedule: scheduleOf(t.plan),
    startsOn: t.startsOn,
    tickBy: t.tickBy,
  };
  if (t.endsOn) body["endsOn"] = t.endsOn;
  if (t.content.media.length > 0) body["mediaBlobIds"] = t.content.media.map((p) => p.blobId);
  return request("POST", `/cases/${caseId}/homework`, token, body);
}

export interface Change {
  content?: { next: Content; before: Content | null };
  schedule?: ScheduleOut;
  endsOn?: string | null;
  tickBy?: TickBy;
  status?: Status;
}

/** Change a task; new content is a new event (the media this device added named). */
export async function edit(token: string, cryptoClient: CryptoClient, task: Task, change: Change): Promise<Task> {
  const body: Record<string, unknown> = {};
  if (change.content) {
    body["contentEventId"] = await sendContent(cryptoClient, task.roomId, task.id, change.content.next);
    const kept = new Set((change.content.before?.media ?? []).map((p) => p.blobId));
    const added = change.content.next.media.filter((p) => !kept.has(p.blobId)).map((p) => p.blobId);
    if (added.length > 0) body["mediaBlobIds"] = added;
  }
  if (change.schedule) body["schedule"] = change.schedule;
  if (change.endsOn !== undefined) body["endsOn"] = change.endsOn;
  if (change.tickBy) body["tickBy"] = change.tickBy;
  if (change.status) body["status"] = change.status;
  return request("PATCH", `/homework/${task.id}`, token, body);
}
