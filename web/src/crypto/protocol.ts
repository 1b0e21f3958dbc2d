// The typed message protocol between the page and the crypto worker (worker.ts). Every
// request carries an id; the worker answers each with one Reply of the same id, and
// pushes Events (new messages, state) unasked. Later features (files, verification,
// backup, push) add request and event kinds here.

export interface StartArgs {
  token: string;
  matrixUserId: string;
  deviceId: string;
}

export type Request =
  | { op: "start"; args: StartArgs }
  | { op: "history"; roomId: string; limit: number }
  | { op: "sendText"; roomId: string; text: string; localId: string }
  | { op: "sendEvent"; roomId: string; type: string; content: Record<string, unknown>; localId: string }
  | { op: "readEvent"; roomId: string; eventId: string }
  | { op: "deliveries"; roomId: string; eventId: string }
  | { op: "readReceipt"; roomId: string; eventId: string } // org.kaari.read up to the event
  | { op: "receipts"; roomId: string } // the room's members' latest receipts (receipts.ts)
  | { op: "unread"; roomIds: string[] } // each room's unread count (unread.ts)
  | { op: "verifyInviter"; inviter: string; masterKey: string } // crypto/verify.ts
  | { op: "verifiedUsers"; users: string[] }
  | { op: "signOut" }
  // calls (call.ts): cross-signing for the call, an SDP's authentication sent and checked
  | { op: "callPrepare" }
  | { op: "callSend"; call: CallSdpArgs }
  | { op: "callCheck"; call: CallSdpArgs; waitMs: number }
  // group calls: a therapist vouches for a family's certificate to another family
  | { op: "callVouch"; vouch: CallVouchArgs }
  | { op: "callCheckVouched"; call: CallSdpArgs; vouchers: { user: string; device: string }[]; waitMs: number }
  // key backup and the recovery key (backup.ts)
  | { op: "backupStatus" }
  | { op: "backupPrepare" }
  | { op: "backupCommit"; recoveryKey: string }
  | { op: "backupRestore"; recoveryKey: string };

export type RequestOf<K extends Request["op"]> = Extract<Request, { op: K }>;

export interface Replies {
  start: { ready: true };
  history: { events: TimelineEvent[] };
  sendText: { eventId: string };
  sendEvent: { eventId: string };
  readEvent: { event: ClearEvent | null };
  deliveries: { delivered: number; recipients: number };
  readReceipt: { done: true };
  receipts: { receipts: Receipt[] };
  unread: { counts: Record<string, number | null> }; // null: the room cannot be read
  verifyInviter: { bootstrapped: boolean };
  verifiedUsers: { users: string[] };
  signOut: { done: true };
  callPrepare: { crossSigned: boolean };
  callSend: { sent: true };
  callCheck: { authenticated: true };
  callVouch: { sent: true };
  callCheckVouched: { authenticated: true };
  backupStatus: BackupStatus;
  backupPrepare: { recoveryKey: string };
  backupCommit: { version: string };
  backupRestore: { imported: number; total: number; rooms: string[] };
}

/** The user's backup on the server and whether this device backs up to it. */
export interface BackupStatus {
  serverVersion: string | null;
  active: boolean; // this device holds the current backup's key and uploads to it
  roomKeys: number;
  backedUp: number;
}

/** One offer or answer of a call with one peer device (crypto/call.ts). */
export interface CallSdpArgs {
  peerUser: string;
  peerDevice: string;
  callId: string;
  kind: "offer" | "answer";
  sdp: string;
}

/** A therapist's vouch for another family's certificate in a group call (crypto/call.ts). */
export interface CallVouchArgs {
  peerUser: string;
  peerDevice: string;
  callId: string;
  deviceId: string;
  fingerprints: string[];
}

export type Envelope = { id: number } & Request;

export type Reply =
  | { id: number; ok: true; result: Replies[keyof Replies] }
  | { id: number; ok: false; code: string };

/** A room message as the app shows it: decrypted by the worker, or marked unreadable. */
export interface TimelineEvent {
  eventId: string;
  roomId: string;
  sender: string;
  senderDevice: string | null;
  ts: number;
  own: boolean;
  body: string | null; // null: this device cannot decrypt it
  msgtype: string | null;
  txnId: string | null; // set on this device's own sends
  /** an ``m.file`` message's ``kaari.attachment`` (unchecked: files.ts parsePointer) */
  file?: unknown;
  /** the decrypted event's type (absent when unreadable): the thread shows only
   * ``m.room.message``, not the room's Kaari records (documents, notes) */
  clearType?: string;
  /** an ``org.kaari.read`` receipt's ``event_id`` (unchecked: receipts.ts receiptTarget;
   * the page learns receipts from the ``receipts`` event, the thread does not show them) */
  readUpTo?: unknown;
}

/** A member's latest read receipt in a room: read up to ``eventId`` (and everything
 * before it) at ``ts`` (when the receipt was sent); ``at``: when ``eventId`` was sent
 * (orders receipts); ``own``: the signed-in user's (from any of their devices). */
export interface Receipt {
  userId: string;
  eventId: string;
  ts: number;
  at: number;
  own: boolean;
}

/** One decrypted room event (a Kaari record such as org.kaari.appointment.details);
 * ``readEvent`` answers null when this device has no key for it. */
export interface ClearEvent {
  type: string;
  sender: string;
  senderDevice: string | null;
  content: Record<string, unknown>;
}

export type Event =
  | { event: "timeline"; roomId: string; events: TimelineEvent[] }
  | { event: "gap"; roomId: string } // more arrived than a sync carries: page the history
  | { event: "receipts"; roomId: string; receipts: Receipt[] } // moved since the last sync
  | { event: "unread"; roomId: string; count: number } // a counted room's count moved
  | { event: "status"; state: "syncing" | "offline" | "signedOut" };

export type WorkerMessage = Reply | Event;
