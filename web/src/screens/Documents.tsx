import { useEffect, useMemo, useState } from "preact/hooks";

import { ApiError, request, type CaseOut } from "../api";
import { useApp } from "../context";
import { CryptoError } from "../crypto/client";
import {
  DocumentUnreadable,
  KINDS,
  listDocuments,
  listRequests,
  openDocument,
  readContent,
  requestDocument,
  type DocumentContent,
  type DocumentKind,
  type DocumentRow,
  type RequestRow,
} from "../documents";
import { AttachmentError, objectUrl } from "../files";
import { navigate } from "../router";
import { TopBar } from "./TopBar";

/** dates as in Finland, whichever language */
const DATE_LOCALES = { fi: "fi-FI", sv: "sv-FI", en: "en-GB" } as const;

type Shown = { state: "loading" } | { state: "ok"; content: DocumentContent } | { state: "unreadable" };
interface Opened {
  url: string;
  name: string;
  type: string;
}

function codeOf(x: unknown): string {
  if (x instanceof ApiError || x instanceof CryptoError || x instanceof AttachmentError) return x.code;
  if (x instanceof DocumentUnreadable) return x.code;
  return "unknown";
}

function isoDay(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** A guardian's documents of a case: the current versions with their decrypted titles,
 * who opened them; open one (download, decrypt, offer the file as it was); the requests
 * and a form to ask for a document by a day. */
export function Documents({ caseId }: { caseId: string }) {
  const { t, err, session, crypto, locale } = useApp();
  const [child, setChild] = useState<string | null>(null);
  const [rows, setRows] = useState<DocumentRow[] | null>(null);
  const [shown, setShown] = useState<Record<string, Shown>>({});
  const [opened, setOpened] = useState<Record<string, Opened>>({});
  const [opening, setOpening] = useState<string | null>(null);
  const [requests, setRequests] = useState<RequestRow[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [kind, setKind] = useState<DocumentKind>("therapy_statement");
  const [neededBy, setNeededBy] = useState(() => isoDay(new Date(Date.now() + 30 * 86_400_000)));
  const [note, setNote] = useState("");
  const [sending, setSending] = useState(false);
  const [formError, setFormError] = useState<string | null>(null);
  const [sent, setSent] = useState(false);
  const token = session?.token ?? "";

  const day = useMemo(() => new Intl.DateTimeFormat(DATE_LOCALES[locale], { day: "numeric", month: "numeric", year: "numeric" }), [locale]);

  async function load(): Promise<void> {
    try {
      const [docs, reqs] = await Promise.all([listDocuments(token, caseId), listRequests(token, caseId)]);
      setRows(docs);
      setRequests(reqs);
      for (const row of docs) {
        setShown((old) => (old[row.id] ? old : { ...old, [row.id]: { state: "loading" } }));
        readContent(crypto, row).then(
          (content) => setShown((old) => ({ ...old, [row.id]: { state: "ok", content } })),
          () => setShown((old) => ({ ...old, [row.id]: { state: "unreadable" } })),
        );
      }
    } catch (x) {
      setRows((old) => old ?? []);
      setRequests((old) => old ?? []);
      setError(codeOf(x));
    }
  }

  useEffect(() => {
    if (!session) return;
    request<CaseOut>("GET", `/cases/${caseId}`, token).then(
      (c) => setChild(c.childName),
      () => setChild(null),
    );
    void load();
  }, [caseId, token]);

  useEffect(() => () => Object.values(opened).forEach((o) => URL.revokeObjectURL(o.url)), []);

  async function open(row: DocumentRow): Promise<void> {
    const s = shown[row.id];
    if (s?.state !== "ok") return;
    setOpening(row.id);
    setError(null);
    try {
      const plain = await openDocument(token, row, s.content);
      const name = s.content.file.fileName || `${t(`docKind.${row.kind}`)}`;
      const file: Opened = { url: objectUrl(plain, s.content.file.mediaType), name, type: s.content.file.mediaType };
      setOpened((old) => ({ ...old, [row.id]: file }));
      // offer it as the file it was: its name and media type
      const a = document.createElement("a");
      a.href = file.url;
      a.download = file.name;
      a.type = file.type;
      a.click();
      const docs = await listDocuments(token, caseId);
      setRows(docs);
    } catch (x) {
      setError(codeOf(x));
    } finally {
      setOpening(null);
    }
  }

  async function submit(e: SubmitEvent): Promise<void> {
    e.preventDefault();
    setSending(true);
    setFormError(null);
    setSent(false);
    try {
      await requestDocument(token, crypto, caseId, kind, neededBy, note.trim());
      setNote("");
      setSent(true);
      setRequests(await listRequests(token, caseId));
    } catch (x) {
      setFormError(codeOf(x));
    } finally {
      setSending(false);
    }
  }

  const me = session?.userId ?? "";

  return (
    <main class="screen documents">
      <TopBar
        title={child ? t("documentsOf", { child }) : t("documentsTitle")}
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
      {rows === null && <p class="muted">{t("loading")}</p>}
      {rows !== null && rows.length === 0 && <p class="muted">{t("noDocuments")}</p>}
      {rows !== null && rows.length > 0 && (
        <ul class="sessions" id="document-list">
          {rows.map((row) => {
            const s = shown[row.id] ?? { state: "loading" };
            const file = opened[row.id];
            const names = row.openedBy.map((o) => (o.userId === me ? t("you") : o.displayName));
            return (
              <li key={row.id} class="session document" data-document-id={row.id} data-kind={row.kind}>
                <p class="when">{t(`docKind.${row.kind}`)}</p>
                {s.state === "ok" && <p class="doc-title">{s.content.title}</p>}
                {s.state === "unreadable" && <p class="doc-title unreadable">{t("docTitleUnreadable")}</p>}
                <p class="muted-line">
                  {t("docVersion", { n: String(row.version) })} · {t("docShared", { when: day.format(new Date(row.sharedAt)) })}
                </p>
                <p class="seen opened-by" data-opened={row.openedBy.length > 0 ? "yes" : "no"}>
                  {names.length > 0 ? t("docOpenedBy", { names: names.join(", ") }) : t("docNotOpened")}
                </p>
                {row.givenToDoctor && <p class="muted-line">{t("docGivenToDoctor")}</p>}
                {!file && (
                  <button
                    type="button"
                    class="secondary open-document"
                    disabled={s.state !== "ok" || opening !== null}
                    onClick={() => void open(row)}
                  >
                    {opening === row.id ? t("docOpening") : t("docOpen")}
                  </button>
                )}
                {file && (
                  <a class="secondary saved-file" href={file.url} download={file.name} type={file.type} data-media-type={file.type}>
                    {t("docSave", { name: file.name })}
                  </a>
                )}
              </li>
            );
          })}
        </ul>
      )}
      <h2 class="section">{t("requestsTitle")}</h2>
      {requests !== null && requests.length === 0 && <p class="muted">{t("noRequests")}</p>}
      {requests !== null && requests.length > 0 && (
        <ul class="sessions" id="request-list">
          {requests.map((r) => (
            <li key={r.id} class={`session request ${r.status}`} data-request-id={r.id} data-status={r.status}>
              <p class="when">{t("requestLine", { kind: t(`docKind.${r.kind}`), date: day.format(new Date(`${r.neededBy}T12:00:00`)) })}</p>
              <p class="status">{t(`requestStatus.${r.status}`)}</p>
            </li>
          ))}
        </ul>
      )}
      <form class="card request-form" onSubmit={(e) => void submit(e)} aria-labelledby="request-title">
        <h2 id="request-title">{t("requestFormTitle")}</h2>
        <label for="request-kind">{t("requestKind")}</label>
        <select id="request-kind" value={kind} onChange={(e) => setKind(e.currentTarget.value as DocumentKind)}>
          {KINDS.map((k) => (
            <option key={k} value={k}>
              {t(`docKind.${k}`)}
            </option>
          ))}
        </select>
        <label for="request-needed-by">{t("requestNeededBy")}</label>
        <input id="request-needed-by" type="date" required value={neededBy} min={isoDay(new Date())} onInput={(e) => setNeededBy(e.currentTarget.value)} />
        <label for="request-note">{t("requestNote")}</label>
        <textarea id="request-note" rows={3} maxLength={2000} value={note} onInput={(e) => setNote(e.currentTarget.value)} />
        {formError && (
          <p class="error" role="alert" id="request-error" data-code={formError}>
            {err(formError)}
          </p>
        )}
        {sent && (
          <p class="seen" role="status" id="request-sent">
            {t("requestSent")}
          </p>
        )}
        <button id="request-send" type="submit" class="primary" disabled={sending || !neededBy}>
          {sending ? t("requestSending") : t("requestSend")}
        </button>
      </form>
    </main>
  );
}
