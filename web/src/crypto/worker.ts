// The crypto worker: owns this device's one OlmMachine (engine.ts). The page that holds
// the "kaari-crypto" Web Lock starts it (client.ts); requests and replies follow
// protocol.ts.

import { DeviceId, UserId } from "@matrix-org/matrix-sdk-crypto-wasm";

import { Engine } from "./engine";
import { HttpError } from "./http";
import { authenticateCallSdp, authenticateVouchedSdp, sendCallSdp, sendCallVouch } from "./call";
import { ensureCrossSigning, verifiedUsers, verifyInviter } from "./verify";
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
    case "unread":
      return { counts: await need().unread(msg.roomIds) };
    case "verifyInviter":
      return verifyInviter(need().core, msg.inviter, msg.masterKey);
    case "verifiedUsers":
      return { users: await verifiedUsers(need().core, msg.users) };
    case "callPrepare":
      return { crossSigned: await callPrepare() };
    case "callSend":
      await sendCallSdp(need().core, msg.call);
      return { sent: true };
    case "callCheck":
      await authenticateCallSdp(need().core, need().calls, msg.call, msg.waitMs);
      return { authenticated: true };
    case "callVouch":
      await sendCallVouch(need().core, msg.vouch);
      return { sent: true };
    case "callCheckVouched":
      await authenticateVouchedSdp(need().core, need().calls, msg.call, msg.vouchers, msg.waitMs);
      return { authenticated: true };
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

/** A peer accepts this device's SDPs only when it is cross-signed by its owner: make the
 * user's cross-signing keys when there are none yet; true when the device is signed. */
async function callPrepare(): Promise<boolean> {
  const core = need().core;
  try {
    await ensureCrossSigning(core);
  } catch (e) {
    // another device of the user holds the keys: this one is signed there, or not at all
    if (!(e instanceof HttpError && e.code === "cross_signing_elsewhere")) throw e;
  }
  const signed = async () => {
    const own = await core.machine.getDevice(new UserId(core.userId), new DeviceId(core.machine.deviceId.toString()));
    return own?.isCrossSignedByOwner() ?? false;
  };
  if (await signed()) return true;
  // the store may not know the signature uploaded a moment ago: ask the server
  await core.machine.updateTrackedUsers([new UserId(core.userId)]);
  await core.machine.markAllTrackedUsersAsDirty();
  await core.processOutgoing();
  return signed();
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
