// The page's side of the crypto worker. Only one tab runs the device's OlmMachine: the
// one holding the "kaari-crypto" Web Lock (navigator.locks), which starts the worker.
// Every other tab of the app talks to that worker through the owner, over the
// BroadcastChannel "kaari-crypto": its requests are relayed to the worker and the
// answers and events back. A tab that is not the owner waits in the lock's queue and,
// when the owner closes, starts its own worker (the app then restarts the device).

import type { Event, Reply, Replies, Request, RequestOf, StartArgs } from "./protocol";

const LOCK = "kaari-crypto";
const CHANNEL = "kaari-crypto";

type Pending = { resolve: (v: unknown) => void; reject: (e: CryptoError) => void };

/** What goes over the channel between tabs. */
type Relay =
  | { kind: "request"; tab: string; id: number; request: Request }
  | { kind: "reply"; tab: string; reply: Reply }
  | { kind: "event"; event: Event };

export class CryptoError extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

export class CryptoClient {
  private worker: Worker | null = null;
  private channel: BroadcastChannel | null = null;
  private readonly tab = crypto.randomUUID();
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Set<(e: Event) => void>();
  /** "owner": this tab's worker; "relay": the owner tab's, over the channel */
  private mode: "owner" | "relay" | "none" = "none";

  /** Take the lock and start the worker ("owner"), or use the owner tab's ("relay");
   * ``onOwner`` runs if this tab later becomes the owner. */
  async acquire(onOwner: () => void): Promise<"owner" | "relay"> {
    if (!("locks" in navigator) || typeof BroadcastChannel === "undefined") {
      this.own();
      return "owner";
    }
    const got = await new Promise<boolean>((answer) => {
      void navigator.locks.request(LOCK, { ifAvailable: true }, (lock) => {
        if (!lock) {
          answer(false);
          return undefined;
        }
        answer(true);
        return this.hold();
      });
    });
    if (got) return "owner";
    this.relay();
    void navigator.locks.request(LOCK, () => {
      const waiting = this.takePending();
      this.own();
      for (const p of waiting) p.reject(new CryptoError("crypto_failed"));
      onOwner();
      return this.hold(false);
    });
    return "relay";
  }

  private hold(spawn = true): Promise<void> {
    if (spawn) this.own();
    return new Promise<void>(() => undefined); // held until the tab closes
  }

  private takePending(): Pending[] {
    const all = [...this.pending.values()];
    this.pending.clear();
    return all;
  }

  private own(): void {
    if (this.mode === "owner") return;
    this.mode = "owner";
    this.channel?.close();
    this.worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module", name: "kaari-crypto" });
    this.worker.onmessage = (e: MessageEvent<Reply | Event>) => this.fromWorker(e.data);
    this.worker.onerror = () => {
      for (const p of this.takePending()) p.reject(new CryptoError("crypto_failed"));
    };
    // serve the other tabs
    const channel = typeof BroadcastChannel === "undefined" ? null : new BroadcastChannel(CHANNEL);
    this.channel = channel;
    if (channel) {
      channel.onmessage = (e: MessageEvent<Relay>) => {
        const msg = e.data;
        if (msg.kind !== "request") return;
        this.toWorker(msg.request).then(
          (result) => channel.postMessage({ kind: "reply", tab: msg.tab, reply: { id: msg.id, ok: true, result: result as Replies[keyof Replies] } } satisfies Relay),
          (err: unknown) => {
            const code = err instanceof CryptoError ? err.code : "crypto_failed";
            channel.postMessage({ kind: "reply", tab: msg.tab, reply: { id: msg.id, ok: false, code } } satisfies Relay);
          },
        );
      };
    }
  }

  private relay(): void {
    this.mode = "relay";
    const channel = new BroadcastChannel(CHANNEL);
    this.channel = channel;
    channel.onmessage = (e: MessageEvent<Relay>) => {
      const msg = e.data;
      if (msg.kind === "event") this.emit(msg.event);
      else if (msg.kind === "reply" && msg.tab === this.tab) this.settle(msg.reply);
    };
  }

  private fromWorker(message: Reply | Event): void {
    if ("event" in message) {
      this.emit(message);
      this.channel?.postMessage({ kind: "event", event: message } satisfies Relay);
    } else this.settle(message);
  }

  private emit(event: Event): void {
    for (const listen of this.listeners) listen(event);
  }

  private settle(reply: Reply): void {
    const waiting = this.pending.get(reply.id);
    if (!waiting) return;
    this.pending.delete(reply.id);
    if (reply.ok) waiting.resolve(reply.result);
    else waiting.reject(new CryptoError(reply.code));
  }

  private toWorker(request: Request): Promise<unknown> {
    const worker = this.worker;
    if (!worker) return Promise.reject(new CryptoError("crypto_failed"));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, ...request });
    });
  }

  call<K extends Request["op"]>(request: RequestOf<K>): Promise<Replies[K]> {
    if (this.mode === "owner") return this.toWorker(request) as Promise<Replies[K]>;
    const channel = this.channel;
    if (this.mode !== "relay" || !channel) return Promise.reject(new CryptoError("crypto_failed"));
    const id = this.nextId++;
    return new Promise<Replies[K]>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      channel.postMessage({ kind: "request", tab: this.tab, id, request } satisfies Relay);
    });
  }

  start(args: StartArgs): Promise<Replies["start"]> {
    return this.call<"start">({ op: "start", args });
  }

  subscribe(listen: (e: Event) => void): () => void {
    this.listeners.add(listen);
    return () => this.listeners.delete(listen);
  }

  /** Sign the device out: the worker deletes its crypto store (and tells every tab). */
  async signOut(): Promise<void> {
    if (this.mode !== "none") await this.call<"signOut">({ op: "signOut" });
  }
}
