// Verifying the therapist from the first-visit QR code, in the crypto worker (as
// client/matrix/verify.py does for the Python client; docs/matrix-api.md "Invites and the
// first-visit QR"). The QR carries the inviter's master cross-signing key, seen in
// person; after joining, the device queries the inviter's keys, compares the master key
// the server returns with the QR's, and only then signs it with the user's user-signing
// key (matrix-sdk-crypto-wasm: OtherUserIdentity.verify() → a SignatureUploadRequest)
// and uploads the signature. The user's cross-signing keys are made first when the user
// has none at all (the first upload needs no password).

import { OtherUserIdentity, UserId } from "@matrix-org/matrix-sdk-crypto-wasm";

import type { EngineCore } from "./engine";
import { HttpError, V3 } from "./http";

/** A refusal with a stable code (the page shows it in words, i18n/invite.ts). */
function refuse(code: string): never {
  throw new HttpError(0, code, {});
}

/** The identity's master key (unpadded base64), from its JSON form. */
function masterKeyOf(identity: { masterKey: string }): string | null {
  const parsed = JSON.parse(identity.masterKey) as { keys?: Record<string, unknown> };
  const keys = Object.values(parsed.keys ?? {});
  return keys.length === 1 && typeof keys[0] === "string" ? keys[0] : null;
}

/** Query ``users``' keys now (a fresh answer, not the store's). */
async function queryFresh(core: EngineCore, users: string[]): Promise<void> {
  await core.machine.updateTrackedUsers(users.map((u) => new UserId(u)));
  await core.machine.markAllTrackedUsersAsDirty();
  await core.processOutgoing();
}

async function otherIdentity(core: EngineCore, user: string): Promise<OtherUserIdentity | null> {
  const identity = await core.machine.getIdentity(new UserId(user));
  return identity instanceof OtherUserIdentity ? identity : null;
}

/** Make sure this device holds the user's cross-signing keys; true if it made them now.
 * Another device of the user holding them: ``cross_signing_elsewhere``. */
export async function ensureCrossSigning(core: EngineCore): Promise<boolean> {
  const status = await core.machine.crossSigningStatus();
  const complete = status.hasMaster && status.hasSelfSigning && status.hasUserSigning;
  status.free();
  if (complete) return false;
  await queryFresh(core, [core.userId]);
  if (await core.machine.getIdentity(new UserId(core.userId))) refuse("cross_signing_elsewhere");
  await core.locked(async () => {
    const boot = await core.machine.bootstrapCrossSigning(false);
    if (boot.uploadKeysRequest) await core.send(boot.uploadKeysRequest);
    await core.http.call("POST", `${V3}/keys/device_signing/upload`, boot.uploadSigningKeysRequest.body);
    await core.http.call("POST", `${V3}/keys/signatures/upload`, boot.uploadSignaturesRequest.body);
  });
  await core.processOutgoing();
  return true;
}

export interface Verified {
  bootstrapped: boolean;
}

/** Verify the QR's inviter: compare, sign with the user-signing key, upload, confirm.
 * Nothing is signed unless the server's master key is the QR's. */
export async function verifyInviter(core: EngineCore, inviter: string, masterKey: string): Promise<Verified> {
  if (inviter === core.userId) refuse("own_invite");
  await queryFresh(core, [inviter]);
  const seen = await otherIdentity(core, inviter);
  if (!seen) refuse("inviter_not_cross_signed");
  if (masterKeyOf(seen) !== masterKey) refuse("master_key_mismatch");
  const bootstrapped = await ensureCrossSigning(core);
  const identity = await otherIdentity(core, inviter);
  if (!identity || masterKeyOf(identity) !== masterKey) refuse("master_key_mismatch"); // again, just before signing
  const request = await identity.verify();
  const answer = await core.http.call<{ failures?: Record<string, unknown> }>(
    "POST",
    `${V3}/keys/signatures/upload`,
    request.body,
  );
  if (answer.failures && Object.keys(answer.failures).length > 0) refuse("signature_refused");
  await queryFresh(core, [inviter]); // the master key now carries our signature
  const after = await otherIdentity(core, inviter);
  if (!after?.isVerified()) refuse("signature_refused");
  return { bootstrapped };
}

/** Which of ``users`` this device's user has verified (their identity signed by ours). */
export async function verifiedUsers(core: EngineCore, users: string[]): Promise<string[]> {
  if (users.length === 0) return [];
  await core.machine.updateTrackedUsers(users.map((u) => new UserId(u)));
  await core.processOutgoing(); // keys of users not queried yet
  const out: string[] = [];
  for (const user of users) {
    const identity = await otherIdentity(core, user);
    if (identity?.isVerified()) out.push(user);
  }
  return out;
}
