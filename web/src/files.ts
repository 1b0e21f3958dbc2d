// Encrypted attachments in the browser, in exactly the Python client's format
// (crypto/attachments.py, crypto/payloads.py AttachmentPointer, client/matrix/files.py):
//
//   blob = "KAA" | format 1 (1 byte) | secretstream header (24 bytes) | records
//
// libsodium's crypto_secretstream_xchacha20poly1305 under a fresh random key per file; the
// plaintext is cut into records of 64 KiB (the last one shorter, possibly empty, and the
// only one tagged FINAL). The pointer (blob id, key, SHA-256 of the whole blob, plaintext
// size, media type, file name) travels only inside a Megolm room event: the server keeps
// the blob (POST /threads/{thread}/attachments, GET /attachments/{id}) and never its key.
// libsodium-wrappers is the one crypto library besides matrix-sdk-crypto-wasm, and only
// for this; it is loaded on first use (not part of the first screen's bundle).

import { ApiError } from "./api";

export const MAGIC = [0x4b, 0x41, 0x41]; // "KAA"
export const FORMAT = 1;
export const RECORD_SIZE = 64 * 1024;
/** crypto/payloads.py MAX_ATTACHMENT_SIZE (the server enforces its own, smaller limit) */
export const MAX_ATTACHMENT_SIZE = 100 * 1024 * 1024;
/** the m.file message's field that holds the pointer (client/matrix/files.py) */
export const POINTER_FIELD = "kaari.attachment";

/** crypto.payloads.AttachmentPointer on the wire (msgspec: tag "type", camelCase, the
 * default format 1 and a missing file name omitted). */
export interface AttachmentPointer {
  type: "attachment";
  blobId: string;
  key: string;
  sha256: string;
  size: number;
  mediaType: string;
  fileName?: string;
  format?: number;
}

export class AttachmentError extends Error {
  constructor(readonly code: "attachment_invalid" | "attachment_truncated" | "attachment_too_large") {
    super(code);
  }
}

type Sodium = typeof import("libsodium-wrappers").default;
let loaded: Promise<Sodium> | null = null;

function sodium(): Promise<Sodium> {
  loaded ??= import("libsodium-wrappers").then(async (m) => {
    await m.default.ready;
    return m.default;
  });
  return loaded;
}

/** SHA-256 of the whole ciphertext (a public checksum, not a secret: WebCrypto's digest,
 * since libsodium-wrappers' standard build has no SHA-256). */
async function sha256(data: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", data));
}

