import { useEffect, useMemo, useState } from "preact/hooks";

import { JoinLink } from "../call/JoinLink";
import { ApiError, request, type CaseOut } from "../api";
import {
  acknowledge,
  cancellation as getCancellation,
  caseAppointments,
  periods as getPeriods,
  readDetails,
  userOf,
  ZONE,
  type AppointmentOut,
  type AppointmentStatus,
  type CancellationOut,
  type PeriodOut,
} from "../appointments";
import { useApp } from "../context";
import { navigate } from "../router";
import { CancelSheet } from "./CancelSheet";
import { TopBar } from "./TopBar";
import { useFallbackPoll, useLive } from "../useLive";

/** dates as in Finland, whichever language */
const DATE_LOCALES = { fi: "fi-FI", sv: "sv-FI", en: "en-GB" } as const;
// details this device could not read yet (its room key may still be on the way in the
// next sync) are read again this often, this many times
const DETAILS_RETRY_MS = 2000;
const DETAILS_RETRIES = 15;

interface Row {
  appt: AppointmentOut;
  details: string | null | "unreadable";
}

/** A case's sessions (Helsinki time), each with its details decrypted, its status and,
 * once cancelled, who has seen the cancellation; "Can't come?" opens the cancel sheet. */
export function Schedule({ caseId, appointmentId }: { caseId: string; appointmentId: string | null }) {
  const { t, err, session, crypto, locale } = useApp();
  const [child, setChild] = useState<string>("");
  const [rows, setRows] = useState<Row[] | null>(null);
  const [periodList, setPeriods] = useState<PeriodOut[]>([]);
  const [cancellations, setCancellations] = useState<Record<string, CancellationOut>>({});
  const [error, setError] = useState<string | null>(null);
  const token = session?.token ?? "";
  const me = session ? userOf(session.matrixUserId) : "";

  const when = useMemo(
    () =>
      new Intl.DateTimeFormat(DATE_LOCALES[locale], {
        timeZone: ZONE,
        weekday: "long",
        day: "numeric",
        month: "long",
        hour: "2-digit",
        minute: "2-digit",
      }),
    [locale],
  );
  const clock = useMemo(
    () => new Intl.DateTimeFormat(DATE_LOCALES[locale], { timeZone: ZONE, hour: "2-digit", minute: "2-digit" }),
    [locale],
  );
  const day = useMemo(
    () => new Intl.DateTimeFormat(DATE_LOCALES[locale], { timeZone: "UTC", day: "numeric", month: "numeric", year: "numeric" }),
    [locale],
  );

  async function load(): Promise<void> {
    try {
      const list = await caseAppointments(token, caseId);
      list.sort((a, b) => a.startsAt.localeCompare(b.startsAt));
      const read = await Promise.all(
        list.map(async (appt): Promise<Row> => {
          const place = appt.cases.find((c) => c.caseId === caseId);
          if (!place?.detailsEventId) return { appt, details: null };
          const text = await readDetails(crypto, appt, caseId).catch(() => null);
          return { appt, details: text ?? "unreadable" };
        }),
      );
      setRows(read);
      for (const appt of list) {
        const id = appt.cases.find((c) => c.caseId === caseId)?.cancellationId;
        if (id) void refreshCancellation(id);
      }
    } catch (x) {
      setRows((old) => old ?? []);
      setError(x instanceof ApiError ? x.code : "unknown");
    }
  }

  async function refreshCancellation(id: string): Promise<CancellationOut | null> {
    try {
      let c = await getCancellation(token, id);
      // someone else's cancellation shown here: this device has shown the notice
      if (c.cancelledBy !== me && !c.seenBy.some((s) => s.userId === me)) c = await acknowledge(token, id);
      setCancellations((old) => ({ ...old, [id]: c }));
      return c;
    } catch {
      return null;
    }
  }

  useEffect(() => {
    if (!session) return;
    request<CaseOut>("GET", `/cases/${caseId}`, token).then(
      (c) => setChild(c.childName ?? ""),
      () => setChild(""),
    );
    getPeriods(token, caseId).then(setPeriods, () => setPeriods([]));
    void load();
  }, [caseId, token]);

  // details whose room key had not arrived: read again after syncs (the key comes as a
  // to-device message) until they open or the retries run out
  useEffect(() => {
    if (!rows?.some((r) => r.details === "unreadable")) return;
    let tries = 0;
    let busy = false;
    const retry = async (): Promise<void> => {
      if (busy || tries >= DETAILS_RETRIES) return;
      busy = true;
      tries += 1;
      try {
        const again = await Promise.all(
          rows.map(async (r): Promise<Row> => {
            if (r.details !== "unreadable") return r;
            const text = await readDetails(crypto, r.appt, caseId).catch(() => null);
            return text === null ? r : { ...r, details: text };
          }),
        );
        if (again.some((r, i) => r !== rows[i])) setRows(again);
      } finally {
        busy = false;
      }
    };
    const timer = setInterval(() => void retry(), DETAILS_RETRY_MS);
    const off = crypto.subscribe((e) => {
      if (e.event === "timeline" || (e.event === "status" && e.state === "syncing")) void retry();
    });
    return () => {
      clearInterval(timer);
      off();
    };
  }, [rows]);

  // live: the therapist's "seen" of my cancellation (cancellation_seen), and the case's
  // sessions changed elsewhere; the slow fallback only while the socket is down
  useLive({
    cancellation_seen: ({ cancellationId }) => cancellationId in cancellations && void refreshCancellation(cancellationId),
    appointment_scheduled: ({ caseId: changed }) => changed === caseId && void load(),
    appointment_rescheduled: ({ caseId: changed }) => changed === caseId && void load(),
    appointment_cancelled: ({ caseId: changed }) => changed === caseId && void load(),
    resync: () => void load(),
  });
  const unseen = Object.values(cancellations).filter((c) => c.cancelledBy === me && c.seenBy.length === 0);
  useFallbackPoll(() => {
    for (const c of unseen) void refreshCancellation(c.id);
  }, unseen.length > 0);

  const open = appointmentId ? rows?.find((r) => r.appt.id === appointmentId) : undefined;
  const now = Date.now();
  const upcoming = (rows ?? []).filter((r) => Date.parse(r.appt.endsAt) >= now);
  const earlier = (rows ?? []).filter((r) => Date.parse(r.appt.endsAt) < now).reverse();

  function statusOf(appt: AppointmentOut): AppointmentStatus {
    return appt.cases.find((c) => c.caseId === caseId)?.status ?? appt.status;
  }

  function item(r: Row) {
    const { appt } = r;
    const status = statusOf(appt);
    const cancellationId = appt.cases.find((c) => c.caseId === caseId)?.cancellationId ?? null;
    const c = cancellationId ? cancellations[cancellationId] : undefined;
    const seen = c?.seenBy.find((s) => s.userId !== me);
    const cancellable = status === "scheduled" && Date.parse(appt.startsAt) > now;
    return (
      <li key={appt.id} class={`session ${status}`} data-appointment-id={appt.id} data-status={status}>
        <p class="when">
          <time dateTime={appt.startsAt}>{when.format(new Date(appt.startsAt))}</time>
        </p>
        <p class="place">
          {t(`place.${appt.placeKind}`)} · <span class="status">{t(`status.${status}`)}</span>
        </p>
        {r.details && r.details !== "unreadable" && <p class="details">{r.details}</p>}
        {r.details === "unreadable" && <p class="details unreadable">{t("detailsUnreadable")}</p>}
        {c && c.cancelledBy === me && (
          <p class="seen" data-seen={seen ? "yes" : "no"}>
            {seen ? t("seenBy", { name: seen.displayName, time: clock.format(new Date(seen.seenAt)) }) : t("notSeenYet")}
          </p>
        )}
        <JoinLink appt={appt} status={status} />
        {cancellable && (
          <button
            type="button"
            class="secondary cant-come"
            onClick={() => navigate({ name: "schedule", caseId, appointmentId: appt.id })}
          >
            {t("cantCome")}
          </button>
        )}
      </li>
    );
  }

  return (
    <main class="screen schedule">
      <TopBar
        title={child ? t("scheduleOf", { child }) : t("scheduleTitle")}
        back={
          <button type="button" class="link back" aria-label={t("back")} onClick={() => navigate({ name: "thread", caseId, kind: "family" })}>
            ‹
          </button>
        }
      />
      {error && (
        <p class="error" role="alert" data-code={error}>
          {err(error)}
        </p>
      )}
      {periodList.map((p) => (
        <p key={p.id} class="period">
          <strong>{t("periodTitle", { from: day.format(new Date(p.startsOn)), to: day.format(new Date(p.endsOn)) })}</strong>
          <br />
          {t("periodLine", { used: String(p.sessionsUsed), left: String(p.sessionsRemaining), granted: String(p.sessionsGranted) })}
        </p>
      ))}
      {rows === null && <p class="muted">{t("loading")}</p>}
      {rows !== null && rows.length === 0 && <p class="muted">{t("noSessions")}</p>}
      {upcoming.length > 0 && (
        <>
          <h2 class="section">{t("upcoming")}</h2>
          <ul class="sessions" id="upcoming">{upcoming.map(item)}</ul>
        </>
      )}
      {earlier.length > 0 && (
        <>
          <h2 class="section">{t("earlier")}</h2>
          <ul class="sessions" id="earlier">{earlier.map(item)}</ul>
        </>
      )}
      {open && (
        <CancelSheet
          appt={open.appt}
          caseId={caseId}
          child={child}
          when={when.format(new Date(open.appt.startsAt))}
          clock={clock}
          current={Object.values(cancellations).find((c) => c.appointmentId === open.appt.id)}
          onClose={() => navigate({ name: "schedule", caseId, appointmentId: null }, true)}
          onCancelled={(c) => {
            setCancellations((old) => ({ ...old, [c.id]: c }));
            void load();
          }}
        />
      )}
    </main>
  );
}
