import { useEffect, useMemo, useRef, useState } from "preact/hooks";

import { request, type CaseOut } from "../api";
import { useApp } from "../context";
import { CryptoError } from "../crypto/client";
import type { TimelineEvent } from "../crypto/protocol";
import { roomOf, type RoomKind } from "../rooms";
import { href, navigate } from "../router";
import { serverName } from "../session";
import { PushControl } from "./PushPrompt";
import { TopBar } from "./TopBar";
import { VerifiedBadge } from "./VerifiedBadge";

type Status = "sending" | "sent" | "delivered" | "failed";

interface Line {
  key: string;
  eventId: string | null;
  localId: string | null;
  own: boolean;
  body: string | null;
  ts: number;
  status: Status | null;
}

const DELIVERY_POLLS = 15;
/** dates as in Finland, whichever language */
const DATE_LOCALES = { fi: "fi-FI", sv: "sv-FI", en: "en-GB" } as const;

function newLocalId(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, "0")).join("");
}

function fromEvent(e: TimelineEvent): Line {
  return {
    key: e.eventId,
    eventId: e.eventId,
    localId: e.txnId ? (e.txnId.split(".")[0] ?? null) : null,
    own: e.own,
    body: e.body,
    ts: e.ts,
    status: e.own ? "sent" : null,
  };
}

/** Add events not yet shown (by event id, or a pending send's local id), in time order. */
function merge(lines: Line[], events: TimelineEvent[]): Line[] {
  const out = [...lines];
  for (const e of events) {
    const line = fromEvent(e);
    const same = out.findIndex((l) => l.eventId === e.eventId || (line.localId !== null && l.localId === line.localId));
    if (same >= 0) {
      const old = out[same]!;
      // (a message unreadable before reads once its key arrives: a restore from the key backup)
      out[same] = { ...old, eventId: e.eventId, key: old.key, ts: e.ts, body: old.body ?? line.body, status: old.status === "sending" ? "sent" : old.status };
    } else out.push(line);
  }
  return out.sort((a, b) => a.ts - b.ts);
}

