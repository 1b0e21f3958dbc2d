// Therapy documents for a guardian's device (app/documents, docs/documents.md), the same
// way as the Python client (client/documents.py): the server lists versions by kind, size,
// times and ids; the title, file name, media type and key are in an ``org.kaari.document``
// Megolm event (decrypted here through the crypto worker), the file an encrypted blob
// (files.ts). A request's note goes encrypted as an ``org.kaari.document.request_note``
// event; the server keeps only its event id.

import { request } from "./api";
import type { CryptoClient } from "./crypto/client";
import { download, parsePointer, type AttachmentPointer } from "./files";

export const DOCUMENT_EVENT = "org.kaari.document";
export const NOTE_EVENT = "org.kaari.document.request_note";
export const KINDS = ["rehabilitation_plan", "therapy_plan", "therapy_statement", "other"] as const;
export type DocumentKind = (typeof KINDS)[number];

export interface Receipt {
  userId: string;
  displayName: string;
  openedAt: string;
}

/** app/documents/schemas.py DocumentOut */
export interface DocumentRow {
  id: string;
  documentId: string;
  version: number;
  caseId: string;
  periodId: string | null;
  kind: DocumentKind;
  roomId: string;
  contentEventId: string;
  blobId: string;
  size: number;
  sharedBy: string | null;
  sharedAt: string;
  supersededAt: string | null;
  givenToDoctor: boolean;
  givenToDoctorAt: string | null;
  openedBy: Receipt[];
  openedByMe: boolean;
}

/** app/documents/schemas.py RequestOut */
export interface RequestRow {
  id: string;
  caseId: string;
  periodId: string | null;
  kind: DocumentKind;
  neededBy: string;
  roomId: string;
  noteEventId: string | null;
  requestedBy: string | null;
  requestedAt: string;
  status: "open" | "fulfilled" | "withdrawn";
  fulfilledBy: string | null;
  closedAt: string | null;
}

/** What the document's event says (client/documents.py DocumentContent). */
export interface DocumentContent {
  title: string;
  file: AttachmentPointer;
}

export class DocumentUnreadable extends Error {
  readonly code = "document_unreadable";
}

export function listDocuments(token: string, caseId: string): Promise<DocumentRow[]> {
  return request("GET", `/cases/${caseId}/documents?versions=current`, token);
}

export function listRequests(token: string, caseId: string): Promise<RequestRow[]> {
  return request("GET", `/cases/${caseId}/document-requests`, token);
}

/** The room a case's document events, files and request notes go to, as the server names
 * it (GET /cases/{id}/documents/room; the same lookup as client/documents.py
 * Documents.room). The one place the web app chooses that room: a listed version carries
 * its own ``roomId`` and is read from there. */
export async function documentsRoom(token: string, caseId: string): Promise<string> {
  const answer = await request<{ roomId: string }>("GET", `/cases/${caseId}/documents/room`, token);
  return answer.roomId;
}

/** A decrypted document event checked against the server's row (client/documents.py
 * content_of): the event names this version, its kind and its blob, so a server that
 * moves event ids between versions cannot show one document's title under another. */
export function contentOf(type: string, raw: Record<string, unknown>, row: DocumentRow): DocumentContent {
  if (type !== DOCUMENT_EVENT) throw new DocumentUnreadable("not a document");
  const known = new Set(["document_id", "kind", "title", "file"]);
  if (Object.keys(raw).some((k) => !known.has(k))) throw new DocumentUnreadable("malformed");
  const { document_id: versionId, kind, title, file } = raw;
  const pointer = parsePointer(file);
  if (typeof title !== "string" || title.length < 1 || title.length > 200 || !pointer) {
    throw new DocumentUnreadable("malformed");
  }
  if (versionId !== row.id || kind !== row.kind || pointer.blobId !== row.blobId) {
    throw new DocumentUnreadable("names another document");
  }
  return { title, file: pointer };
}

/** The version's event, decrypted (null: no key on this device yet; the worker's sync
 * may bring it, so the caller asks again once). */
export async function readContent(crypto: CryptoClient, row: DocumentRow): Promise<DocumentContent> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const { event } = await crypto.call<"readEvent">({ op: "readEvent", roomId: row.roomId, eventId: row.contentEventId });
    if (event) return contentOf(event.type, event.content, row);
    await new Promise((r) => setTimeout(r, 1500));
  }
  throw new DocumentUnreadable("no key");
}

/** Download and decrypt the version's file, then tell the server it was opened. */
export async function openDocument(token: string, row: DocumentRow, content: DocumentContent): Promise<Uint8Array> {
  const plain = await download(token, content.file);
  await request("POST", `/documents/${row.id}/opened`, token);
  return plain;
}

/** Ask the therapist for a document by a day; the note (if any) goes encrypted to the
 * documents room first (client/documents.py Documents.request). */
export async function requestDocument(
  token: string,
  crypto: CryptoClient,
  caseId: string,
  kind: DocumentKind,
  neededBy: string,
  note: string,
): Promise<RequestRow> {
  const id = globalThis.crypto.randomUUID();
  const body: Record<string, unknown> = { id, kind, neededBy };
  if (note) {
    const roomId = await documentsRoom(token, caseId);
    const localId = id.replace(/-/g, "");
    const { eventId } = await crypto.call<"sendEvent">({
      op: "sendEvent",
      roomId,
      type: NOTE_EVENT,
      content: { request_id: id, note },
      localId,
    });
    body["noteEventId"] = eventId;
  }
  return request("POST", `/cases/${caseId}/document-requests`, token, body);
}
