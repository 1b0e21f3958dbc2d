// The device's one OlmMachine (matrix-sdk-crypto-wasm) and everything that talks to it:
// the request loop (outgoingRequests → HTTP → markRequestAsSent), sync, decryption of
// room events, and sends through Kaari's device-set check (docs/matrix-api.md). Runs in
// the crypto worker only; nothing here touches the DOM.

import {
  DecryptionSettings,
  DeviceId,
  DeviceLists,
  EncryptionSettings,
  initAsync,
  KeysBackupRequest,
  KeysClaimRequest,
  KeysQueryRequest,
  KeysUploadRequest,
  OlmMachine,
  RequestType,
  RoomId,
  RoomMessageRequest,
  SignatureUploadRequest,
  ToDeviceRequest,
  TrustRequirement,
  UserId,
} from "@matrix-org/matrix-sdk-crypto-wasm";

import * as idb from "../idb";
import { secret, forget } from "../vault";
import { KeyBackup } from "./backup";
import { CallInbox } from "./call";
import { HttpError, MatrixHttp, V3 } from "./http";
import { Mutex } from "./mutex";
import { READ_EVENT, ReceiptBook, receiptTarget } from "./receipts";
import { UnreadBook } from "./unread";
import type { ClearEvent, Event, Receipt, StartArgs, TimelineEvent } from "./protocol";

type Outgoing =
  | KeysUploadRequest
  | KeysQueryRequest
  | KeysClaimRequest
  | ToDeviceRequest
  | SignatureUploadRequest
  | RoomMessageRequest
  | KeysBackupRequest;

interface RawEvent {
  type: string;
  event_id: string;
  sender: string;
  origin_server_ts: number;
  content: Record<string, unknown>;
  unsigned?: { transaction_id?: string };
}

interface SyncBody {
  next_batch: string;
  rooms?: {
    join?: Record<string, { timeline?: { events?: RawEvent[]; limited?: boolean } }>;
  };
  to_device?: { events?: unknown[] };
  device_lists?: { changed?: string[]; left?: string[] };
  device_one_time_keys_count?: Record<string, number>;
  device_unused_fallback_key_types?: string[];
}

const SEND_ATTEMPTS = 4;
const SYNC_TIMEOUT_MS = 25_000;
const SENT_TS_KEPT = 5_000; // event times remembered to order read receipts (then forgotten)

export function storeName(deviceId: string): string {
  return `kaari-crypto-${deviceId}`;
}

function enc(part: string): string {
  return encodeURIComponent(part);
}

/** What a feature module of the worker (verify.ts) works with. ``locked`` holds the
 * request loop's lock (for requests sent by hand); never call ``processOutgoing`` in it. */
export interface EngineCore {
  machine: OlmMachine;
  http: MatrixHttp;
  userId: string;
  send: (req: Outgoing) => Promise<void>;
  processOutgoing: () => Promise<void>;
  locked: <T>(task: () => Promise<T>) => Promise<T>;
}

export class Engine {
  private readonly http: MatrixHttp;
  private readonly outgoing = new Mutex();
  private readonly sending = new Mutex();
  private readonly sentEpoch = new Map<string, string>();
  private since: string | null = null;
  private book: ReceiptBook | null = null;
  /** the unread counts of the rooms the page asked about (unread.ts) */
  private unreadBook: UnreadBook | null = null;
  /** when the events decrypted lately were sent, by event id (orders read receipts) */
  private readonly sentTs = new Map<string, number>();
  private running = true;
  private abort = new AbortController();
  /** key backup and the recovery key (backup.ts) */
  readonly backup: KeyBackup;
  /** call authentications waiting for their SDP (call.ts) */
  readonly calls = new CallInbox();

  private constructor(
    private readonly machine: OlmMachine,
    private readonly args: StartArgs,
    private readonly emit: (e: Event) => void,
  ) {
    this.http = new MatrixHttp(args.token);
    this.backup = new KeyBackup(machine, this.http, (req) => this.send(req));
  }

