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
  | { op: "deliveries"; roomId: string; eventId: string }
  | { op: "roomEvent"; roomId: string; eventId: string }
  | { op: "signOut" };

export type RequestOf<K extends Request["op"]> = Extract<Request, { op: K }>;

export interface Replies {
  start: { ready: true };
  history: { events: TimelineEvent[] };
  sendText: { eventId: string };
  deliveries: { delivered: number; recipients: number };
  roomEvent: ClearEvent;
  signOut: { done: true };
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
}

/** One room event fetched by id and decrypted: its type and content inside the
 * ciphertext, or null when this device holds no key for it (yet). */
export interface ClearEvent {
  type: string | null;
  content: Record<string, unknown> | null;
  sender: string | null;
}

export type Event =
  | { event: "timeline"; roomId: string; events: TimelineEvent[] }
  | { event: "gap"; roomId: string } // more arrived than a sync carries: page the history
  | { event: "status"; state: "syncing" | "offline" | "signedOut" };

export type WorkerMessage = Reply | Event;
