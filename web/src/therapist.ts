// What the therapist's screens ask the server (docs/api.md): the caseload's extra fields
// of GET /cases, my schedule by range and marking how a session went (booking and moving
// sessions: series.ts).

import { request, type CaseOut } from "./api";
import { ZONE, type AppointmentOut, type PlaceKind } from "./appointments";

export interface OpenRequest {
  id: string;
  kind: string;
  neededBy: string;
}

export interface TherapistCase extends CaseOut {
  openDocumentRequests?: OpenRequest[] | null;
  statementDue?: { periodId: string; endsOn: string; openRequestId: string | null } | null;
}

export interface WeekOut {
  weekStart: string;
  expected: number;
  done: number;
}

export interface ProgressOut {
  today: string;
  weeks: WeekOut[];
}

export const PLACES: readonly PlaceKind[] = ["office", "home", "school", "daycare", "video", "other"];

export function myCases(token: string): Promise<TherapistCase[]> {
  return request("GET", "/cases", token);
}

export function mySchedule(token: string, from: Date, to: Date): Promise<AppointmentOut[]> {
  const q = `from=${encodeURIComponent(from.toISOString())}&to=${encodeURIComponent(to.toISOString())}`;
  return request("GET", `/appointments?${q}`, token);
}

export function progress(token: string, caseId: string): Promise<ProgressOut> {
  return request("GET", `/cases/${caseId}/homework/progress?weeks=1`, token);
}

export function setOutcome(token: string, id: string, status: "completed" | "no_show"): Promise<AppointmentOut> {
  return request("POST", `/appointments/${id}/outcome`, token, { status });
}

// -- Helsinki dates as YYYY-MM-DD strings ------------------------------------------------

const PARTS = new Intl.DateTimeFormat("en-CA", {
  timeZone: ZONE,
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  hourCycle: "h23",
});

/** "YYYY-MM-DDTHH:MM" of an instant in Helsinki. */
export function helsinkiLocal(d: Date): string {
  const p = Object.fromEntries(PARTS.formatToParts(d).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}`;
}

/** The instant of a Helsinki wall-clock time "YYYY-MM-DDTHH:MM" (or a day's midnight). */
export function fromHelsinki(local: string): Date {
  const [date, time = "00:00"] = local.split("T");
  const [y, m, d] = (date ?? "").split("-").map(Number);
  const [hh, mm] = time.split(":").map(Number);
  const wanted = Date.UTC(y ?? 2000, (m ?? 1) - 1, d ?? 1, hh ?? 0, mm ?? 0);
  let guess = wanted;
  for (let i = 0; i < 2; i++) {
    const shown = Date.parse(`${helsinkiLocal(new Date(guess))}:00Z`);
    guess += wanted - shown;
  }
  return new Date(guess);
}

export function addDays(day: string, n: number): string {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

/** The Monday of the day's week. */
export function mondayOf(day: string): string {
  const wd = new Date(`${day}T00:00:00Z`).getUTCDay();
  return addDays(day, -((wd + 6) % 7));
}

export function daysBetween(a: string, b: string): number {
  return Math.round((Date.parse(`${b}T00:00:00Z`) - Date.parse(`${a}T00:00:00Z`)) / 86_400_000);
}
