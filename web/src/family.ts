// The parent's family screens' calls (docs/api.md, docs/homework.md): the child chosen
// among siblings (remembered per user), a case's homework with its progress and the
// ticks' notes (decrypted in the crypto worker, checked to name the tick they are served
// under), and the child's pairing code.

import { request, type CaseOut } from "./api";
import type { MemberOut } from "./child/api";
import type { CryptoClient } from "./crypto/client";

export const NOTE_EVENT = "org.kaari.homework.note";

const CHILD_KEY = "kaari.child.";

/** The case of the child last chosen on this browser, if it is still one of ``open``. */
export function chosenCase(userId: string, open: CaseOut[]): CaseOut | null {
  const id = localStorage.getItem(CHILD_KEY + userId);
  return open.find((c) => c.id === id) ?? open[0] ?? null;
}

export function rememberCase(userId: string, caseId: string): void {
  localStorage.setItem(CHILD_KEY + userId, caseId);
}

export interface ScheduleOut {
  kind: string;
  weekdays?: number[];
  timesPerWeek?: number;
}

export interface TaskOut {
  id: string;
  caseId: string;
  roomId: string;
  contentEventId: string;
  schedule: ScheduleOut | null;
  startsOn: string;
  endsOn: string | null;
  status: "active" | "paused" | "finished";
}

export interface WeekOut {
  weekStart: string;
  expected: number;
  done: number;
}

export interface ProgressOut {
  caseId: string;
  today: string;
  tasks: { taskId: string; status: string; weeks: WeekOut[]; streak: number; streakUnit: "times" | "weeks"; expected: number; done: number }[];
  weeks: WeekOut[];
  streak: number;
  summary: { since: string; until: string; expected: number; done: number; tasks: { taskId: string; expected: number; done: number }[] };
}

export interface TickOut {
  taskId: string;
  day: string;
  userId: string;
  clientTime: string;
  noteEventId: string | null;
}

export interface PairingCodeOut {
  code: string;
  expiresAt: string;
}

export function tasks(token: string, caseId: string): Promise<TaskOut[]> {
  return request("GET", `/cases/${caseId}/homework`, token);
}

export function progress(token: string, caseId: string, weeks = 4): Promise<ProgressOut> {
  return request("GET", `/cases/${caseId}/homework/progress?weeks=${weeks}`, token);
}

export function ticks(token: string, taskId: string, from: string, to: string): Promise<TickOut[]> {
  const q = new URLSearchParams({ from, to });
  return request("GET", `/homework/${taskId}/ticks?${q}`, token);
}

export async function homeworkRoom(token: string, caseId: string): Promise<string> {
  return (await request<{ roomId: string }>("GET", `/cases/${caseId}/homework/room`, token)).roomId;
}

export function members(token: string, caseId: string): Promise<MemberOut[]> {
  return request("GET", `/cases/${caseId}/members`, token);
}

export function pairingCode(token: string, caseId: string): Promise<PairingCodeOut> {
  return request("POST", `/cases/${caseId}/pairing-codes`, token, {});
}

export interface NoteText {
  note: string;
  emoji: string;
}

/** A tick's note, or null when this device cannot read it (yet): the decrypted event must
 * be a note for this task and day, sent by the person who ticked (client/homework_content.py). */
export async function noteText(crypto: CryptoClient, roomId: string, tick: TickOut): Promise<NoteText | null> {
  if (!tick.noteEventId) return null;
  const { event } = await crypto.call<"readEvent">({ op: "readEvent", roomId, eventId: tick.noteEventId });
  const c = event?.content;
  if (event?.type !== NOTE_EVENT || !c) return null;
  const sender = event.sender.replace(/^@/, "").split(":")[0];
  if (c["task_id"] !== tick.taskId || c["day"] !== tick.day || sender !== tick.userId) return null;
  const note = typeof c["note"] === "string" ? c["note"] : "";
  const emoji = typeof c["emoji"] === "string" ? c["emoji"] : "";
  if (note.length > 2000 || emoji.length > 16 || (!note && !emoji)) return null;
  return { note, emoji };
}

/** A local date (YYYY-MM-DD) ``days`` before ``day``. */
export function daysBefore(day: string, days: number): string {
  const d = new Date(`${day}T12:00:00Z`);
  d.setUTCDate(d.getUTCDate() - days);
  return d.toISOString().slice(0, 10);
}
