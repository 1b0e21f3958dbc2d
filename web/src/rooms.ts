// A case's rooms have ids derived from the case (app/messaging/service.py
// thread_id_of: UUID version 5 of "<case id>:<kind>" in Kaari's thread namespace), so the
// app needs no lookup to find the family room of a case.

const THREAD_NAMESPACE = "6f1c3f0e-3b5e-4f55-9d59-6b6172690001";

// (the homework room is named by GET /cases/{id}/homework/room instead)
export type RoomKind = "family" | "child";

function uuidBytes(uuid: string): Uint8Array {
  const hex = uuid.replace(/-/g, "");
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

function uuidText(b: Uint8Array): string {
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export async function uuid5(namespace: string, name: string): Promise<string> {
  const ns = uuidBytes(namespace);
  const data = new TextEncoder().encode(name);
  const joined = new Uint8Array(ns.length + data.length);
  joined.set(ns);
  joined.set(data, ns.length);
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-1", joined)).slice(0, 16);
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  return uuidText(hash);
}

export async function roomOf(caseId: string, kind: RoomKind, server: string): Promise<string> {
  return `!${await uuid5(THREAD_NAMESPACE, `${caseId}:${kind}`)}:${server}`;
}
