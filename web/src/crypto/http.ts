// The worker's HTTP: Kaari's Matrix paths (docs/matrix-api.md) with the device's token.

export const V3 = "/_matrix/client/v3";

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly body: Record<string, unknown>,
  ) {
    super(`${status} ${code}`);
  }
}

export class MatrixHttp {
  constructor(private readonly token: string) {}

  async call<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    signal?: AbortSignal,
  ): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers["content-type"] = "application/json";
    let r: Response;
    try {
      r = await fetch(path, {
        method,
        headers,
        body: body === undefined ? null : typeof body === "string" ? body : JSON.stringify(body),
        cache: "no-store",
        signal: signal ?? null,
      });
    } catch (e) {
      if (signal?.aborted) throw e;
      throw new HttpError(0, "network", {});
    }
    const text = await r.text();
    let parsed: Record<string, unknown> = {};
    try {
      parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      parsed = {};
    }
    if (!r.ok) {
      const code = typeof parsed["code"] === "string" ? parsed["code"] : `http_${r.status}`;
      throw new HttpError(r.status, code, parsed);
    }
    return parsed as T;
  }
}
