// The page's side of the crypto worker. Only one tab runs the device's OlmMachine: the
// one holding the "kaari-crypto" Web Lock (navigator.locks). Another tab is told so
// (the app says "open in another tab") and waits in the lock's queue: when the owner
// closes, it takes over by itself. (Talking to the owner's worker over a
// BroadcastChannel, so that every tab works at once, is a later step: docs/web.md.)

import type { Event, Reply, Replies, Request, RequestOf, StartArgs } from "./protocol";

const LOCK = "kaari-crypto";

type Pending = { resolve: (v: unknown) => void; reject: (e: CryptoError) => void };

export class CryptoError extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

export class CryptoClient {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Set<(e: Event) => void>();
  private release: (() => void) | null = null;

  /** Take the lock and start the worker: "owner"; or "elsewhere" when another tab has
   * it, after which ``onOwner`` runs once this tab gets it. */
  async acquire(onOwner: () => void): Promise<"owner" | "elsewhere"> {
    if (!("locks" in navigator)) {
      this.spawn();
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
    void navigator.locks.request(LOCK, () => {
      onOwner();
      return this.hold();
    });
    return "elsewhere";
  }

  private hold(): Promise<void> {
    this.spawn();
    return new Promise<void>((resolve) => {
      this.release = resolve;
    });
  }

  private spawn(): void {
    if (this.worker) return;
    this.worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module", name: "kaari-crypto" });
    this.worker.onmessage = (e: MessageEvent<Reply | Event>) => this.receive(e.data);
    this.worker.onerror = () => {
      for (const p of this.pending.values()) p.reject(new CryptoError("crypto_failed"));
      this.pending.clear();
    };
  }

  private receive(message: Reply | Event): void {
    if ("event" in message) {
      for (const listen of this.listeners) listen(message);
      return;
    }
    const waiting = this.pending.get(message.id);
    if (!waiting) return;
    this.pending.delete(message.id);
    if (message.ok) waiting.resolve(message.result);
    else waiting.reject(new CryptoError(message.code));
  }

  call<K extends Request["op"]>(request: RequestOf<K>): Promise<Replies[K]> {
    const worker = this.worker;
    if (!worker) return Promise.reject(new CryptoError("crypto_failed"));
    const id = this.nextId++;
    return new Promise<Replies[K]>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      worker.postMessage({ id, ...request });
    });
  }

  start(args: StartArgs): Promise<Replies["start"]> {
    return this.call<"start">({ op: "start", args });
  }

  subscribe(listen: (e: Event) => void): () => void {
    this.listeners.add(listen);
    return () => this.listeners.delete(listen);
  }

  /** Sign the device out: the worker deletes its crypto store; the lock is released. */
  async signOut(): Promise<void> {
    if (this.worker) await this.call<"signOut">({ op: "signOut" });
  }
}
