// Kaari's own HTTP API (docs/api.md): sign-in, sign-out, cases. Errors carry the
// server's stable problem+json `code`, which the screens turn into words (i18n.ts).

import type { Locale } from "./i18n";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly retryAfter: number | null = null,
    /** the problem's `detail`: the server's own words (English), beside the code's text */
    readonly detail: string | null = null,
  ) {
    super(code);
  }
}

export async function request<T>(
  method: string,
  path: string,
  token: string | null,
  body?: unknown,
): Promise<T> {
  const headers: Record<string, string> = {};
  if (token) headers["authorization"] = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  let r: Response;
  try {
    r = await fetch(path, {
      method,
      headers,
      body: body === undefined ? null : JSON.stringify(body),
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, "network");
  }
  if (r.status === 204) return undefined as T;
  const text = await r.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (!r.ok) {
    const problem = (parsed ?? {}) as { code?: unknown; errcode?: unknown; retryAfter?: unknown; detail?: unknown };
    const code = typeof problem.code === "string" ? problem.code : `http_${r.status}`;
    const retry = typeof problem.retryAfter === "number" ? problem.retryAfter : null;
    throw new ApiError(r.status, code, retry, typeof problem.detail === "string" ? problem.detail : null);
  }
  return parsed as T;
}

export interface UserOut {
  id: string;
  matrixUserId: string;
  role: string;
  displayName: string;
  locale: Locale;
}

export interface SessionOut {
  token: string;
  deviceId: string;
  user: UserOut;
}

export interface CaseOut {
  id: string;
  childName: string | null;
  myRole: string;
  closedAt: string | null;
}

export function login(email: string, password: string, deviceName: string): Promise<SessionOut> {
  return request("POST", "/auth/login", null, {
    email,
    password,
    device: { name: deviceName, platform: "web" },
  });
}

export function logout(token: string): Promise<void> {
  return request("POST", "/auth/logout", token);
}

export function cases(token: string): Promise<CaseOut[]> {
  return request("GET", "/cases", token);
}
