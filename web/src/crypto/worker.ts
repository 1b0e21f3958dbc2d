// The crypto worker: owns this device's one OlmMachine (engine.ts). The page that holds
// the "kaari-crypto" Web Lock starts it (client.ts); requests and replies follow
// protocol.ts.

import { Engine } from "./engine";
import { HttpError } from "./http";
import { verifiedUsers, verifyInviter } from "./verify";
import type { Envelope, Event, Replies, Reply } from "./protocol";

declare const self: DedicatedWorkerGlobalScope;

let engine: Engine | null = null;

function post(message: Reply | Event): void {
  self.postMessage(message);
}

function need(): Engine {
  if (!engine) throw new HttpError(0, "crypto_failed", {});
  return engine;
}

async function handle(msg: Envelope): Promise<Replies[keyof Replies]> {
  switch (msg.op) {
    case "start":
      if (!engine) engine = await Engine.start(msg.args, post);
      return { ready: true };
    case "history":
      return { events: await need().history(msg.roomId, msg.limit) };
    case "sendText":
      return { eventId: await need().sendText(msg.roomId, msg.text, msg.localId) };
    case "sendEvent":
      return { eventId: await need().sendEvent(msg.roomId, msg.type, msg.content, msg.localId) };
    case "readEvent":
      return { event: await need().readEvent(msg.roomId, msg.eventId) };
    case "deliveries":
      return need().deliveries(msg.roomId, msg.eventId);
    case "readReceipt":
      await need().readReceipt(msg.roomId, msg.eventId);
      return { done: true };
    case "receipts":
      return { receipts: need().receipts(msg.roomId) };
    case "verifyInviter":
      return verifyInviter(need().core, msg.inviter, msg.masterKey);
    case "verifiedUsers":
      return { users: await verifiedUsers(need().core, msg.users) };
    case "signOut":
      if (engine) {
        await engine.stop(true);
        engine = null;
        post({ event: "status", state: "signedOut" }); // every tab leaves the account
      }
      return { done: true };
    case "backupStatus":
      return need().backup.status();
    case "backupPrepare":
      return { recoveryKey: need().backup.prepare() };
    case "backupCommit":
      return need().commitBackup(msg.recoveryKey);
    case "backupRestore":
      return need().restoreBackup(msg.recoveryKey);
  }
}

self.onmessage = (e: MessageEvent<Envelope>) => {
  const msg = e.data;
  handle(msg).then(
    (result) => post({ id: msg.id, ok: true, result }),
    (err: unknown) => {
      const code = err instanceof HttpError ? err.code : "crypto_failed";
      // never the error's text: it may quote content or keys
      post({ id: msg.id, ok: false, code });
    },
  );
};
