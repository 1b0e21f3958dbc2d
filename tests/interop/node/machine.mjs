// Drives matrix-sdk-crypto OlmMachines (memory store) for Kaari's interoperability tests.
//
// Protocol: one JSON object per line on stdin, {"id": n, "op": "...", ...args}; one answer
// per line on stdout, {"id": n, "ok": true, "result": ...} or {"id": n, "ok": false,
// "error": "..."}. The test (pytest) plays the homeserver: it sends every outgoing request
// of a machine to its in-test server and hands the answer back with "mark_sent".
// Nothing here talks to a network.

import { createHash } from "node:crypto";
import * as readline from "node:readline";
import * as sdk from "@matrix-org/matrix-sdk-crypto-wasm";

const {
    BackupDecryptionKey,
    CollectStrategy,
    DecryptionSettings,
    DeviceId,
    DeviceLists,
    EncryptionSettings,
    OlmMachine,
    OwnUserIdentity,
    ProcessedToDeviceEventType,
    RequestType,
    RoomId,
    TrustRequirement,
    UserId,
    VerificationMethod,
} = sdk;

await sdk.initAsync();

/** name -> {machine, withheld: [], roomKeys: [], backupKey} */
const machines = new Map();

function state(name) {
    const s = machines.get(name);
    if (!s) throw new Error(`no machine named ${name}`);
    return s;
}

function userIds(users) {
    return (users ?? []).map((u) => new UserId(u));
}

function trust(name) {
    return TrustRequirement[name ?? "Untrusted"];
}

/** A request object of the wasm bindings as plain JSON for the test. */
function request(r) {
    if (r === undefined || r === null) return null;
    const out = { id: r.id ?? null, type: r.type, body: r.body ? JSON.parse(r.body) : null };
    for (const field of ["event_type", "txn_id", "room_id", "version"]) {
        if (r[field] !== undefined) out[field] = r[field];
    }
    return out;
}

function processed(e) {
    const out = { kind: e.type, raw: JSON.parse(e.rawEvent) };
    if (e.encryptionInfo) {
        out.sender = e.encryptionInfo.sender.toString();
        out.senderDevice = e.encryptionInfo.senderDevice?.toString() ?? null;
        out.senderCurve25519Key = e.encryptionInfo.senderCurve25519Key;
        out.isSenderVerified = e.encryptionInfo.isSenderVerified();
    }
    if (e.utdInfo) out.utdReason = e.utdInfo.reason;
    return out;
}

// Call offers and answers authenticated by the device (Kaari's org.kaari.call.sdp, as
// crypto/matrix/call.py defines it): what a web app on this SDK does, in plain JS.
const CALL_SDP = "org.kaari.call.sdp";

function dtlsFingerprints(sdp) {
    return [...sdp.matchAll(/^a=fingerprint:(\S+ \S+)\s*$/gm)].map((m) => m[1]);
}

function sdpSha256(sdp) {
    return createHash("sha256").update(sdp, "utf8").digest("base64").replace(/=+$/, "");
}

function sameList(a, b) {
    return Array.isArray(a) && a.length === b.length && a.every((x, i) => x === b[i]);
}

