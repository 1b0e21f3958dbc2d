// Call offers and answers authenticated end to end by this device (docs/signaling.md,
// "Authenticated offers and answers"; the format is crypto/matrix/call.py's): before an
// SDP goes to the relay, an Olm-encrypted to-device event org.kaari.call.sdp
// {call_id, kind, sdp_sha256, fingerprints} goes to the one peer device it is for; the
// receiver applies an SDP only when such an event, decrypted by its OlmMachine, comes
// from the seat's user and device, that device is cross-signed by its owner, and the
// content names this call, this kind, the SHA-256 of exactly this SDP and exactly its
// a=fingerprint: lines. Each authentication is used once. Runs in the crypto worker.

import {
  DecryptedToDeviceEvent,
  DeviceId,
  ProcessedToDeviceEventType,
  UserId,
  type ProcessedToDeviceEvent,
} from "@matrix-org/matrix-sdk-crypto-wasm";

import type { EngineCore } from "./engine";
import { HttpError, V3 } from "./http";

export const CALL_SDP = "org.kaari.call.sdp";
/** a therapist's word for another family's DTLS certificate in a group call */
export const CALL_VOUCH = "org.kaari.call.vouch";
const VOUCHES = 64;
/** authentications kept until their SDP arrives (the oldest go first) */
const INBOX = 32;
/** how long a newer authentication is waited for when the waiting ones do not match */
const MISMATCH_WAIT_MS = 2500;

/** A refusal with the stable CallAuthError code (crypto/matrix/call.py). */
function refuse(code: string): never {
  throw new HttpError(0, code, {});
}

interface Auth {
  sender: string;
  senderDevice: string | null;
  senderKey: string;
  content: Record<string, unknown>;
}

export function dtlsFingerprints(sdp: string): string[] {
  return [...sdp.matchAll(/^a=fingerprint:(\S+ \S+)\s*$/gm)].map((m) => m[1] ?? "");
}

/** Unpadded base64 of SHA-256 of the SDP's UTF-8 bytes. */
async function sdpSha256(sdp: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(sdp)));
  let binary = "";
  for (const b of digest) binary += String.fromCharCode(b);
  return btoa(binary).replace(/=+$/, "");
}

function sameList(a: unknown, b: string[]): boolean {
  return Array.isArray(a) && a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The org.kaari.call.sdp events sync brought, waiting for their SDP. */
export class CallInbox {
  private auths: Auth[] = [];
  private vouches: Auth[] = [];
  private waiters = new Set<() => void>();

  /** From each sync's receiveSyncChanges: keep the decrypted call authentications. */
  take(processed: ProcessedToDeviceEvent[]): void {
    let added = false;
    for (const event of processed) {
      if (event.type !== ProcessedToDeviceEventType.Decrypted) continue;
      const decrypted = event as DecryptedToDeviceEvent;
      let raw: { type?: unknown; content?: unknown };
      try {
        raw = JSON.parse(decrypted.rawEvent) as typeof raw;
      } catch {
        continue;
      }
      if ((raw.type !== CALL_SDP && raw.type !== CALL_VOUCH) || typeof raw.content !== "object" || raw.content === null) continue;
      const info = decrypted.encryptionInfo;
      (raw.type === CALL_VOUCH ? this.vouches : this.auths).push({
        sender: info.sender.toString(),
        senderDevice: info.senderDevice?.toString() ?? null,
        senderKey: info.senderCurve25519Key,
        content: raw.content as Record<string, unknown>,
      });
      added = true;
    }
    if (this.auths.length > INBOX) this.auths.splice(0, this.auths.length - INBOX);
    if (this.vouches.length > VOUCHES) this.vouches.splice(0, this.vouches.length - VOUCHES);
    if (added) for (const wake of [...this.waiters]) wake();
  }

  /** Resolves when more arrive, or after ``ms``. */
  next(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
    });
  }

  entries(): Auth[] {
    return [...this.auths].reverse(); // the newest first
  }

  /** The therapists' vouches, the newest first (kept: a certificate outlives one SDP). */
  vouched(): Auth[] {
    return [...this.vouches].reverse();
  }

  use(auth: Auth): void {
    this.auths = this.auths.filter((a) => a !== auth);
  }
}