  static async start(args: StartArgs, emit: (e: Event) => void): Promise<Engine> {
    await initAsync();
    // the store's passphrase: random, sealed by the non-extractable vault key (vault.ts)
    const passphrase = await secret(`store-passphrase:${args.deviceId}`);
    const machine = await OlmMachine.initialize(
      new UserId(args.matrixUserId),
      new DeviceId(args.deviceId),
      storeName(args.deviceId),
      passphrase,
    );
    const engine = new Engine(machine, args, emit);
    engine.since = (await idb.get<string>(`since:${args.deviceId}`)) ?? null;
    engine.book = await ReceiptBook.load(args.deviceId);
    engine.unreadBook = await UnreadBook.load(
      args.deviceId,
      {
        page: (roomId, from, limit) => engine.page(roomId, from, limit),
        ownReceipt: (roomId) => engine.receipts(roomId).find((r) => r.own) ?? null,
      },
      (roomId, count) => emit({ event: "unread", roomId, count }),
    );
    await engine.processOutgoing(); // the device's keys are uploaded before anything else
    void engine.syncLoop();
    return engine;
  }

  get core(): EngineCore {
    return {
      machine: this.machine,
      http: this.http,
      userId: this.args.matrixUserId,
      send: (req) => this.send(req),
      processOutgoing: () => this.processOutgoing(),
      locked: (task) => this.outgoing.run(task),
    };
  }

  // -- the request loop ----------------------------------------------------------------

  private async sendRequest(req: Outgoing): Promise<string> {
    const body = req.body;
    switch (req.type) {
      case RequestType.KeysUpload:
        return JSON.stringify(await this.http.call("POST", `${V3}/keys/upload`, body));
      case RequestType.KeysQuery:
        return JSON.stringify(await this.http.call("POST", `${V3}/keys/query`, body));
      case RequestType.KeysClaim:
        return JSON.stringify(await this.http.call("POST", `${V3}/keys/claim`, body));
      case RequestType.ToDevice: {
        const r = req as ToDeviceRequest;
        return JSON.stringify(
          await this.http.call("PUT", `${V3}/sendToDevice/${enc(r.event_type)}/${enc(r.txn_id)}`, body),
        );
      }
      case RequestType.SignatureUpload:
        return JSON.stringify(await this.http.call("POST", `${V3}/keys/signatures/upload`, body));
      case RequestType.KeysBackup: {
        const r = req as KeysBackupRequest;
        return JSON.stringify(
          await this.http.call("PUT", `${V3}/room_keys/keys?version=${enc(r.version)}`, body),
        );
      }
      default:
        throw new Error(`unexpected request type ${String(req.type)}`);
    }
  }

  private async send(req: Outgoing): Promise<void> {
    const response = await this.sendRequest(req);
    if (req.id) await this.machine.markRequestAsSent(req.id, req.type, response);
  }

  processOutgoing(): Promise<void> {
    return this.outgoing.run(async () => {
      for (let round = 0; round < 10; round++) {
        const requests = (await this.machine.outgoingRequests()) as Outgoing[];
        if (requests.length === 0) break;
        for (const req of requests) await this.send(req);
      }
      await this.backup.upload(); // new room keys to the key backup, when there is one
    });
  }

  /** Make the key backup with the recovery key the parent typed back (backup.ts). */
  commitBackup(recoveryKey: string): Promise<{ version: string }> {
    return this.outgoing.run(() => this.backup.commit(recoveryKey));
  }

  /** Restore from the key backup; the open threads of its rooms read their history again. */
  async restoreBackup(recoveryKey: string): Promise<{ imported: number; total: number; rooms: string[] }> {
    const out = await this.outgoing.run(() => this.backup.restore(recoveryKey));
    for (const roomId of out.rooms) this.emit({ event: "gap", roomId });
    return out;
  }

  // -- sync ----------------------------------------------------------------------------

