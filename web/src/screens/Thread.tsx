import { useEffect, useMemo, useRef, useState } from "preact/hooks";

import { ApiError, request, type CaseOut } from "../api";
import { useApp } from "../context";
import { CryptoError } from "../crypto/client";
import type { TimelineEvent } from "../crypto/protocol";
import { AttachmentError, download, fileMessage, objectUrl, parsePointer, upload, type AttachmentPointer } from "../files";
import { roomOf, type RoomKind } from "../rooms";
import { href, navigate } from "../router";
import { serverName } from "../session";
import { PushControl } from "./PushPrompt";
import { TopBar } from "./TopBar";
import { useFallbackPoll, useLive } from "../useLive";
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
  /** an m.file message's pointer (a photo is shown inline) */
  file: AttachmentPointer | null;
}

/** Photos already decrypted on this page (an object URL each). */
const photos = new Map<string, Promise<string>>();

/** by the whole pointer (blob, key, hash, type): another event naming the same blob with
 * another key or hash is checked on its own, never shown from this cache */
function cacheKey(p: AttachmentPointer): string {
  return [p.blobId, p.key, p.sha256, String(p.size), p.mediaType].join(" ");
}

function photoUrl(token: string, pointer: AttachmentPointer): Promise<string> {
  const key = cacheKey(pointer);
  let url = photos.get(key);
  if (!url) {
    url = download(token, pointer).then((plain) => objectUrl(plain, pointer.mediaType));
    photos.set(key, url);
    url.catch(() => photos.delete(key));
  }
  return url;
}

function isPhoto(p: AttachmentPointer): boolean {
  return /^image\/(jpeg|png|gif|webp|heic|heif|avif)$/.test(p.mediaType);
}

/** A photo (decrypted on this device) or any other file (opened on a tap). */
function FileView({ pointer, own }: { pointer: AttachmentPointer; own: boolean }) {
  const { t, err, session } = useApp();
  const [url, setUrl] = useState<string | null>(null);
  const [failed, setFailed] = useState<string | null>(null);
  const token = session?.token ?? "";
  const name = pointer.fileName ?? t("photo");
  useEffect(() => {
    if (!isPhoto(pointer)) return;
    photoUrl(token, pointer).then(setUrl, (x: unknown) =>
      setFailed(x instanceof ApiError || x instanceof AttachmentError ? x.code : "unknown"),
    );
  }, [cacheKey(pointer)]);
  if (failed) return <p class="body unreadable" data-code={failed}>{err(failed) === err("unknown") ? t("fileUnreadable") : err(failed)}</p>;
  if (!isPhoto(pointer)) {
    return (
      <button
        type="button"
        class="link file"
        onClick={() =>
          void download(token, pointer).then(
            (plain) => {
              const a = document.createElement("a");
              a.href = objectUrl(plain, pointer.mediaType);
              a.download = name;
              a.click();
            },
            (x: unknown) => setFailed(x instanceof ApiError || x instanceof AttachmentError ? x.code : "unknown"),
          )
        }
      >
        {t("openFile", { name })}
      </button>
    );
  }
  if (!url) return <p class="body muted-line photo-loading">{t("photoLoading")}</p>;
  return (
    <img
      class="photo"
      src={url}
      alt={own ? t("photo") : t("photoFrom", { name })}
      data-blob-id={pointer.blobId}
      onLoad={(e) => {
        // the newest message stays in view once its photo has its height
        const item = e.currentTarget.closest("li");
        if (item && !item.nextElementSibling) item.scrollIntoView({ block: "end" });
      }}
    />
  );
}

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
    file: e.msgtype === "m.file" ? parsePointer(e.file) : null,
  };
}