const KEY32 = /^[A-Za-z0-9+/]{43}$/;
const MEDIA_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*\/[A-Za-z0-9!#$&^_.+-]+$/;
const POINTER_FIELDS = new Set(["type", "blobId", "key", "sha256", "size", "mediaType", "fileName", "format"]);

/** The pointer as crypto.payloads would accept it (the same bounds), or null. */
export function parsePointer(raw: unknown): AttachmentPointer | null {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return null;
  const p = raw as Record<string, unknown>;
  if (Object.keys(p).some((k) => !POINTER_FIELDS.has(k))) return null;
  const { blobId, key, sha256, size, mediaType, fileName, format } = p;
  if (p["type"] !== "attachment") return null;
  if (typeof blobId !== "string" || blobId.length < 1 || blobId.length > 255) return null;
  if (typeof key !== "string" || !KEY32.test(key)) return null;
  if (typeof sha256 !== "string" || !KEY32.test(sha256)) return null;
  if (typeof size !== "number" || !Number.isInteger(size) || size < 0 || size > MAX_ATTACHMENT_SIZE) return null;
  if (typeof mediaType !== "string" || mediaType.length > 127 || !MEDIA_TYPE.test(mediaType)) return null;
  if (fileName !== undefined && fileName !== null && (typeof fileName !== "string" || fileName.length > 255)) return null;
  if (format !== undefined && (typeof format !== "number" || !Number.isInteger(format) || format < 1 || format > 255)) return null;
  const out: AttachmentPointer = { type: "attachment", blobId, key, sha256, size, mediaType };
  if (typeof fileName === "string") out.fileName = fileName;
  if (format !== undefined && format !== FORMAT) out.format = format;
  return out;
}

/** The pointer of an ``m.file`` message's content, or null (not a file, or malformed). */
export function pointerOf(content: Record<string, unknown> | null | undefined): AttachmentPointer | null {
  if (!content || content["msgtype"] !== "m.file") return null;
  return parsePointer(content[POINTER_FIELD]);
}

export interface Sealed {
  blob: Uint8Array<ArrayBuffer>;
  /** the pointer's key, hash and size (blob id, media type and name added on upload) */
  key: string;
  sha256: string;
  size: number;
}

/** Encrypt a whole file (held in memory: photos and documents, not videos). */
export async function seal(plain: Uint8Array, key?: Uint8Array): Promise<Sealed> {
  if (plain.length > MAX_ATTACHMENT_SIZE) throw new AttachmentError("attachment_too_large");
  const s = await sodium();
  const k = key ?? s.crypto_secretstream_xchacha20poly1305_keygen();
  const { state, header } = s.crypto_secretstream_xchacha20poly1305_init_push(k);
  const full = Math.floor(plain.length / RECORD_SIZE);
  const abytes = s.crypto_secretstream_xchacha20poly1305_ABYTES;
  const prefix = MAGIC.length + 1 + header.length;
  const blob = new Uint8Array(prefix + plain.length + (full + 1) * abytes);
  blob.set(MAGIC, 0);
  blob[MAGIC.length] = FORMAT;
  blob.set(header, MAGIC.length + 1);
  let at = prefix;
  for (let i = 0; i <= full; i++) {
    const last = i === full;
    const record = plain.subarray(i * RECORD_SIZE, last ? plain.length : (i + 1) * RECORD_SIZE);
    const tag = last ? s.crypto_secretstream_xchacha20poly1305_TAG_FINAL : s.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
    const c = s.crypto_secretstream_xchacha20poly1305_push(state, record, null, tag);
    blob.set(c, at);
    at += c.length;
  }
  const b64 = s.base64_variants.ORIGINAL_NO_PADDING;
  return {
    blob,
    key: s.to_base64(k, b64),
    sha256: s.to_base64(await sha256(blob), b64),
    size: plain.length,
  };
}

/** Authenticate and decrypt a whole blob against its pointer: every record's tag, the
 * final record present and last, the size and the ciphertext's SHA-256. */
export async function open(blob: Uint8Array<ArrayBuffer>, pointer: AttachmentPointer): Promise<Uint8Array> {
  if ((pointer.format ?? FORMAT) !== FORMAT) throw new AttachmentError("attachment_invalid");
  const s = await sodium();
  const b64 = s.base64_variants.ORIGINAL_NO_PADDING;
  let key: Uint8Array;
  let expected: Uint8Array;
  try {
    key = s.from_base64(pointer.key, b64);
    expected = s.from_base64(pointer.sha256, b64);
  } catch {
    throw new AttachmentError("attachment_invalid");
  }
  if (key.length !== 32 || expected.length !== 32) throw new AttachmentError("attachment_invalid");
  const headerBytes = s.crypto_secretstream_xchacha20poly1305_HEADERBYTES;
  const prefix = MAGIC.length + 1 + headerBytes;
  if (blob.length < prefix) throw new AttachmentError("attachment_truncated");
  if (MAGIC.some((b, i) => blob[i] !== b) || blob[MAGIC.length] !== FORMAT) throw new AttachmentError("attachment_invalid");
  const actual = await sha256(blob);
  if (actual.some((b, i) => b !== expected[i])) throw new AttachmentError("attachment_invalid");
  const state = s.crypto_secretstream_xchacha20poly1305_init_pull(blob.subarray(MAGIC.length + 1, prefix), key);
  const recordLen = RECORD_SIZE + s.crypto_secretstream_xchacha20poly1305_ABYTES;
  const out = new Uint8Array(pointer.size);
  let size = 0;
  let finished = false;
  for (let at = prefix; at < blob.length; at += recordLen) {
    if (finished) throw new AttachmentError("attachment_invalid"); // data after the final record
    const answer = s.crypto_secretstream_xchacha20poly1305_pull(state, blob.subarray(at, Math.min(at + recordLen, blob.length)), null);
    if (!answer) throw new AttachmentError("attachment_invalid");
    if (answer.tag === s.crypto_secretstream_xchacha20poly1305_TAG_FINAL) finished = true;
    else if (answer.tag !== s.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE) throw new AttachmentError("attachment_invalid");
    if (size + answer.message.length > pointer.size) throw new AttachmentError("attachment_invalid");
    out.set(answer.message, size);
    size += answer.message.length;
  }
  if (!finished) throw new AttachmentError("attachment_truncated");
  if (size !== pointer.size) throw new AttachmentError("attachment_invalid");
  return out;
}

/** The Kaari thread id of a room id ``!<thread uuid>:<server name>`` (files.py thread_of). */
export function threadOf(roomId: string): string {
  return roomId.slice(1).split(":", 1)[0] ?? "";
}

async function problem(r: Response): Promise<ApiError> {
  let code = `http_${r.status}`;
  try {
    const body = (await r.json()) as { code?: unknown };
    if (typeof body.code === "string") code = body.code;
  } catch {
    // not problem+json
  }
  return new ApiError(r.status, code);
}

/** Encrypt and upload a file to a room's attachment store; its pointer for the event. */
export async function upload(
  token: string,
  roomId: string,
  plain: Uint8Array,
  mediaType: string,
  fileName: string,
): Promise<AttachmentPointer> {
  const sealed = await seal(plain);
  let r: Response;
  try {
    r = await fetch(`/threads/${encodeURIComponent(threadOf(roomId))}/attachments`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/octet-stream" },
      body: sealed.blob,
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, "network");
  }
  if (!r.ok) throw await problem(r);
  const { id } = (await r.json()) as { id: string };
  const pointer: AttachmentPointer = {
    type: "attachment",
    blobId: String(id),
    key: sealed.key,
    sha256: sealed.sha256,
    size: sealed.size,
    mediaType,
  };
  if (fileName) pointer.fileName = fileName.slice(0, 255);
  return pointer;
}

/** Download and decrypt a file (its hash and every record's tag checked). */
export async function download(token: string, pointer: AttachmentPointer): Promise<Uint8Array> {
  let r: Response;
  try {
    r = await fetch(`/attachments/${encodeURIComponent(pointer.blobId)}`, {
      headers: { authorization: `Bearer ${token}` },
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, "network");
  }
  if (!r.ok) throw await problem(r);
  return open(new Uint8Array(await r.arrayBuffer()), pointer);
}

/** The ``m.room.message`` content the Python client sends for a file (files.py send_file). */
export function fileMessage(pointer: AttachmentPointer): Record<string, unknown> {
  const name = pointer.fileName ?? "file";
  return {
    msgtype: "m.file",
    body: name,
    info: { mimetype: pointer.mediaType, size: pointer.size },
    [POINTER_FIELD]: pointer,
  };
}

/** A decrypted file as an object URL of its media type (revoke it when done). */
export function objectUrl(plain: Uint8Array, mediaType: string): string {
  return URL.createObjectURL(new Blob([plain as BlobPart], { type: mediaType }));
}
