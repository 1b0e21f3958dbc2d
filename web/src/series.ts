// Booking a session, a weekly series or a group session, and moving one (docs/api.md,
// "Appointments"): what the therapist's booking and reschedule forms ask the server.
// The details of a session go first, encrypted, to each case's family room (one
// org.kaari.appointment.details event per case, as client/appointments.py sends them);
// the appointment then names the events by id. Quota warnings come back with the answer.

import { request } from "./api";
import { DETAILS_EVENT, familyRoom, type AppointmentOut, type PeriodOut, type PlaceKind } from "./appointments";
import type { CryptoClient } from "./crypto/client";
import { addDays, daysBetween } from "./therapist";

export type GroupKind = "children" | "adults";
export type Scope = "one" | "following";

/** Clients per leading therapist in a group session (app/appointments/service.py). */
export const GROUP_LIMITS: Record<GroupKind, readonly [number, number]> = { children: [2, 4], adults: [3, 5] };
/** the longest weekly series the server books at once */
export const MAX_OCCURRENCES = 52;

export interface ScheduleWarning {
  code: "period_quota_exceeded" | "outside_period";
  appointmentId: string;
  caseId: string;
  periodId: string | null;
}

export interface Booked {
  appointments: AppointmentOut[];
  warnings: ScheduleWarning[];
}

export interface Booking {
  caseIds: string[];
  startsAt: Date;
  durationMinutes: number;
  placeKind: PlaceKind;
  /** null for one case; a group session says which size rules apply */
  groupKind: GroupKind | null;
  /** 1: one session; more: weekly at the same Helsinki wall-clock time */
  weeklyOccurrences: number;
  details: string;
}

function localId(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Book: the details (if any) encrypted into each case's family room, then the request. */
export async function bookSessions(token: string, cryptoClient: CryptoClient, b: Booking): Promise<Booked> {
  const refs: { caseId: string; eventId: string }[] = [];
  const text = b.details.trim().slice(0, 4000);
  if (text) {
    for (const caseId of b.caseIds) {
      const roomId = await familyRoom(token, caseId);
      const content = { case_id: caseId, details: text };
      const { eventId } = await cryptoClient.call<"sendEvent">({ op: "sendEvent", roomId, type: DETAILS_EVENT, content, localId: localId() });
      refs.push({ caseId, eventId });
    }
  }
  return request("POST", "/appointments", token, {
    caseIds: b.caseIds,
    startsAt: b.startsAt.toISOString(),
    durationMinutes: b.durationMinutes,
    placeKind: b.placeKind,
    ...(b.groupKind ? { groupKind: b.groupKind } : {}),
    weeklyOccurrences: b.weeklyOccurrences,
    details: refs,
  });
}

/** Move one session, or it and the rest of its series by the same wall-clock offset. */
export function reschedule(token: string, id: string, startsAt: Date, scope: Scope): Promise<Booked> {
  return request("PATCH", `/appointments/${id}`, token, { startsAt: startsAt.toISOString(), scope });
}

/** How many weekly sessions from ``first`` (a day) up to and including ``until``; 0 if
 * ``until`` is before ``first``. */
export function occurrencesUntil(first: string, until: string): number {
  const days = daysBetween(first, until);
  return days < 0 ? 0 : Math.floor(days / 7) + 1;
}

/** The days (YYYY-MM-DD, Helsinki) of ``count`` weekly sessions from ``first``. */
export function weeklyDays(first: string, count: number): string[] {
  return Array.from({ length: count }, (_, k) => addDays(first, 7 * k));
}

/** The period covering a day, if any. */
export function periodOn(periods: readonly PeriodOut[], day: string): PeriodOut | null {
  return periods.find((p) => p.startsOn <= day && day <= p.endsOn) ?? null;
}

/** Whether a group of ``size`` cases fits the rules for ``therapists`` leading it. */
export function groupFits(kind: GroupKind, size: number, therapists = 1): boolean {
  const [low, high] = GROUP_LIMITS[kind];
  return size >= low * therapists && size <= high * therapists;
}
