// Secrets at rest in the browser: a non-extractable AES-GCM key (WebCrypto) kept in
// IndexedDB wraps everything else we keep (the crypto store's passphrase, the session
// token). The key's bytes never exist in JavaScript: a copy of the IndexedDB files
// without the browser's key handling reads nothing.

import * as idb from "./idb";

const KEY = "vault-key";

interface Sealed {
  iv: Uint8Array<ArrayBuffer>;
  data: ArrayBuffer;
}

async function vaultKey(): Promise<CryptoKey> {
  const found = await idb.get<CryptoKey>(KEY);
  if (found) return found;
  const key = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, [
    "encrypt",
    "decrypt",
  ]);
  await idb.put(KEY, key);
  // two tabs may race on the very first start: keep whichever was stored
  return (await idb.get<CryptoKey>(KEY)) ?? key;
}

export async function seal(name: string, value: string): Promise<void> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const data = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: new TextEncoder().encode(name) },
    await vaultKey(),
    new TextEncoder().encode(value),
  );
  await idb.put(`sealed:${name}`, { iv, data } satisfies Sealed);
}

export async function unseal(name: string): Promise<string | undefined> {
  const sealed = await idb.get<Sealed>(`sealed:${name}`);
  if (!sealed) return undefined;
  try {
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: sealed.iv, additionalData: new TextEncoder().encode(name) },
      await vaultKey(),
      sealed.data,
    );
    return new TextDecoder().decode(plain);
  } catch {
    return undefined; // another key (the vault key was lost): as if nothing was stored
  }
}

export async function forget(name: string): Promise<void> {
  await idb.del(`sealed:${name}`);
}

/** A random secret stored sealed under ``name``: the same one on every later call. */
export async function secret(name: string): Promise<string> {
  const found = await unseal(name);
  if (found) return found;
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const value = btoa(String.fromCharCode(...bytes));
  await seal(name, value);
  return value;
}