export function Thread({ caseId, kind = "family" }: { caseId: string; kind?: RoomKind }) {
  const { t, err, session, crypto, locale } = useApp();
  const [room, setRoom] = useState<string | null>(null);
  const [child, setChild] = useState<string | null>(null);
  const [lines, setLines] = useState<Line[] | null>(null);
  const [text, setText] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [offline, setOffline] = useState(false);
  const list = useRef<HTMLOListElement>(null);

  useEffect(() => {
    if (!session) return;
    void roomOf(caseId, kind, serverName(session)).then(setRoom);
    request<CaseOut>("GET", `/cases/${caseId}`, session.token).then(
      (c) => setChild(c.childName),
      () => setChild(null),
    );
  }, [caseId, kind, session?.token]);

  useEffect(() => {
    if (!room) return;
    const history = () =>
      crypto.call<"history">({ op: "history", roomId: room, limit: 50 }).then(
        (answer) => setLines((old) => merge(old ?? [], answer.events)),
        (x: unknown) => {
          setLines((old) => old ?? []);
          setError(x instanceof CryptoError ? x.code : "unknown");
        },
      );
    const unsubscribe = crypto.subscribe((e) => {
      if (e.event === "timeline" && e.roomId === room) setLines((old) => merge(old ?? [], e.events));
      if (e.event === "gap" && e.roomId === room) void history();
      if (e.event === "status") setOffline(e.state === "offline");
    });
    void history();
    return unsubscribe;
  }, [room]);

  useEffect(() => {
    list.current?.lastElementChild?.scrollIntoView({ block: "end" });
  }, [lines?.length]);

  const clock = useMemo(
    () => new Intl.DateTimeFormat(DATE_LOCALES[locale], { hour: "2-digit", minute: "2-digit", day: "numeric", month: "numeric" }),
    [locale],
  );

  function setStatus(localId: string, status: Status, eventId?: string) {
    setLines((old) =>
      (old ?? []).map((l) => (l.localId === localId ? { ...l, status, eventId: eventId ?? l.eventId } : l)),
    );
  }

  async function watchDelivery(roomId: string, localId: string, eventId: string) {
    for (let i = 0; i < DELIVERY_POLLS; i++) {
      await new Promise((r) => setTimeout(r, 1000 + i * 500));
      try {
        const d = await crypto.call<"deliveries">({ op: "deliveries", roomId, eventId });
        if (d.delivered > 0) {
          setStatus(localId, "delivered");
          return;
        }
      } catch {
        return;
      }
    }
  }

  async function send(body: string, localId = newLocalId()) {
    if (!room) return;
    setError(null);
    setLines((old) => {
      const rest = (old ?? []).filter((l) => l.localId !== localId);
      return [...rest, { key: localId, eventId: null, localId, own: true, body, ts: Date.now(), status: "sending" }];
    });
    try {
      const { eventId } = await crypto.call<"sendText">({ op: "sendText", roomId: room, text: body, localId });
      setStatus(localId, "sent", eventId);
      void watchDelivery(room, localId, eventId);
    } catch (x) {
      setStatus(localId, "failed");
      setError(x instanceof CryptoError ? x.code : "unknown");
    }
  }

  function submit(e: SubmitEvent) {
    e.preventDefault();
    const body = text.trim();
    if (!body) return;
    setText("");
    void send(body);
  }

  const statusText: Record<Status, string> = {
    sending: t("sending"),
    sent: t("sent"),
    delivered: t("delivered"),
    failed: t("notSent"),
  };

  return (
    <main class="screen thread">
      <TopBar
        title={kind === "child" ? t("th.childThread", { child: child ?? "" }) : child ? t("familyThreadOf", { child }) : t("familyThread")}
        back={
          <button type="button" class="link back" aria-label={t("back")} onClick={() => navigate({ name: "home" })}>
            ‹
          </button>
        }
      />
      <VerifiedBadge caseId={caseId} />
      <nav class="nav-links">
        <a id="schedule-link" href={href({ name: "schedule", caseId, appointmentId: null })} onClick={(e) => { e.preventDefault(); navigate({ name: "schedule", caseId, appointmentId: null }); }}>
          {t("scheduleLink")}
        </a>
        <a id="settings-link" href={href({ name: "settings", caseId })} onClick={(e) => { e.preventDefault(); navigate({ name: "settings", caseId }); }}>
          {t("settingsLink")}
        </a>
      </nav>
      <PushControl compact />
      {offline && (
        <p class="offline" role="status">
          {err("network")}
        </p>
      )}
      {lines === null && <p class="muted">{t("loading")}</p>}
      {lines !== null && lines.length === 0 && <p class="muted">{t("emptyThread")}</p>}
      <ol class="messages" ref={list} role="log" aria-live="polite" aria-label={t("familyThread")}>
        {(lines ?? []).map((l) => (
          <li
            key={l.key}
            class={`msg ${l.own ? "own" : "theirs"}`}
            data-event-id={l.eventId ?? ""}
            data-status={l.status ?? ""}
          >
            <p class={l.body === null ? "body unreadable" : "body"}>{l.body ?? t("undecryptable")}</p>
            <p class="meta">
              <time dateTime={new Date(l.ts).toISOString()}>{clock.format(new Date(l.ts))}</time>
              {l.status && l.status !== "failed" && <span class="status"> · {statusText[l.status]}</span>}
              {l.status === "failed" && l.body !== null && l.localId && (
                <button type="button" class="link status" onClick={() => void send(l.body!, l.localId!)}>
                  {statusText.failed}
                </button>
              )}
            </p>
          </li>
        ))}
      </ol>
      {error && (
        <p class="error" role="alert" data-code={error}>
          {err(error)}
        </p>
      )}
      <form class="composer" onSubmit={submit}>
        <label for="composer" class="visually-hidden">
          {t("messageLabel")}
        </label>
        <textarea
          id="composer"
          rows={2}
          maxLength={4000}
          placeholder={t("messagePlaceholder")}
          value={text}
          onInput={(e) => setText(e.currentTarget.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter" && !e.shiftKey) {
              e.preventDefault();
              e.currentTarget.form?.requestSubmit();
            }
          }}
        />
        <button id="send" type="submit" class="primary" disabled={!room || !text.trim()}>
          {t("send")}
        </button>
      </form>
    </main>
  );
}
