// "Join the video session" on a schedule's row (the therapist's week, the parent's
// sessions): while the room is open, or the time it opens when that is within the hour.

import { useApp } from "../context";
import { navigate } from "../router";
import { joinable } from "./open";

export function JoinLink({ appt, status }: { appt: { id: string; placeKind: string; startsAt: string; endsAt: string }; status: string }) {
  const { t, locale } = useApp();
  const state = joinable(appt, status);
  if (state === null) return null;
  if (state === "soon") {
    const opens = new Date(Date.parse(appt.startsAt) - 15 * 60_000);
    const time = new Intl.DateTimeFormat(locale === "en" ? "en-GB" : `${locale}-FI`, { timeZone: "Europe/Helsinki", hour: "2-digit", minute: "2-digit" }).format(opens);
    return <p class="muted call-opens">{t("call.opensAt", { time })}</p>;
  }
  return (
    <button type="button" class="primary call-join" onClick={() => navigate({ name: "call", appointmentId: appt.id })}>
      {t("call.join")}
    </button>
  );
}