export interface CallSdp {
  peerUser: string; // the peer's Matrix id
  peerDevice: string;
  callId: string;
  kind: "offer" | "answer";
  sdp: string;
}

/** Query the peer's keys (and its owner's cross-signing identity). */
async function queryPeer(core: EngineCore, user: string): Promise<void> {
  await core.machine.updateTrackedUsers([new UserId(user)]);
  await core.processOutgoing();
}

/** Send one Olm-encrypted to-device event to one device of ``user``. */
async function sendEncrypted(core: EngineCore, user: string, deviceId: string, type: string, content: Record<string, unknown>): Promise<void> {
  await queryPeer(core, user);
  await core.locked(async () => {
    const claim = await core.machine.getMissingSessions([new UserId(user)]);
    if (claim) await core.send(claim);
    const device = await core.machine.getDevice(new UserId(user), new DeviceId(deviceId));
    if (!device) refuse("wrong_device");
    const encrypted = JSON.parse(await device.encryptToDeviceEvent(type, content)) as unknown;
    const txn = `call.${crypto.randomUUID()}`;
    await core.http.call("PUT", `${V3}/sendToDevice/m.room.encrypted/${encodeURIComponent(txn)}`, {
      messages: { [user]: { [deviceId]: encrypted } },
    });
  });
  await core.processOutgoing(); // the Olm session's bookkeeping
}

/** Authenticate ``sdp`` to the one peer device it is for: send the Olm-encrypted event
 * through the server's to-device mailbox. Relay the SDP only after this returns. */
export async function sendCallSdp(core: EngineCore, call: CallSdp): Promise<void> {
  const fingerprints = dtlsFingerprints(call.sdp);
  if (fingerprints.length === 0) refuse("no_fingerprint");
  const content = { call_id: call.callId, kind: call.kind, sdp_sha256: await sdpSha256(call.sdp), fingerprints };
  await sendEncrypted(core, call.peerUser, call.peerDevice, CALL_SDP, content);
}

/** A therapist's vouch (group calls, docs/signaling.md "Group sessions"): to one family
 * device, "in this call the seat of ``deviceId`` presents these DTLS fingerprints",
 * which the therapist took from that device's own authenticated SDP. */
export interface CallVouch {
  peerUser: string; // the family member it goes to
  peerDevice: string;
  callId: string;
  deviceId: string; // the other family's seat it vouches for
  fingerprints: string[];
}

export async function sendCallVouch(core: EngineCore, vouch: CallVouch): Promise<void> {
  if (vouch.fingerprints.length === 0) refuse("no_fingerprint");
  const content = { call_id: vouch.callId, device_id: vouch.deviceId, fingerprints: vouch.fingerprints };
  await sendEncrypted(core, vouch.peerUser, vouch.peerDevice, CALL_VOUCH, content);
}

/** Who may vouch: a therapist seat of the room (its Matrix user and device). */
export interface Voucher {
  user: string;
  device: string;
}

async function checkVouch(core: EngineCore, auth: Auth, vouchers: Voucher[], callId: string, deviceId: string, fps: string[]): Promise<string | null> {
  const voucher = vouchers.find((v) => v.user === auth.sender && v.device === auth.senderDevice);
  if (!voucher) return "wrong_sender";
  const device = await core.machine.getDevice(new UserId(voucher.user), new DeviceId(voucher.device));
  if (!device || device.curve25519Key?.toBase64() !== auth.senderKey) return "wrong_device";
  if (!device.isCrossSignedByOwner()) return "untrusted_device";
  const c = auth.content;
  if (c["call_id"] !== callId) return "wrong_call";
  if (c["device_id"] !== deviceId) return "wrong_device";
  if (!sameList(c["fingerprints"], fps)) return "fingerprints_changed";
  return null;
}

