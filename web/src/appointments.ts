// A case's sessions, therapy periods, cancellations and sick days (docs/api.md,
// "Appointments"; docs/homework.md, "Sick days"), and the two encrypted records of the
// family room that go with them (docs/protocol.md, "Case content"): a session's details
// (org.kaari.appointment.details {case_id, details}) and a cancellation's note
// (org.kaari.cancellation.note {appointment_id, case_id, note}), as the Python
// reference client (client/appointments.py) writes and reads them.

import { request } from "./api";
import type { CryptoClient } from "./crypto/client";

export const DETAILS_EVENT = "org.kaari.appointment.details";
export const NOTE_EVENT = "org.kaari.cancellation.note";
export const ZONE = "Europe/Helsinki";

export type PlaceKind = "home" | "school" | "daycare" | "office" | "video" | "other";
export type AppointmentStatus = "scheduled" | "cancelled" | "completed" | "no_show";
export type Reason = "illness" | "family" | "other";

export interface Attendance {
  caseId: string;
  status: AppointmentStatus;
  cancellationId: string | null;
  roomId: string;
  detailsEventId: string | null;
}

export interface AppointmentOut {
  id: string;
  /** the weekly series it belongs to, if any */
  seriesId?: string | null;
  groupKind?: "children" | "adults" | null;
  startsAt: string;
  endsAt: string;
  durationMinutes: number;
  placeKind: PlaceKind;
  status: AppointmentStatus;
  therapistIds: string[];
  cases: Attendance[];
}

export interface Seen {
  userId: string;
  displayName: string;
  role: string;
  seenAt: string;
}

export interface CancellationOut {
  id: string;
  appointmentId: string;
  cancelledBy: string;
  reason: string;
  late: boolean;
  /** the cases whose therapy period counts it as a used session */
  countedCaseIds?: string[];
  seenBy: Seen[];
}

export interface PeriodOut {
  id: string;
  payer: string;
  startsOn: string;
  endsOn: string;
  sessionsGranted: number;
  sessionsUsed: number;
  sessionsRemaining: number;
}

export function caseAppointments(token: string, caseId: string): Promise<AppointmentOut[]> {
  return request("GET", `/cases/${caseId}/appointments`, token);
}

export function appointment(token: string, id: string): Promise<AppointmentOut> {
  return request("GET", `/appointments/${id}`, token);
}

export function periods(token: string, caseId: string): Promise<PeriodOut[]> {
  return request("GET", `/cases/${caseId}/periods`, token);
}

export function cancellation(token: string, id: string): Promise<CancellationOut> {
  return request("GET", `/cancellations/${id}`, token);
}

export function acknowledge(token: string, id: string): Promise<CancellationOut> {
  return request("POST", `/cancellations/${id}/acks`, token);
}

export async function familyRoom(token: string, caseId: string): Promise<string> {
  const body = await request<{ roomId: string }>("GET", `/cases/${caseId}/appointments/room`, token);
  return body.roomId;
}

/** Today's date in Helsinki, YYYY-MM-DD. */
export function todayInHelsinki(now = new Date()): string {
  return new Intl.DateTimeFormat("en-CA", { timeZone: ZONE, year: "numeric", month: "2-digit", day: "2-digit" }).format(now);
}

export function markSickDay(token: string, caseId: string, day: string): Promise<void> {
  return request("PUT", `/cases/${caseId}/homework/sick-days/${day}`, token);
}

/** The Kaari user id in a Matrix user id (@<uuid>:<server>). */
export function userOf(matrixUserId: string): string {
  const bare = matrixUserId.startsWith("@") ? matrixUserId.slice(1) : matrixUserId;
  return bare.split(":")[0] ?? "";
}

function newLocalId(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A session's details for one case, decrypted; null when there are none or this device
 * cannot show them (no key, or an event that is not this case's details from one of the
 * session's therapists: a server moving ids between records shows nothing). */
export async function readDetails(
  crypto: CryptoClient,
  appt: AppointmentOut,
  caseId: string,
): Promise<string | null> {
  const place = appt.cases.find((c) => c.caseId === caseId);
  if (!place?.detailsEventId) return null;
  const { event } = await crypto.call<"readEvent">({ op: "readEvent", roomId: place.roomId, eventId: place.detailsEventId });
  if (!event || event.type !== DETAILS_EVENT) return null;
  const { case_id: named, details } = event.content;
  if (named !== caseId || typeof details !== "string" || !appt.therapistIds.includes(userOf(event.sender))) return null;
  return details;
}

/** Cancel one case's place: the note (if any) is first sent, encrypted, to the case's
 * family room, then the cancellation names it by event id. */
export async function cancel(
  token: string,
  crypto: CryptoClient,
  appointmentId: string,
  caseId: string,
  reason: Reason,
  note: string,
): Promise<CancellationOut> {
  const refs: { caseId: string; eventId: string }[] = [];
  const text = note.trim();
  if (text) {
    const roomId = await familyRoom(token, caseId);
    const content = { appointment_id: appointmentId, case_id: caseId, note: text.slice(0, 2000) };
    const { eventId } = await crypto.call<"sendEvent">({ op: "sendEvent", roomId, type: NOTE_EVENT, content, localId: newLocalId() });
    refs.push({ caseId, eventId });
  }
  return request("POST", `/appointments/${appointmentId}/cancel`, token, { reason, note: refs });
}
