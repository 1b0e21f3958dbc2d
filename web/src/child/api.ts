// The child's tablet's calls (docs/api.md, docs/homework.md): pairing, today's tasks,
// ticks and undo, the next session and who comes.

import { request, type SessionOut } from "../api";

export interface TodayTask {
  taskId: string;
  caseId: string;
  roomId: string;
  contentEventId: string;
  done: boolean;
  mayTick: boolean;
  weekDone?: number;
  weekTarget?: number;
}

export interface TodayOut {
  day: string;
  tasks: TodayTask[];
}

export interface AppointmentOut {
  id: string;
  startsAt: string;
  placeKind: string;
  status: string;
  therapistIds: string[];
  cases: { caseId: string; status: string }[];
}

export interface MemberOut {
  userId: string;
  displayName: string;
  role: string;
}

export function pair(code: string, deviceName: string): Promise<SessionOut> {
  return request("POST", "/auth/pair", null, { code, device: { name: deviceName, platform: "web" } });
}

export function today(token: string): Promise<TodayOut> {
  return request("GET", "/me/homework/today", token);
}

export function tick(token: string, taskId: string, day: string, clientTime: string): Promise<unknown> {
  return request("PUT", `/homework/${taskId}/ticks/${day}`, token, { clientTime });
}

export function undo(token: string, taskId: string, day: string): Promise<void> {
  return request("DELETE", `/homework/${taskId}/ticks/${day}`, token);
}

export function appointments(token: string, from: string, to: string): Promise<AppointmentOut[]> {
  const q = new URLSearchParams({ from, to });
  return request("GET", `/appointments?${q}`, token);
}

export function members(token: string, caseId: string): Promise<MemberOut[]> {
  return request("GET", `/cases/${caseId}/members`, token);
}

/** The device's local date (YYYY-MM-DD) and its clock with the UTC offset. */
export function localNow(now = new Date()): { day: string; clientTime: string } {
  const pad = (n: number) => String(Math.abs(n)).padStart(2, "0");
  const day = `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
  const off = -now.getTimezoneOffset();
  const sign = off >= 0 ? "+" : "-";
  const time = `${pad(now.getHours())}:${pad(now.getMinutes())}:${pad(now.getSeconds())}`;
  return { day, clientTime: `${day}T${time}${sign}${pad(Math.trunc(off / 60))}:${pad(off % 60)}` };
}