const ops = {
    async init({ name, user, device }) {
        const machine = await OlmMachine.initialize(new UserId(user), new DeviceId(device));
        const s = { machine, withheld: [], roomKeys: [], backupKey: null };
        await machine.registerRoomKeysWithheldCallback(async (infos) => {
            for (const i of infos) {
                s.withheld.push({
                    roomId: i.roomId.toString(),
                    sessionId: i.sessionId,
                    sender: i.sender.toString(),
                    code: i.withheldCode,
                });
            }
        });
        await machine.registerRoomKeyUpdatedCallback(async (infos) => {
            for (const i of infos) {
                s.roomKeys.push({ roomId: i.roomId.toString(), sessionId: i.sessionId });
            }
        });
        machines.set(name, s);
        return {
            curve25519: machine.identityKeys.curve25519.toBase64(),
            ed25519: machine.identityKeys.ed25519.toBase64(),
        };
    },

    async outgoing({ name }) {
        return (await state(name).machine.outgoingRequests()).map(request);
    },

    async mark_sent({ name, request_id, type, response }) {
        await state(name).machine.markRequestAsSent(request_id, type, JSON.stringify(response));
        return true;
    },

    async receive_sync({ name, to_device, changed, left, otk_counts, fallback_types, trust: t }) {
        const result = await state(name).machine.receiveSyncChanges(
            JSON.stringify(to_device ?? []),
            new DeviceLists(userIds(changed), userIds(left)),
            new Map(Object.entries(otk_counts ?? {})),
            new Set(fallback_types ?? []),
            new DecryptionSettings(trust(t)),
        );
        return result.map(processed);
    },

    async update_tracked({ name, users }) {
        await state(name).machine.updateTrackedUsers(userIds(users));
        return true;
    },

    async missing_sessions({ name, users }) {
        return request(await state(name).machine.getMissingSessions(userIds(users)));
    },

    async share_room_key({ name, room, users, strategy }) {
        const settings = new EncryptionSettings();
        if (strategy === "identity") settings.sharingStrategy = CollectStrategy.identityBasedStrategy();
        if (strategy === "trusted") settings.sharingStrategy = CollectStrategy.onlyTrustedDevices();
        const reqs = await state(name).machine.shareRoomKey(new RoomId(room), userIds(users), settings);
        return reqs.map(request);
    },

    async invalidate_group_session({ name, room }) {
        return await state(name).machine.invalidateGroupSession(new RoomId(room));
    },

    async encrypt_room({ name, room, type, content }) {
        const out = await state(name).machine.encryptRoomEvent(new RoomId(room), type, JSON.stringify(content));
        return JSON.parse(out);
    },

    async decrypt_room({ name, room, event, trust: t }) {
        try {
            const d = await state(name).machine.decryptRoomEvent(
                JSON.stringify(event),
                new RoomId(room),
                new DecryptionSettings(trust(t)),
            );
            const shield = d.shieldState(true);
            return {
                event: JSON.parse(d.event),
                sender: d.sender.toString(),
                senderDevice: d.senderDevice?.toString() ?? null,
                senderCurve25519Key: d.senderCurve25519Key,
                forwardingChain: d.forwardingCurve25519KeyChain,
                shield: { color: shield.color, code: shield.code ?? null, message: shield.message ?? null },
            };
        } catch (e) {
            return {
                error: {
                    code: e.code ?? null,
                    description: e.description ?? String(e),
                    withheld: e.withheldCode ?? e.maybe_withheld ?? null,
                },
            };
        }
    },

    async encrypt_to_device({ name, user, device, type, content }) {
        const d = await state(name).machine.getDevice(new UserId(user), new DeviceId(device));
        if (!d) throw new Error(`unknown device ${user} ${device}`);
        return JSON.parse(await d.encryptToDeviceEvent(type, content));
    },

    async device_info({ name, user, device }) {
        const d = await state(name).machine.getDevice(new UserId(user), new DeviceId(device));
        if (!d) return null;
        return {
            curve25519: d.curve25519Key?.toBase64() ?? null,
            ed25519: d.ed25519Key?.toBase64() ?? null,
            isVerified: d.isVerified(),
            isCrossSignedByOwner: d.isCrossSignedByOwner(),
            isCrossSigningTrusted: d.isCrossSigningTrusted(),
            isLocallyTrusted: d.isLocallyTrusted(),
        };
    },

    async verify_device({ name, user, device }) {
        const d = await state(name).machine.getDevice(new UserId(user), new DeviceId(device));
        if (!d) throw new Error(`unknown device ${user} ${device}`);
        return request(await d.verify());
    },

    async set_forwarding({ name, enabled }) {
        state(name).machine.roomKeyForwardingEnabled = enabled;
        return state(name).machine.roomKeyForwardingEnabled;
    },

    async bootstrap_cross_signing({ name }) {
        const r = await state(name).machine.bootstrapCrossSigning(true);
        return {
            upload_signing_keys: JSON.parse(r.uploadSigningKeysRequest.body),
            upload_signatures: request(r.uploadSignaturesRequest),
            upload_keys: request(r.uploadKeysRequest),
        };
    },

    async cross_signing_status({ name }) {
        const st = await state(name).machine.crossSigningStatus();
        return { master: st.hasMaster, selfSigning: st.hasSelfSigning, userSigning: st.hasUserSigning };
    },

    async identity({ name, user }) {
        const id = await state(name).machine.getIdentity(new UserId(user));
        if (!id) return null;
        return {
            own: id instanceof OwnUserIdentity,
            masterKey: JSON.parse(id.masterKey),
            selfSigningKey: JSON.parse(id.selfSigningKey),
            isVerified: id.isVerified(),
        };
    },

    async verify_identity({ name, user }) {
        const id = await state(name).machine.getIdentity(new UserId(user));
        if (!id) throw new Error(`no identity for ${user}`);
        return request(await id.verify());
    },

    // SAS verification over to-device events (m.key.verification.*)

    async request_verification({ name, user, device }) {
        const d = await state(name).machine.getDevice(new UserId(user), new DeviceId(device));
        if (!d) throw new Error(`unknown device ${user} ${device}`);
        const [req, outgoing] = await d.requestVerification([VerificationMethod.SasV1]);
        return { flowId: req.flowId, request: request(outgoing) };
    },

    async verification({ name, user, flow }) {
        const req = state(name).machine.getVerificationRequest(new UserId(user), flow);
        if (!req) return null;
        const sas = req.getVerification();
        return {
            phase: req.phase(),
            ready: req.isReady(),
            done: req.isDone(),
            cancelled: req.isCancelled(),
            cancelCode: req.cancelInfo?.cancelCode() ?? null,
            sas: sas ? {
                done: sas.isDone(),
                cancelled: sas.isCancelled(),
                accepted: sas.hasBeenAccepted(),
                canBePresented: sas.canBePresented(),
                emojiIndex: sas.emojiIndex() ? Array.from(sas.emojiIndex()) : null,
                emoji: sas.emoji()?.map((e) => ({ symbol: e.symbol, description: e.description })) ?? null,
                decimals: sas.decimals() ? Array.from(sas.decimals()) : null,
                cancelCode: sas.cancelInfo()?.cancelCode() ?? null,
            } : null,
        };
    },

    async accept_verification({ name, user, flow }) {
        const req = state(name).machine.getVerificationRequest(new UserId(user), flow);
        return request(req.acceptWithMethods([VerificationMethod.SasV1]));
    },

    async start_sas({ name, user, flow }) {
        const req = state(name).machine.getVerificationRequest(new UserId(user), flow);
        const [, outgoing] = await req.startSas();
        return request(outgoing);
    },

    async sas_accept({ name, user, flow }) {
        const sas = state(name).machine.getVerificationRequest(new UserId(user), flow).getVerification();
        return request(sas.accept());
    },

    async sas_confirm({ name, user, flow }) {
        const sas = state(name).machine.getVerificationRequest(new UserId(user), flow).getVerification();
        return (await sas.confirm()).map(request);
    },

    async sas_cancel({ name, user, flow, code }) {
        const sas = state(name).machine.getVerificationRequest(new UserId(user), flow).getVerification();
        return request(sas.cancelWithCode(code));
    },

    async withheld({ name }) {
        return state(name).withheld;
    },

    async room_keys({ name }) {
        return state(name).roomKeys;
    },

    async new_backup_key({ name }) {
        const key = BackupDecryptionKey.createRandomKey();
        state(name).backupKey = key;
        return { private: key.toBase64(), public: key.megolmV1PublicKey.publicKeyBase64 };
    },

    async enable_backup({ name, public_key, version }) {
        await state(name).machine.enableBackupV1(public_key, version);
        return true;
    },

    async backup_room_keys({ name }) {
        return request(await state(name).machine.backupRoomKeys());
    },

    async room_key_counts({ name }) {
        const c = await state(name).machine.roomKeyCounts();
        return { total: c.total, backedUp: c.backedUp };
    },

    async verify_backup({ name, info }) {
        const v = await state(name).machine.verifyBackup(info);
        return { trusted: v.trusted(), deviceState: v.deviceState, userState: v.userState };
    },

    async import_backup({ name, private_key, version, rooms }) {
        const key = BackupDecryptionKey.fromBase64(private_key);
        const byRoom = new Map();
        let failures = 0;
        for (const [roomId, room] of Object.entries(rooms)) {
            const sessions = new Map();
            for (const [sessionId, data] of Object.entries(room.sessions)) {
                const sd = data.session_data;
                try {
                    sessions.set(sessionId, JSON.parse(key.decryptV1(sd.ephemeral, sd.mac, sd.ciphertext)));
                } catch (e) {
                    failures += 1;
                }
            }
            byRoom.set(new RoomId(roomId), sessions);
        }
        const result = await state(name).machine.importBackedUpRoomKeys(byRoom, undefined, version);
        return { imported: result.importedCount, total: result.totalCount, decryptFailures: failures };
    },

    async call_sdp_content({ call_id, kind, sdp }) {
        if (kind !== "offer" && kind !== "answer") throw new Error(`not an offer or answer: ${kind}`);
        const fingerprints = dtlsFingerprints(sdp);
        if (fingerprints.length === 0) throw new Error("the SDP carries no DTLS fingerprint");
        return { call_id, kind, sdp_sha256: sdpSha256(sdp), fingerprints };
    },

    /** Check a processed to-device event (as receive_sync answers it) against an SDP from
     * the relay: {code: null} when it authenticates the SDP, else the refusal's code. */
    async check_call_sdp({ name, event, peer_user, peer_device, call_id, kind, sdp, verified }) {
        const refuse = (code, message) => ({ code, message });
        if (event.kind !== ProcessedToDeviceEventType.Decrypted) {
            return refuse("not_decrypted", `kind ${event.kind}, reason ${event.utdReason ?? null}`);
        }
        if (event.raw.type !== CALL_SDP) return refuse("wrong_type", event.raw.type);
        if (event.sender !== peer_user) return refuse("wrong_sender", event.sender);
        if (event.senderDevice !== peer_device) return refuse("wrong_device", event.senderDevice);
        const device = await state(name).machine.getDevice(new UserId(peer_user), new DeviceId(peer_device));
        if (!device || device.curve25519Key?.toBase64() !== event.senderCurve25519Key) {
            return refuse("wrong_device", "the session is not the peer device's");
        }
        if (!(verified ? device.isCrossSigningTrusted() : device.isCrossSignedByOwner())) {
            return refuse("untrusted_device", "the peer device is not cross-signed");
        }
        const content = event.raw.content ?? {};
        if (content.call_id !== call_id) return refuse("wrong_call", content.call_id);
        if (content.kind !== kind) return refuse("wrong_kind", content.kind);
        if (content.sdp_sha256 !== sdpSha256(sdp)) return refuse("sdp_changed", "the hash differs");
        if (!sameList(content.fingerprints, dtlsFingerprints(sdp))) {
            return refuse("fingerprints_changed", "the fingerprints differ");
        }
        return { code: null, message: null };
    },

    async close({ name }) {
        state(name).machine.close();
        machines.delete(name);
        return true;
    },
};

const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of rl) {
    if (!line.trim()) continue;
    let msg;
    try {
        msg = JSON.parse(line);
    } catch (e) {
        process.stdout.write(JSON.stringify({ id: null, ok: false, error: `bad JSON: ${e}` }) + "\n");
        continue;
    }
    let answer;
    try {
        const op = ops[msg.op];
        if (!op) throw new Error(`unknown op ${msg.op}`);
        answer = { id: msg.id, ok: true, result: (await op(msg)) ?? null };
    } catch (e) {
        answer = { id: msg.id, ok: false, error: `${e?.stack ?? e}` };
    }
    process.stdout.write(JSON.stringify(answer) + "\n");
}
// RequestType is re-exported for readers of this file: 0 KeysUpload, 1 KeysQuery, 2 KeysClaim,
// 3 ToDevice, 4 SignatureUpload, 5 RoomMessage, 6 KeysBackup.
void RequestType;
