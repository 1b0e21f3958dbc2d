// The live notices of Kaari's WebSocket (docs/realtime.md): one socket per signed-in tab,
// opened with a single-use ticket (POST /ws/ticket with the bearer token; the token itself
// never goes in a URL), answered heartbeats, reconnects with backoff and jitter, and a
// tiny typed hub that screens subscribe to. The events are hints (names and ids, never
// content): the state they point at is read over HTTP. Messages are not here: the crypto
// worker's /sync carries them (crypto/engine.ts).

import { ApiError, request } from "./api";

/** The live events a screen may listen to and their ids (docs/realtime.md, "Live events"). */
export interface LiveEvents {
  appointment_scheduled: { appointmentId: string; caseId: string; seriesId?: string };
  appointment_rescheduled: { appointmentId: string; caseId: string; seriesId?: string };
  appointment_cancelled: { appointmentId: string; caseId: string; cancellationId: string };
  cancellation_seen: { cancellationId: string; appointmentId: string };
  homework_assigned: { taskId: string; caseId: string };
  homework_changed: { taskId: string; caseId: string };
  homework_ticked: { taskId: string; caseId: string; day: string };
  homework_unticked: { taskId: string; caseId: string; day: string };
  homework_sick_day: { caseId: string; day: string };
  room_event_delivered: { roomId: string; eventId: string; deviceId: string };
  device_list_changed: { userId: string };
  document_shared: { caseId: string; documentId: string; versionId: string; kind: string };
  document_changed: { caseId: string; documentId: string; versionId: string; kind: string };
  document_opened: { caseId: string; documentId: string; versionId: string; userId: string };
  document_requested: { caseId: string; requestId: string; kind: string };
  document_request_closed: { caseId: string; requestId: string; status: string; versionId?: string };
}

export type LiveName = keyof LiveEvents;

/** connecting: the first socket is on its way; open: past `hello`; down: it closed or
 * could not open, and the next attempts are on their way (the state stays "down" until
 * one is open); ended: the device was signed out (4403) or the hub was stopped. */
export type LiveState = "connecting" | "open" | "down" | "ended";

/** While the socket is not open, screens ask the server again this often. */
export const FALLBACK_POLL_MS = 45_000;

const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 30_000;
/** after 4029 (too many frames or sockets) the next attempt waits at least this long */
const CROWDED_MS = 30_000;
/** nothing heard for this long: ping; no answer within PONG_MS: reconnect */
const QUIET_MS = 60_000;
const PONG_MS = 10_000;

// close codes (docs/realtime.md, "Close codes")
const REVOKED = 4403;
const CROWDED = 4029;

interface Frame {
  type: string;
  event?: unknown;
  ids?: unknown;
  heartbeatSeconds?: unknown;
}

type Listener = (ids: Record<string, string>) => void;

function isIds(x: unknown): x is Record<string, string> {
  return typeof x === "object" && x !== null && Object.values(x).every((v) => typeof v === "string");
}

export class LiveHub {
  private socket: WebSocket | null = null;
  private token: string | null = null;
  private attempt = 0;
  /** the attempt asking for a ticket now: no second one meanwhile (an `online` event) */
  private asking: object | null = null;
  private retry: ReturnType<typeof setTimeout> | undefined;
  private quiet: ReturnType<typeof setTimeout> | undefined;
  private listeners = new Map<string, Set<Listener>>();
  private resyncs = new Set<() => void>();
  private states = new Set<(s: LiveState) => void>();
  private current: LiveState = "ended";

  get state(): LiveState {
    return this.current;
  }

  /** Open the tab's socket for this device (again after a stop). */
  start(token: string): void {
    if (this.token === token && this.current !== "ended") return;
    this.stop();
    this.token = token;
    this.attempt = 0;
    addEventListener("online", this.onOnline);
    void this.connect();
  }

  /** Close the socket and stop reconnecting (signing out). */
  stop(): void {
    this.token = null;
    this.asking = null;
    removeEventListener("online", this.onOnline);
    clearTimeout(this.retry);
    clearTimeout(this.quiet);
    const s = this.socket;
    this.socket = null;
    if (s) s.close(1000);
    this.setState("ended");
  }

