// The device's WebSocket for calls (docs/realtime.md): a one-time ticket from
// POST /ws/ticket (the session token never goes in a URL), then /ws?ticket=…; the first
// frame is hello. Answers the server's pings, pings when it hears nothing, and opens a
// new socket after a drop (the room's seat waits for it within its grace period).

import { request } from "../api";

export type Frame = { type: string } & Record<string, unknown>;

const SILENCE_MS = 45_000;

export class CallSocket {
  private ws: WebSocket | null = null;
  private closed = false;
  private retry = 500;
  private heard = Date.now();
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(
    private readonly token: string,
    private readonly onFrame: (f: Frame) => void,
    private readonly onOpen: () => void,
    private readonly onDown: () => void,
  ) {}

  start(): void {
    this.closed = false;
    void this.open();
    this.timer = setInterval(() => {
      if (Date.now() - this.heard > SILENCE_MS) this.send({ type: "ping" });
    }, 15_000);
  }

  private async open(): Promise<void> {
    if (this.closed) return;
    let ticket: string;
    try {
      ticket = (await request<{ ticket: string }>("POST", "/ws/ticket", this.token)).ticket;
    } catch {
      this.again();
      return;
    }
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/ws?ticket=${encodeURIComponent(ticket)}`);
    this.ws = ws;
    ws.onmessage = (e: MessageEvent<string>) => {
      this.heard = Date.now();
      let frame: Frame;
      try {
        frame = JSON.parse(e.data) as Frame;
      } catch {
        return;
      }
      if (frame.type === "ping") this.send({ type: "pong" });
      else if (frame.type === "hello") {
        this.retry = 500;
        this.onOpen();
      } else this.onFrame(frame);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (!this.closed) {
        this.onDown();
        this.again();
      }
    };
  }

  private again(): void {
    if (this.closed) return;
    setTimeout(() => void this.open(), this.retry);
    this.retry = Math.min(this.retry * 2, 8000);
  }

  send(frame: Frame): boolean {
    if (this.ws?.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.ws?.close();
    this.ws = null;
  }
}