/** Add events not yet shown (by event id, or a pending send's local id), in time order. */
function merge(lines: Line[], events: TimelineEvent[]): Line[] {
  const out = [...lines];
  for (const e of events) {
    if (e.clearType !== undefined && e.clearType !== "m.room.message") continue; // a Kaari record, not a message
    const line = fromEvent(e);
    const same = out.findIndex((l) => l.eventId === e.eventId || (line.localId !== null && l.localId === line.localId));
    if (same >= 0) {
      const old = out[same]!;
      // (a message unreadable before reads once its key arrives: a restore from the key backup)
      out[same] = { ...old, eventId: e.eventId, key: old.key, ts: e.ts, body: old.body ?? line.body, file: old.file ?? line.file, status: old.status === "sending" ? "sent" : old.status };
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
  const [attaching, setAttaching] = useState(false);
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

  /** "Delivered" once a recipient device's sync has covered a message sent here: asked
   * once when sent, then again on each live room_event_delivered of this room (it names
   * the newest event covered, so each message still waiting is asked), and slowly while
   * the socket is down. */
  const waiting = useRef(new Map<string, { roomId: string; eventId: string }>());
  async function watchDelivery(roomId: string, localId: string, eventId: string) {
    waiting.current.set(localId, { roomId, eventId });
    try {
      const d = await crypto.call<"deliveries">({ op: "deliveries", roomId, eventId });
      if (d.delivered > 0 && waiting.current.delete(localId)) setStatus(localId, "delivered");
    } catch {
      // asked again on the next delivery event
    }
  }
  const askWaiting = (roomId: string | null): void => {
    for (const [localId, w] of waiting.current) if (roomId === null || w.roomId === roomId) void watchDelivery(w.roomId, localId, w.eventId);
  };
  useLive({ room_event_delivered: ({ roomId }) => askWaiting(roomId) });
  useFallbackPoll(() => askWaiting(null), (lines ?? []).some((l) => l.own && l.status === "sent"));

  async function send(body: string, localId = newLocalId()) {
    if (!room) return;
    setError(null);
    setLines((old) => {
      const rest = (old ?? []).filter((l) => l.localId !== localId);
      return [...rest, { key: localId, eventId: null, localId, own: true, body, ts: Date.now(), status: "sending", file: null }];
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

  /** Encrypt and upload the photo (files.ts), then send its pointer as the Python client
   * does (an m.file message); shown at once from the bytes on this device. */
  async function sendPhoto(file: File) {
    if (!room || !session) return;
    setError(null);
    setAttaching(true);
    const localId = newLocalId();
    try {
      const plain = new Uint8Array(await file.arrayBuffer());
      const mediaType = file.type || "application/octet-stream";
      const pointer = await upload(session.token, room, plain, mediaType, file.name || "photo.jpg");
      photos.set(cacheKey(pointer), Promise.resolve(objectUrl(plain, mediaType)));
      setLines((old) => [
        ...(old ?? []),
        { key: localId, eventId: null, localId, own: true, body: pointer.fileName ?? null, ts: Date.now(), status: "sending", file: pointer },
      ]);
      try {
        const { eventId } = await crypto.call<"sendEvent">({
          op: "sendEvent",
          roomId: room,
          type: "m.room.message",
          content: fileMessage(pointer),
          localId,
        });
        setStatus(localId, "sent", eventId);
        void watchDelivery(room, localId, eventId);
      } catch (x) {
        setStatus(localId, "failed");
        throw x;
      }
    } catch (x) {
      setError(x instanceof CryptoError || x instanceof ApiError || x instanceof AttachmentError ? x.code : "unknown");
    } finally {
      setAttaching(false);
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
        title={
          kind === "child"
            ? session?.role === "therapist"
              ? t("th.childThread", { child: child ?? "" }) // the therapist's title (screens/Caseload.tsx)
              : child ? t("childThreadOf", { child }) : t("childThread")
            : child ? t("familyThreadOf", { child }) : t("familyThread")
        }
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
        {kind === "family" ? (
          <a id="child-thread-link" href={href({ name: "thread", caseId, kind: "child" })} onClick={(e) => { e.preventDefault(); navigate({ name: "thread", caseId, kind: "child" }); }}>
            {t("childThreadLink", { child: child ?? "" })}
          </a>
        ) : (
          <a id="family-thread-link" href={href({ name: "thread", caseId, kind: "family" })} onClick={(e) => { e.preventDefault(); navigate({ name: "thread", caseId, kind: "family" }); }}>
            {t("familyThreadLink")}
          </a>
        )}
        <a id="documents-link" href={href({ name: "documents", caseId })} onClick={(e) => { e.preventDefault(); navigate({ name: "documents", caseId }); }}>
          {t("documentsLink")}
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
      {/* the live region around the list, so the list keeps its list semantics (axe: listitem) */}
      <div class="log" role="log" aria-live="polite" aria-label={kind === "child" ? t("childThread") : t("familyThread")}>
      <ol class="messages" ref={list}>
        {(lines ?? []).map((l) => (
          <li
            key={l.key}
            class={`msg ${l.own ? "own" : "theirs"}`}
            data-event-id={l.eventId ?? ""}
            data-status={l.status ?? ""}
          >
            {l.file ? (
              <FileView pointer={l.file} own={l.own} />
            ) : (
              <p class={l.body === null ? "body unreadable" : "body"}>{l.body ?? t("undecryptable")}</p>
            )}
            <p class="meta">
              <time dateTime={new Date(l.ts).toISOString()}>{clock.format(new Date(l.ts))}</time>
              {l.status && l.status !== "failed" && <span class="status"> · {statusText[l.status]}</span>}
              {l.status === "failed" && l.body !== null && l.file === null && l.localId && (
                <button type="button" class="link status" onClick={() => void send(l.body!, l.localId!)}>
                  {statusText.failed}
                </button>
              )}
            </p>
          </li>
        ))}
      </ol>
      </div>
      {error && (
        <p class="error" role="alert" data-code={error}>
          {err(error)}
        </p>
      )}
      <form class="composer" onSubmit={submit}>
        <input
          id="photo"
          class="visually-hidden"
          type="file"
          accept="image/*"
          capture="environment"
          disabled={!room || attaching}
          onChange={(e) => {
            const input = e.currentTarget;
            const f = input.files?.[0];
            if (f) void sendPhoto(f);
            input.value = "";
          }}
        />
        <label for="photo" class="attach" title={t("attachPhoto")}>
          <svg aria-hidden="true" width="26" height="26" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">
            <path d="M4 8h3l2-3h6l2 3h3a1 1 0 0 1 1 1v10a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1V9a1 1 0 0 1 1-1z" />
            <circle cx="12" cy="13.5" r="3.5" />
          </svg>
          <span class="visually-hidden">{t("attachPhoto")}</span>
        </label>
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