  /** Call `fn` with the ids of each `name` event; returns the unsubscribe. */
  on<N extends LiveName>(name: N, fn: (ids: LiveEvents[N]) => void): () => void {
    const set = this.listeners.get(name) ?? new Set<Listener>();
    this.listeners.set(name, set);
    const listener = fn as unknown as Listener;
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Call `fn` whenever events may have been missed (the socket (re)opened, or the
   * server's bus said so with `wake`): re-read the state over HTTP. */
  onResync(fn: () => void): () => void {
    this.resyncs.add(fn);
    return () => this.resyncs.delete(fn);
  }

  onState(fn: (s: LiveState) => void): () => void {
    this.states.add(fn);
    return () => this.states.delete(fn);
  }

  private onOnline = (): void => {
    if (this.current !== "down") return;
    clearTimeout(this.retry);
    void this.connect();
  };

  private setState(s: LiveState): void {
    if (s === this.current) return;
    this.current = s;
    for (const fn of [...this.states]) fn(s);
  }

  private async connect(): Promise<void> {
    const token = this.token;
    if (!token || this.asking || this.socket) return;
    if (this.current !== "down") this.setState("connecting"); // a retry stays "down"
    let ticket: string;
    const attempt = {};
    this.asking = attempt;
    try {
      ticket = (await request<{ ticket: string; expiresIn: number }>("POST", "/ws/ticket", token)).ticket;
    } catch (x) {
      if (this.asking !== attempt) return; // stopped meanwhile
      this.asking = null;
      if (this.token !== token) return;
      if (x instanceof ApiError && x.status === 401) {
        this.stop(); // signed out: the crypto worker's sync says so to the app
        return;
      }
      const pause = x instanceof ApiError && x.retryAfter ? x.retryAfter * 1000 : 0;
      this.later(pause);
      return;
    }
    if (this.asking !== attempt) return;
    this.asking = null;
    if (this.token !== token) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws?ticket=${encodeURIComponent(ticket)}`);
    this.socket = socket;
    socket.onmessage = (m) => {
      if (this.socket === socket) this.receive(socket, m.data);
    };
    socket.onclose = (c) => {
      if (this.socket !== socket) return;
      this.socket = null;
      clearTimeout(this.quiet);
      if (c.code === REVOKED) this.stop();
      else this.later(c.code === CROWDED ? CROWDED_MS : 0);
    };
  }

  /** The next attempt, after an exponential, jittered backoff (0.5 s doubling to 30 s). */
  private later(atLeast: number): void {
    if (!this.token) return;
    this.setState("down");
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** this.attempt);
    this.attempt += 1;
    const wait = Math.max(atLeast, base / 2 + Math.random() * (base / 2));
    clearTimeout(this.retry);
    this.retry = setTimeout(() => void this.connect(), wait);
  }

  /** Heard something: the next check is QUIET_MS from now. */
  private heard(socket: WebSocket): void {
    clearTimeout(this.quiet);
    this.quiet = setTimeout(() => {
      if (this.socket !== socket) return;
      socket.send(JSON.stringify({ type: "ping" }));
      this.quiet = setTimeout(() => {
        if (this.socket === socket) socket.close(4000); // no pong: onclose reconnects
      }, PONG_MS);
    }, QUIET_MS);
  }

  private receive(socket: WebSocket, data: unknown): void {
    this.heard(socket);
    if (typeof data !== "string") return;
    let frame: Frame;
    try {
      frame = JSON.parse(data) as Frame;
    } catch {
      return;
    }
    if (frame.type === "ping") socket.send(JSON.stringify({ type: "pong" }));
    else if (frame.type === "hello") {
      this.attempt = 0;
      this.setState("open");
      this.resync();
    } else if (frame.type === "wake") this.resync();
    else if (frame.type === "event" && typeof frame.event === "string" && isIds(frame.ids)) {
      const ids = frame.ids;
      for (const fn of [...(this.listeners.get(frame.event) ?? [])]) fn(ids);
    }
  }

  private resync(): void {
    for (const fn of [...this.resyncs]) fn();
  }
}
