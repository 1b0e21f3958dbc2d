// The recovery key's text form (Matrix spec, "Cryptographic key representation"), as
// crypto/matrix/backup.py writes it: 0x8B 0x01, the 32-byte backup decryption key, an
// XOR parity byte; base58 (Bitcoin alphabet), a space every four characters. This is an
// encoding only: the key itself is made and used by matrix-sdk-crypto-wasm
// (BackupDecryptionKey), which 18.9.0 exposes as base64 but not in this form.

const ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
const PREFIX = [0x8b, 0x01];

/** Why a typed recovery key is not one (an error code with a text in i18n/recovery.ts). */
export class RecoveryKeyFormatError extends Error {
  constructor() {
    super("recovery_key_invalid");
  }
}

function base58Encode(bytes: Uint8Array): string {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  let out = "";
  while (n > 0n) {
    out = ALPHABET[Number(n % 58n)] + out;
    n /= 58n;
  }
  for (const b of bytes) {
    if (b !== 0) break;
    out = "1" + out;
  }
  return out;
}

function base58Decode(text: string): Uint8Array {
  let n = 0n;
  for (const c of text) {
    const i = ALPHABET.indexOf(c);
    if (i < 0) throw new RecoveryKeyFormatError();
    n = n * 58n + BigInt(i);
  }
  const body: number[] = [];
  while (n > 0n) {
    body.unshift(Number(n & 0xffn));
    n >>= 8n;
  }
  let leading = 0;
  for (const c of text) {
    if (c !== "1") break;
    leading++;
  }
  return Uint8Array.from([...new Array<number>(leading).fill(0), ...body]);
}

function toBase64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replace(/=+$/, "");
}

function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

/** The recovery key for the (unpadded base64) private key BackupDecryptionKey.toBase64() gives. */
export function encodeRecoveryKey(privateKeyBase64: string): string {
  const key = fromBase64(privateKeyBase64);
  if (key.length !== 32) throw new RecoveryKeyFormatError();
  const raw = [...PREFIX, ...key];
  const parity = raw.reduce((a, b) => a ^ b, 0);
  const text = base58Encode(Uint8Array.from([...raw, parity]));
  return (text.match(/.{1,4}/g) ?? []).join(" ");
}

/** The (unpadded base64) private key of a typed recovery key, for
 * BackupDecryptionKey.fromBase64; spaces and line breaks are ignored. */
export function decodeRecoveryKey(text: string): string {
  const raw = base58Decode(text.replace(/\s+/g, ""));
  if (raw.length !== PREFIX.length + 32 + 1 || raw[0] !== PREFIX[0] || raw[1] !== PREFIX[1]) {
    throw new RecoveryKeyFormatError();
  }
  if (raw.reduce((a, b) => a ^ b, 0) !== 0) throw new RecoveryKeyFormatError(); // a typo
  return toBase64(raw.slice(2, 34));
}
