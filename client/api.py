"""The HTTP side of the reference client: one method per endpoint it uses.

Errors come back as :class:`ApiError` with the server's stable problem+json ``code``.
Works against a server URL, or with any ``httpx.Client`` (the test suite passes
litestar's ``TestClient``, which is one).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any
from uuid import UUID

import httpx

DEFAULT_TIMEOUT = 15.0
#: requests that may be sent again: the server's keep-alive may close an idle pooled
#: connection just as a request goes out on it (a reset, or no answer at all)
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
STALE_CONNECTION = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)


class ApiError(Exception):
    def __init__(self, status: int, code: str, detail: str, body: dict[str, Any]) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail
        self.body = body


class Api:
    def __init__(
        self,
        base_url: str | None = None,
        *,
        http: httpx.Client | None = None,
        token: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if http is None:
            if base_url is None:
                raise ValueError("a base URL or an httpx client is needed")
            http = httpx.Client(base_url=base_url, timeout=timeout)
        self.http = http
        self.base_url = str(http.base_url).rstrip("/")
        self.token = token
        self.user_id: UUID | None = None
        self.device_id: UUID | None = None

    def close(self) -> None:
        self.http.close()

    # plumbing

    def _headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"} if self.token else {}

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        content: bytes | Iterable[bytes] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        def send() -> httpx.Response:
            return self.http.request(
                method,
                path,
                json=json,
                params=params,
                content=content,
                headers={**self._headers(), **(headers or {})},
            )

        try:
            response = send()
        except STALE_CONNECTION:
            # once more, on a new connection, where sending twice changes nothing
            if method.upper() not in IDEMPOTENT or not (
                content is None or isinstance(content, bytes)
            ):
                raise
            response = send()
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {}
            raise ApiError(
                response.status_code,
                str(body.get("code", "http_error")),
                str(body.get("detail", response.reason_phrase)),
                body if isinstance(body, dict) else {},
            )
        return response

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params or None).json()

    def post(self, path: str, body: Any = None) -> Any:
        response = self.request("POST", path, json=body)
        return response.json() if response.content else None

    # sessions

    def _signed_in(self, body: dict[str, Any]) -> dict[str, Any]:
        self.token = body["token"]
        self.user_id = UUID(body["user"]["id"])
        self.device_id = UUID(body["deviceId"])
        return body

    def login(
        self, email: str, password: str, device_name: str, platform: str = "cli"
    ) -> dict[str, Any]:
        device = {"name": device_name, "platform": platform}
        body = {"email": email, "password": password, "device": device}
        return self._signed_in(self.post("/auth/login", body))

    def pair(self, code: str, device_name: str, platform: str = "android") -> dict[str, Any]:
        body = {"code": code, "device": {"name": device_name, "platform": platform}}
        return self._signed_in(self.post("/auth/pair", body))

    def me(self) -> dict[str, Any]:
        body: dict[str, Any] = self.get("/me")
        self.user_id = UUID(body["id"])
        return body

    def logout(self) -> None:
        self.request("POST", "/auth/logout")
        self.token = None

    def ws_ticket(self) -> str:
        return str(self.post("/ws/ticket")["ticket"])

    def ws_url(self, ticket: str) -> str:
        base = self.base_url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        return f"{base}/ws?ticket={ticket}"

    # threads (= Matrix rooms) and their attachments

    def threads(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.get("/threads")
        return result

    def upload_attachment(self, thread_id: UUID | str, chunks: Iterable[bytes]) -> dict[str, Any]:
        response = self.request(
            "POST",
            f"/threads/{thread_id}/attachments",
            content=chunks,
            headers={"content-type": "application/octet-stream"},
        )
        result: dict[str, Any] = response.json()
        return result

    def download_attachment(self, attachment_id: UUID | str) -> Iterator[bytes]:
        with self.http.stream(
            "GET", f"/attachments/{attachment_id}", headers=self._headers()
        ) as response:
            if response.status_code >= 400:
                response.read()
                body = response.json()
                raise ApiError(
                    response.status_code, body.get("code", ""), body.get("detail", ""), body
                )
            yield from response.iter_bytes()

    # homework (docs/homework.md): contents are Megolm ciphertexts made by client.homework

    def case_threads(self, case_id: UUID | str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.get(f"/cases/{case_id}/threads")
        return result

    def create_task(self, case_id: UUID | str, body: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.post(f"/cases/{case_id}/homework", body)
        return result

    def tasks(self, case_id: UUID | str, status: str | None = None) -> list[dict[str, Any]]:
        params = {"status": status} if status else {}
        result: list[dict[str, Any]] = self.get(f"/cases/{case_id}/homework", **params)
        return result

    def task(self, task_id: UUID | str) -> dict[str, Any]:
        result: dict[str, Any] = self.get(f"/homework/{task_id}")
        return result

    def update_task(self, task_id: UUID | str, body: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.request("PATCH", f"/homework/{task_id}", json=body).json()
        return result

    def tick(self, task_id: UUID | str, day: str, body: dict[str, Any]) -> dict[str, Any]:
        """``PUT`` a tick: 201 the first time, 200 with the same tick for a repeat."""
        result: dict[str, Any] = self.request(
            "PUT", f"/homework/{task_id}/ticks/{day}", json=body
        ).json()
        return result

    def undo_tick(self, task_id: UUID | str, day: str) -> None:
        self.request("DELETE", f"/homework/{task_id}/ticks/{day}")

    def ticks(
        self, task_id: UUID | str, since: str | None = None, until: str | None = None
    ) -> list[dict[str, Any]]:
        params = {k: v for k, v in (("from", since), ("to", until)) if v}
        result: list[dict[str, Any]] = self.get(f"/homework/{task_id}/ticks", **params)
        return result

    def progress(self, case_id: UUID | str, weeks: int | None = None) -> dict[str, Any]:
        params = {"weeks": weeks} if weeks else {}
        result: dict[str, Any] = self.get(f"/cases/{case_id}/homework/progress", **params)
        return result

    def homework_today(self) -> dict[str, Any]:
        result: dict[str, Any] = self.get("/me/homework/today")
        return result