/** Throw (the refusal's code) unless a therapist of the room vouched for exactly the DTLS
 * fingerprints of ``call.sdp`` as those of the seat ``call.peerDevice`` (another family,
 * whose identity this device is not told); waits up to ``waitMs`` (then ``missing_auth``,
 * or the newest vouch's code). The SDP's other lines are not vouched for: the
 * certificate is what keeps a relay out of the middle of the call. */
export async function authenticateVouchedSdp(
  core: EngineCore,
  inbox: CallInbox,
  call: CallSdp,
  vouchers: Voucher[],
  waitMs: number,
): Promise<void> {
  const fps = dtlsFingerprints(call.sdp);
  if (fps.length === 0) refuse("no_fingerprint");
  for (const v of vouchers) await queryPeer(core, v.user);
  const deadline = Date.now() + waitMs;
  for (;;) {
    let first: string | null = null;
    for (const auth of inbox.vouched()) {
      if (auth.content["device_id"] !== call.peerDevice) continue;
      const code = await checkVouch(core, auth, vouchers, call.callId, call.peerDevice, fps);
      if (code === null) return;
      first = first ?? code;
    }
    const now = Date.now();
    if (now >= deadline) refuse(first ?? "missing_auth");
    await inbox.next(Math.min(deadline - now, 1000));
  }
}

async function check(core: EngineCore, auth: Auth, call: CallSdp): Promise<string | null> {
  if (auth.sender !== call.peerUser) return "wrong_sender";
  if (auth.senderDevice !== call.peerDevice) return "wrong_device";
  const device = await core.machine.getDevice(new UserId(call.peerUser), new DeviceId(call.peerDevice));
  if (!device || device.curve25519Key?.toBase64() !== auth.senderKey) return "wrong_device";
  if (!device.isCrossSignedByOwner()) return "untrusted_device";
  const c = auth.content;
  if (c["call_id"] !== call.callId) return "wrong_call";
  if (c["kind"] !== call.kind) return "wrong_kind";
  if (c["sdp_sha256"] !== (await sdpSha256(call.sdp))) return "sdp_changed";
  if (!sameList(c["fingerprints"], dtlsFingerprints(call.sdp))) return "fingerprints_changed";
  return null;
}

/** Throw (with the refusal's code) unless an authentication from the peer device vouches
 * for ``sdp``; waits up to ``waitMs`` for one to come (then ``missing_auth``). When the
 * ones waiting all fail, a newer one may still be on its way (this worker's sync runs on
 * its own): that is waited for up to MISMATCH_WAIT_MS, then the newest one's code (e.g.
 * ``sdp_changed``), and those are dropped: the SDPs they vouch for never came. */
export async function authenticateCallSdp(
  core: EngineCore,
  inbox: CallInbox,
  call: CallSdp,
  waitMs: number,
): Promise<void> {
  await queryPeer(core, call.peerUser);
  const deadline = Date.now() + waitMs;
  let mismatchDeadline: number | null = null;
  for (;;) {
    let first: string | null = null;
    const failed: Auth[] = [];
    for (const auth of inbox.entries()) {
      if (auth.sender !== call.peerUser) continue;
      const code = await check(core, auth, call);
      if (code === null) {
        inbox.use(auth);
        return;
      }
      first = first ?? code;
      failed.push(auth);
    }
    const now = Date.now();
    if (first !== null) mismatchDeadline = mismatchDeadline ?? now + MISMATCH_WAIT_MS;
    const until = Math.min(deadline, mismatchDeadline ?? deadline);
    if (now >= until) {
      for (const auth of failed) inbox.use(auth);
      refuse(first ?? "missing_auth");
    }
    await inbox.next(Math.min(until - now, 1000));
  }
}
