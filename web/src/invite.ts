// The first-visit QR code's text, read exactly as client/matrix/invite_qr.py reads it
// (docs/matrix-api.md "Invites and the first-visit QR"):
//
//   kaari:invite?v=1&code=<invite code>&user=<inviter's Matrix user id>&mk=<master key>
//
// Strict: the prefix exactly (surrounding whitespace ignored), the four fields once each
// in any order, nothing else, v=1, each value percent-decoded (%XX only; a "+" stays a
// plus) and well formed. A refusal has the same stable code as the Python reader's.
// A link to the app may carry the same text after "#" (/app/invite#kaari:invite?…, as
// is or percent-encoded): the fragment never reaches the server.

import { request, type SessionOut } from "./api";

export const PREFIX = "kaari:invite?";
const FIELDS = ["v", "code", "user", "mk"] as const;
const MAX_LENGTH = 1024;
const CODE = /^[A-Za-z0-9._~-]{8,200}$/;
const MASTER_KEY = /^[A-Za-z0-9+/]{43}$/;
const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

export interface InviteQr {
  code: string;
  inviterUserId: string;
  inviterMasterKey: string;
}

export class InviteQrError extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

function checkUser(value: string): boolean {
  // as crypto/matrix/ids.py: "@localpart:server", at most 255 characters
  return value.length <= 255 && value.startsWith("@") && value.indexOf(":") >= 2 && value.slice(2).includes(":");
}

function checkMasterKey(value: string): boolean {
  // 43 characters of unpadded base64 are 258 bits: the last two must be zero (canonical)
  return MASTER_KEY.test(value) && B64.indexOf(value[42]!) % 4 === 0;
}

/** Percent-decode %XX only (never "+" → space), strictly as UTF-8. */
function unquote(raw: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; ) {
    if (raw[i] === "%" && /^[0-9A-Fa-f]{2}$/.test(raw.slice(i + 1, i + 3))) {
      bytes.push(parseInt(raw.slice(i + 1, i + 3), 16));
      i += 3;
    } else {
      const cp = raw.codePointAt(i)!;
      const ch = String.fromCodePoint(cp);
      bytes.push(...new TextEncoder().encode(ch));
      i += ch.length;
    }
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array(bytes));
  } catch {
    throw new InviteQrError("malformed");
  }
}

export function parseInviteQr(text: string): InviteQr {
  if (text.length > MAX_LENGTH) throw new InviteQrError("too_long");
  const trimmed = text.trim();
  if (!trimmed.startsWith(PREFIX)) throw new InviteQrError("not_kaari_invite");
  const values = new Map<string, string>();
  for (const part of trimmed.slice(PREFIX.length).split("&")) {
    const eq = part.indexOf("=");
    if (eq <= 0) throw new InviteQrError("malformed");
    const name = part.slice(0, eq);
    if (!(FIELDS as readonly string[]).includes(name)) throw new InviteQrError("unknown_field");
    if (values.has(name)) throw new InviteQrError("duplicate_field");
    values.set(name, unquote(part.slice(eq + 1)));
  }
  if (FIELDS.some((f) => !values.has(f))) throw new InviteQrError("missing_field");
  if (values.get("v") !== "1") throw new InviteQrError("unsupported_version");
  const code = values.get("code")!;
  const user = values.get("user")!;
  const mk = values.get("mk")!;
  if (!CODE.test(code)) throw new InviteQrError("bad_code");
  if (!checkUser(user)) throw new InviteQrError("bad_user");
  if (!checkMasterKey(mk)) throw new InviteQrError("bad_master_key");
  return { code, inviterUserId: user, inviterMasterKey: mk };
}

/** What was scanned or pasted: the QR's text, or a link to /app/invite#<the text>. */
export function readInviteText(scanned: string): InviteQr {
  const text = scanned.trim();
  const hash = text.indexOf("#");
  if (!text.startsWith(PREFIX) && hash >= 0 && text.length <= MAX_LENGTH * 3) {
    return parseInviteQr(fromFragment(text.slice(hash + 1)));
  }
  return parseInviteQr(text);
}

/** A link's fragment: the QR text as is, or percent-encoded once. */
export function fromFragment(fragment: string): string {
  if (fragment.startsWith(PREFIX)) return fragment;
  try {
    return decodeURIComponent(fragment);
  } catch {
    return fragment;
  }
}

export interface AcceptInput {
  email: string;
  password: string;
  displayName: string;
  locale: string;
  deviceName: string;
}

/** A new account from the QR's invite (``POST /invites/accept``), refused with 409
 * ``inviter_key_mismatch`` (nothing created) unless ``mk`` is the inviter's current key. */
export function acceptInvite(invite: InviteQr, input: AcceptInput): Promise<SessionOut> {
  return request("POST", "/invites/accept", null, {
    code: invite.code,
    email: input.email,
    password: input.password,
    displayName: input.displayName,
    locale: input.locale,
    device: { name: input.deviceName, platform: "web" },
    inviterMasterKey: invite.inviterMasterKey,
  });
}

/** The signed-in user joins the QR's case (``POST /invites/redeem``), the key checked too. */
export function redeemInvite(token: string, invite: InviteQr): Promise<{ caseId: string | null; role: string }> {
  return request("POST", "/invites/redeem", token, {
    code: invite.code,
    inviterMasterKey: invite.inviterMasterKey,
  });
}

// The verification still to do once the new device's crypto runs (the app restarts the
// screen when the device starts): the inviter's id and the QR's key, both public.
const PENDING = "kaari.invite.pending";

export interface PendingVerification {
  inviterUserId: string;
  inviterMasterKey: string;
  caseId: string | null;
}

export function savePending(p: PendingVerification): void {
  sessionStorage.setItem(PENDING, JSON.stringify(p));
}

export function loadPending(): PendingVerification | null {
  const raw = sessionStorage.getItem(PENDING);
  if (!raw) return null;
  try {
    return JSON.parse(raw) as PendingVerification;
  } catch {
    return null;
  }
}

export function clearPending(): void {
  sessionStorage.removeItem(PENDING);
}
