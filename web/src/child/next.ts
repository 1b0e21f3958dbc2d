// "Terhi comes on Thursday": the child's next scheduled session and who comes.

import { appointments, members } from "./api";
import type { Locale } from "../i18n";

export interface NextSession {
  name: string;
  day: string; // the weekday in words, in the app's language
  visit: boolean; // the therapist comes (home, school, daycare)
}

const ZONE = "Europe/Helsinki";

export function weekday(locale: Locale, at: Date, now = new Date()): string {
  const name = new Intl.DateTimeFormat(locale, { weekday: "long", timeZone: ZONE }).format(at);
  // Finnish: "torstaina" (every weekday's name ends in -i; the essive adds -na)
  const word = locale === "fi" ? `${name}na` : name;
  if (at.getTime() - now.getTime() < 6 * 86_400_000) return word;
  const date = new Intl.DateTimeFormat(locale, { day: "numeric", month: "numeric", timeZone: ZONE }).format(at);
  return `${word} ${date}`;
}

export async function nextSession(token: string, locale: Locale): Promise<NextSession | null> {
  const now = new Date();
  const to = new Date(now.getTime() + 30 * 86_400_000);
  const all = await appointments(token, now.toISOString(), to.toISOString());
  const next = all
    .filter((a) => a.status === "scheduled" && new Date(a.startsAt) > now && a.cases.some((c) => c.status === "scheduled"))
    .sort((a, b) => a.startsAt.localeCompare(b.startsAt))[0];
  const caseId = next?.cases[0]?.caseId;
  if (!next || !caseId) return null;
  const people = await members(token, caseId);
  const therapist = people.find((m) => next.therapistIds.includes(m.userId)) ?? people.find((m) => m.role === "therapist");
  if (!therapist) return null;
  return {
    name: therapist.displayName,
    day: weekday(locale, new Date(next.startsAt), now),
    visit: ["home", "school", "daycare"].includes(next.placeKind),
  };
}
