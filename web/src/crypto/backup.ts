// Server-side key backup (m.megolm_backup.v1.curve25519-aes-sha2, docs/matrix-api.md)
// for the device's OlmMachine: make a backup and its recovery key, upload the room keys
// to it, restore them on another device from the recovery key. Every key operation is
// matrix-sdk-crypto-wasm's (BackupDecryptionKey, enableBackupV1, backupRoomKeys,
// importBackedUpRoomKeys); recoverykey.ts only writes the key as text. The flow is the
// Python client's (client/matrix/client.py create_backup / restore_backup).

import { BackupDecryptionKey, type KeysBackupRequest, type OlmMachine, RoomId } from "@matrix-org/matrix-sdk-crypto-wasm";

import { HttpError, type MatrixHttp, V3 } from "./http";
import type { BackupStatus } from "./protocol";
import { decodeRecoveryKey, encodeRecoveryKey, RecoveryKeyFormatError } from "./recoverykey";

export const BACKUP_ALGORITHM = "m.megolm_backup.v1.curve25519-aes-sha2";

interface VersionBody {
  version: string;
  algorithm: string;
  auth_data: { public_key?: unknown };
  count?: number;
}

interface SessionData {
  session_data: { ephemeral: string; mac: string; ciphertext: string };
}

interface KeysBody {
  rooms?: Record<string, { sessions?: Record<string, SessionData> }>;
}

function fail(code: string): never {
  throw new HttpError(0, code, {});
}

export class KeyBackup {
  /** made by prepare(), shown to the parent, used by commit() once they typed it back */
  private pending: BackupDecryptionKey | null = null;

  constructor(
    private readonly machine: OlmMachine,
    private readonly http: MatrixHttp,
    /** send one request and mark it sent (the engine's request loop) */
    private readonly send: (req: KeysBackupRequest) => Promise<void>,
  ) {}

  private async current(): Promise<VersionBody | null> {
    try {
      return await this.http.call<VersionBody>("GET", `${V3}/room_keys/version`);
    } catch (e) {
      if (e instanceof HttpError && e.status === 404) return null;
      throw e;
    }
  }

  async status(): Promise<BackupStatus> {
    const server = await this.current();
    const keys = await this.machine.getBackupKeys();
    const mine = keys.decryptionKey?.megolmV1PublicKey.publicKeyBase64 ?? null;
    const counts = await this.machine.roomKeyCounts();
    return {
      serverVersion: server?.version ?? null,
      active:
        server !== null &&
        keys.backupVersion === server.version &&
        mine !== null &&
        mine === server.auth_data.public_key &&
        (await this.machine.isBackupEnabled()),
      roomKeys: counts.total,
      backedUp: counts.backedUp,
    };
  }

  /** A new backup key, not used yet: its recovery key to show. */
  prepare(): string {
    this.pending?.free();
    this.pending = BackupDecryptionKey.createRandomKey();
    return encodeRecoveryKey(this.pending.toBase64());
  }

  /** The parent typed the recovery key back: make the backup version with it (signed by
   * this device), back up to it from now on and upload every room key. */
  async commit(typed: string): Promise<{ version: string }> {
    const key = this.pending;
    if (!key) fail("recovery_key_expired");
    if (this.parse(typed).toBase64() !== key.toBase64()) fail("recovery_key_mismatch");
    const publicKey = key.megolmV1PublicKey.publicKeyBase64;
    // canonical JSON of {public_key}: one key, so JSON.stringify is canonical
    const signatures = await this.machine.sign(JSON.stringify({ public_key: publicKey }));
    const authData = { public_key: publicKey, signatures: JSON.parse(signatures.asJSON()) as unknown };
    const { version } = await this.http.call<{ version: string }>("POST", `${V3}/room_keys/version`, {
      algorithm: BACKUP_ALGORITHM,
      auth_data: authData,
    });
    await this.use(key, version);
    this.pending = null;
    await this.upload();
    return { version };
  }

  private parse(typed: string): BackupDecryptionKey {
    try {
      return BackupDecryptionKey.fromBase64(decodeRecoveryKey(typed));
    } catch (e) {
      if (e instanceof RecoveryKeyFormatError) fail("recovery_key_invalid");
      fail("recovery_key_invalid");
    }
  }

  private async use(key: BackupDecryptionKey, version: string): Promise<void> {
    await this.machine.disableBackup(); // a new version: every room key goes up again
    await this.machine.enableBackupV1(key.megolmV1PublicKey.publicKeyBase64, version);
    await this.machine.saveBackupDecryptionKey(key, version);
  }

  /** Restore the room keys of the current backup with a typed recovery key; back up to
   * it from now on. The rooms that got keys (their history reads again). */
  async restore(typed: string): Promise<{ imported: number; total: number; rooms: string[] }> {
    const key = this.parse(typed);
    const server = await this.current();
    if (!server) fail("backup_not_found");
    // the typed key is the trust anchor: it must be the backup's (else the server, or an
    // old key, would choose where this device's keys go)
    if (server.auth_data.public_key !== key.megolmV1PublicKey.publicKeyBase64) fail("recovery_key_wrong");
    const body = await this.http.call<KeysBody>(
      "GET",
      `${V3}/room_keys/keys?version=${encodeURIComponent(server.version)}`,
    );
    const byRoom = new Map<RoomId, Map<string, unknown>>();
    const rooms: string[] = [];
    for (const [roomId, room] of Object.entries(body.rooms ?? {})) {
      const sessions = new Map<string, unknown>();
      for (const [sessionId, data] of Object.entries(room.sessions ?? {})) {
        const sd = data.session_data;
        try {
          sessions.set(sessionId, JSON.parse(key.decryptV1(sd.ephemeral, sd.mac, sd.ciphertext)));
        } catch {
          // a session this key cannot open (a broken upload): the others still count
        }
      }
      if (sessions.size) {
        byRoom.set(new RoomId(roomId), sessions);
        rooms.push(roomId);
      }
    }
    await this.use(key, server.version);
    const result = await this.machine.importBackedUpRoomKeys(byRoom, () => undefined, server.version);
    await this.upload();
    return { imported: result.importedCount, total: result.totalCount, rooms };
  }

  /** Upload the room keys not backed up yet (after every sync and send); a backup
   * replaced by another device stops this one backing up until its key is entered. */
  async upload(): Promise<void> {
    for (let round = 0; round < 20; round++) {
      const req = await this.machine.backupRoomKeys();
      if (!req) return;
      try {
        await this.send(req);
      } catch (e) {
        if (e instanceof HttpError && e.code === "wrong_room_keys_version") {
          await this.machine.disableBackup();
          return;
        }
        return; // offline or refused: the machine keeps the request for the next round
      }
    }
  }
}