  private async syncLoop(): Promise<void> {
    let backoff = 500;
    while (this.running) {
      try {
        await this.syncOnce(this.since === null ? 0 : SYNC_TIMEOUT_MS);
        backoff = 500;
        this.emit({ event: "status", state: "syncing" });
      } catch (e) {
        if (!this.running) return;
        if (e instanceof HttpError && (e.status === 401 || e.code === "session_invalid")) {
          this.running = false;
          this.emit({ event: "status", state: "signedOut" });
          return;
        }
        this.emit({ event: "status", state: "offline" });
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, 15_000);
      }
    }
  }

  private async syncOnce(timeout: number): Promise<void> {
    const params = new URLSearchParams({ timeout: String(timeout) });
    if (this.since !== null) params.set("since", this.since);
    const body = await this.http.call<SyncBody>("GET", `${V3}/sync?${params}`, undefined, this.abort.signal);
    const processed = await this.machine.receiveSyncChanges(
      JSON.stringify(body.to_device?.events ?? []),
      new DeviceLists(
        (body.device_lists?.changed ?? []).map((u) => new UserId(u)),
        (body.device_lists?.left ?? []).map((u) => new UserId(u)),
      ),
      new Map(Object.entries(body.device_one_time_keys_count ?? {})),
      new Set(body.device_unused_fallback_key_types ?? []),
      new DecryptionSettings(TrustRequirement.Untrusted),
    );
    this.calls.take(processed);
    await this.processOutgoing();
    for (const [roomId, room] of Object.entries(body.rooms?.join ?? {})) {
      const events = await this.takeReceipts(roomId, await this.decryptAll(roomId, room.timeline?.events ?? []));
      if (events.length) this.emit({ event: "timeline", roomId, events });
      await this.unreadBook?.arrived(roomId, events);
      if (room.timeline?.limited) {
        if (this.since !== null) this.emit({ event: "gap", roomId });
        void this.unreadBook?.gap(roomId); // counted again from the history
      }
    }
    this.since = body.next_batch;
    await idb.put(`since:${this.args.deviceId}`, body.next_batch);
  }

  // -- rooms ---------------------------------------------------------------------------

  private async decryptAll(roomId: string, raw: RawEvent[]): Promise<TimelineEvent[]> {
    const out: TimelineEvent[] = [];
    for (const event of raw) {
      if (event.type !== "m.room.encrypted") continue;
      this.sentTs.set(event.event_id, event.origin_server_ts);
      out.push(await this.decrypt(roomId, event));
    }
    if (this.sentTs.size > SENT_TS_KEPT) this.sentTs.clear();
    return out;
  }

  /** The read receipts (receipts.ts) among decrypted events: those that move a member's
   * forward are kept and told to the page (``receipts``); the events returned as they
   * were (a receipt is a record the thread does not show). */
  private async takeReceipts(roomId: string, events: TimelineEvent[]): Promise<TimelineEvent[]> {
    const found: Receipt[] = [];
    for (const e of events) {
      const eventId = receiptTarget(e);
      const at = eventId === null ? null : await this.sentAt(roomId, eventId);
      if (eventId !== null && at !== null) {
        found.push({ userId: e.sender, eventId, ts: e.ts, at, own: e.own });
      }
    }
    const moved = found.length && this.book ? await this.book.add(roomId, found) : [];
    if (moved.length) this.emit({ event: "receipts", roomId, receipts: moved });
    if (moved.some((r) => r.own)) await this.unreadBook?.arrived(roomId, []); // read further
    return events; // (the thread shows no Kaari record, receipts included)
  }

  /** When an event of the room was sent (``origin_server_ts``); null if the room has no
   * such event. */
  private async sentAt(roomId: string, eventId: string): Promise<number | null> {
    const known = this.sentTs.get(eventId);
    if (known !== undefined) return known;
    try {
      const event = await this.http.call<RawEvent>("GET", `${V3}/rooms/${enc(roomId)}/event/${enc(eventId)}`);
      return event.event_id === eventId && typeof event.origin_server_ts === "number" ? event.origin_server_ts : null;
    } catch (e) {
      if (e instanceof HttpError && e.status === 404) return null;
      throw e;
    }
  }

  private async decrypt(roomId: string, event: RawEvent): Promise<TimelineEvent> {
    const base: TimelineEvent = {
      eventId: event.event_id,
      roomId,
      sender: event.sender,
      senderDevice: null,
      ts: event.origin_server_ts,
      own: event.sender === this.args.matrixUserId,
      body: null,
      msgtype: null,
      txnId: event.unsigned?.transaction_id ?? null,
    };
    try {
      const d = await this.machine.decryptRoomEvent(
        JSON.stringify(event),
        new RoomId(roomId),
        new DecryptionSettings(TrustRequirement.Untrusted),
      );
      const clear = JSON.parse(d.event) as { type?: string; content?: Record<string, unknown> };
      const content = clear.content ?? {};
      return {
        ...base,
        senderDevice: d.senderDevice?.toString() ?? null,
        body: clear.type === "m.room.message" && typeof content["body"] === "string" ? content["body"] : null,
        msgtype: typeof content["msgtype"] === "string" ? content["msgtype"] : null,
        ...(typeof clear.type === "string" ? { clearType: clear.type } : {}),
        ...(clear.type === READ_EVENT ? { readUpTo: content["event_id"] } : {}),
        ...(clear.type === "m.room.message" && content["msgtype"] === "m.file" ? { file: content["kaari.attachment"] } : {}),
      };
    } catch {
      return base; // unreadable here (no key): shown as such, never as an error
    }
  }

  async history(roomId: string, limit: number): Promise<TimelineEvent[]> {
    return (await this.page(roomId, null, limit)).events;
  }

  /** A page of the room's history back from ``from`` (the newest event when null),
   * decrypted, oldest first; ``end``: the older page's token (null: the room's start). */
  async page(roomId: string, from: string | null, limit: number): Promise<{ events: TimelineEvent[]; end: string | null }> {
    const params = new URLSearchParams({ dir: "b", limit: String(Math.min(limit, 100)) });
    if (from !== null) params.set("from", from);
    const page = await this.http.call<{ chunk: RawEvent[]; end?: string }>(
      "GET",
      `${V3}/rooms/${enc(roomId)}/messages?${params}`,
    );
    const events = await this.takeReceipts(roomId, await this.decryptAll(roomId, [...page.chunk].reverse()));
    return { events, end: typeof page.end === "string" ? page.end : null };
  }

  /** Each room's unread count (unread.ts; null: the room cannot be read). */
  unread(roomIds: readonly string[]): Promise<Record<string, number | null>> {
    return this.unreadBook ? this.unreadBook.of(roomIds) : Promise.resolve({});
  }

  /** Encrypt and send a text; through Kaari's device-set check: on 409 the members'
   * keys are queried again, the session shared with the new devices, and the event
   * encrypted and sent again under a new transaction id. */
  sendText(roomId: string, text: string, localId: string): Promise<string> {
    return this.sendEvent(roomId, "m.room.message", { msgtype: "m.text", body: text }, localId);
  }

  /** Encrypt and send any room event (``m.room.encrypted`` on the wire, ``type``
   * inside), the same way as a text. */
  sendEvent(roomId: string, type: string, clear: Record<string, unknown>, localId: string): Promise<string> {
    return this.sending.run(async () => {
      const content = JSON.stringify(clear);
      for (let attempt = 0; attempt < SEND_ATTEMPTS; attempt++) {
        const epoch = await this.prepareRoom(roomId);
        const encrypted = await this.machine.encryptRoomEvent(new RoomId(roomId), type, content);
        const txn = `${localId}.${attempt}`;
        try {
          const answer = await this.http.call<{ event_id: string }>(
            "PUT",
            // only a message is a "new message" notice; Kaari's own content events
            // (details, notes, homework, documents) have their own notices
            `${V3}/rooms/${enc(roomId)}/send/m.room.encrypted/${enc(txn)}?kaari_device_epoch=${enc(epoch)}` +
              (type === "m.room.message" ? "" : "&kaari_notify=0"),
            encrypted,
          );
          this.sentEpoch.set(roomId, epoch);
          return answer.event_id;
        } catch (e) {
          if (e instanceof HttpError && e.status === 409 && e.code === "device_set_changed") {
            this.sentEpoch.delete(roomId); // re-query every member's keys next round
            continue;
          }
          throw e;
        }
      }
      throw new HttpError(409, "device_set_changed", {});
    });
  }

  /** Members and device epoch (read first), then keys, Olm sessions and the room key
   * shared with every device of every member; the epoch to send with. */
  private async prepareRoom(roomId: string): Promise<string> {
    const state = await this.http.call<{ joined: Record<string, unknown>; "kaari.device_epoch": string }>(
      "GET",
      `${V3}/rooms/${enc(roomId)}/joined_members`,
    );
    const epoch = state["kaari.device_epoch"];
    // a list of UserId is handed over (freed) by each call: a new one every time
    const ids = Object.keys(state.joined);
    const members = () => ids.map((u) => new UserId(u));
    await this.machine.updateTrackedUsers(members());
    if (this.sentEpoch.get(roomId) !== epoch) await this.machine.markAllTrackedUsersAsDirty();
    await this.processOutgoing(); // the keys query
    await this.outgoing.run(async () => {
      const claim = await this.machine.getMissingSessions(members());
      if (claim) await this.send(claim);
      const shares = await this.machine.shareRoomKey(new RoomId(roomId), members(), new EncryptionSettings());
      for (const req of shares) await this.send(req);
    });
    return epoch;
  }

  /** One event by id (``rooms/{roomId}/event/{eventId}``), decrypted; null when this
   * device has no key for it (yet). */
  async readEvent(roomId: string, eventId: string): Promise<ClearEvent | null> {
    const event = await this.http.call<RawEvent>("GET", `${V3}/rooms/${enc(roomId)}/event/${enc(eventId)}`);
    if (event.event_id !== eventId || event.type !== "m.room.encrypted") return null;
    try {
      const d = await this.machine.decryptRoomEvent(
        JSON.stringify(event),
        new RoomId(roomId),
        new DecryptionSettings(TrustRequirement.Untrusted),
      );
      const clear = JSON.parse(d.event) as { type?: unknown; content?: unknown };
      if (typeof clear.type !== "string" || typeof clear.content !== "object" || clear.content === null) return null;
      return {
        type: clear.type,
        sender: event.sender,
        senderDevice: d.senderDevice?.toString() ?? null,
        content: clear.content as Record<string, unknown>,
      };
    } catch {
      return null;
    }
  }

  async deliveries(roomId: string, eventId: string): Promise<{ delivered: number; recipients: number }> {
    const answer = await this.http.call<{ recipients: number; delivered: unknown[] }>(
      "GET",
      `${V3}/rooms/${enc(roomId)}/kaari.deliveries/${enc(eventId)}`,
    );
    return { delivered: answer.delivered.length, recipients: answer.recipients };
  }

  /** Tell the room's members, encrypted, that this user has read it up to ``eventId``
   * (an ``org.kaari.read`` event through the ordinary send; no "new message" notice). */
  async readReceipt(roomId: string, eventId: string): Promise<void> {
    await this.sendEvent(roomId, READ_EVENT, { event_id: eventId }, `read-${globalThis.crypto.randomUUID()}`);
  }

  /** The room's members' latest read receipts, as sync last said. */
  receipts(roomId: string): Receipt[] {
    return this.book?.of(roomId) ?? [];
  }

  /** Stop syncing and close the machine; with ``wipe``, delete this device's crypto
   * store and its sealed passphrase (a signed-out device takes nothing with it). */
  async stop(wipe: boolean): Promise<void> {
    this.running = false;
    this.abort.abort();
    await this.sending.run(async () => undefined);
    await this.outgoing.run(async () => undefined);
    this.machine.close();
    if (wipe) {
      await idb.dropDatabases(storeName(this.args.deviceId));
      await idb.del(`since:${this.args.deviceId}`);
      await this.book?.wipe();
      await this.unreadBook?.wipe();
      await forget(`store-passphrase:${this.args.deviceId}`);
    }
  }
}
