"""The HTTP side of the Matrix device: one method per ``/_matrix/client/v3`` endpoint used.

Authenticated by Kaari's session token (``POST /auth/login`` answers it with
``user.matrixUserId`` and ``deviceId``). Works against a server URL, or with any
``httpx.Client`` (the tests pass litestar's ``TestClient``, which is one).
Errors are :class:`MatrixError` with Kaari's stable ``code`` and Matrix's ``errcode``;
the device-set check's 409 is :class:`DeviceSetChanged` carrying the room's current epoch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

V3 = "/_matrix/client/v3"
DEFAULT_TIMEOUT = 40.0  # above the server's longest sync wait (30 s)
DEVICE_SET_CHANGED = "device_set_changed"
WRONG_BACKUP_VERSION = "M_WRONG_ROOM_KEYS_VERSION"


class MatrixError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status = status
        self.body = body
        self.code = str(body.get("code", "http_error"))
        self.errcode = str(body.get("errcode", ""))
        super().__init__(f"{status} {self.errcode or self.code}: {body.get('error', '')}")


class DeviceSetChanged(MatrixError):
    """409 ``device_set_changed``: the room's device set is not the one encrypted for."""

    @property
    def epoch(self) -> str:
        return str(self.body.get("kaari.device_epoch", ""))


@dataclass(frozen=True)
class Login:
    token: str
    user_id: str  # the Matrix user id
    device_id: str
    kaari_user_id: str


def _q(part: str) -> str:
    return quote(part, safe="")


class MatrixHttp:
    def __init__(self, http: httpx.Client, token: str) -> None:
        self.http = http
        self.token = token

    @classmethod
    def connect(cls, base_url: str, token: str, *, timeout: float = DEFAULT_TIMEOUT) -> MatrixHttp:
        return cls(httpx.Client(base_url=base_url, timeout=timeout), token)

    @staticmethod
    def login(http: httpx.Client, email: str, password: str, device_name: str) -> Login:
        """Kaari's sign-in: a new device and its token."""
        body = {"email": email, "password": password, "device": {"name": device_name}}
        r = http.post("/auth/login", json=body)
        if r.status_code != 200:
            raise MatrixError(r.status_code, _json(r))
        out = r.json()
        return Login(out["token"], out["user"]["matrixUserId"], out["deviceId"], out["user"]["id"])

    @staticmethod
    def accept_invite(
        http: httpx.Client,
        code: str,
        *,
        email: str,
        password: str,
        display_name: str,
        device_name: str,
        inviter_master_key: str | None = None,
    ) -> Login:
        """A new account from an invite (Kaari's ``POST /invites/accept``), its first device.

        With ``inviter_master_key`` (the QR's) the server refuses with 409
        ``inviter_key_mismatch`` unless it is the inviter's current master key.
        """
        body: dict[str, Any] = {
            "code": code,
            "email": email,
            "password": password,
            "displayName": display_name,
            "device": {"name": device_name},
        }
        if inviter_master_key is not None:
            body["inviterMasterKey"] = inviter_master_key
        r = http.post("/invites/accept", json=body)
        if r.status_code != 201:
            raise MatrixError(r.status_code, _json(r))
        out = r.json()
        return Login(out["token"], out["user"]["matrixUserId"], out["deviceId"], out["user"]["id"])

    def redeem_invite(self, code: str, inviter_master_key: str | None = None) -> dict[str, Any]:
        """Join the invite's case with this account (``POST /invites/redeem``): caseId, role."""
        body: dict[str, Any] = {"code": code}
        if inviter_master_key is not None:
            body["inviterMasterKey"] = inviter_master_key
        out: dict[str, Any] = self._call("POST", "/invites/redeem", json=body)
        return out

    def create_case_invite(self, case_id: str, role: str = "guardian") -> dict[str, Any]:
        """An invite into the case (``POST /cases/{id}/invites``): code, inviter id and key."""
        out: dict[str, Any] = self._call(
            "POST", f"/cases/{_q(case_id)}/invites", json={"role": role}
        )
        return out

    def logout(self) -> None:
        """Sign this device out (Kaari's ``POST /auth/logout``)."""
        self._call("POST", "/auth/logout", expect_json=False)

    def close(self) -> None:
        self.http.close()

    # -- plumbing --------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        timeout: float | None = None,
        expect_json: bool = True,
    ) -> Any:
        kwargs: dict[str, Any] = {}
        if timeout is not None:
            kwargs["timeout"] = timeout
        r = self.http.request(
            method,
            path,
            json=json,
            params=params,
            headers={"authorization": f"Bearer {self.token}"},
            **kwargs,
        )
        if r.status_code >= 400:
            body = _json(r)
            if r.status_code == 409 and body.get("code") == DEVICE_SET_CHANGED:
                raise DeviceSetChanged(r.status_code, body)
            raise MatrixError(r.status_code, body)
        return r.json() if expect_json else None

    # -- account, keys ---------------------------------------------------------------------

    def whoami(self) -> dict[str, Any]:
        out: dict[str, Any] = self._call("GET", f"{V3}/account/whoami")
        return out

    def keys_upload(self, body: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = self._call("POST", f"{V3}/keys/upload", json=body)
        return out

    def keys_query(self, body: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = self._call("POST", f"{V3}/keys/query", json=body)
        return out

    def keys_claim(self, body: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = self._call("POST", f"{V3}/keys/claim", json=body)
        return out

    def device_signing_upload(self, body: dict[str, Any]) -> None:
        self._call("POST", f"{V3}/keys/device_signing/upload", json=body)

    def signatures_upload(self, body: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = self._call("POST", f"{V3}/keys/signatures/upload", json=body)
        return out

    def send_to_device(self, event_type: str, txn_id: str, body: dict[str, Any]) -> None:
        self._call("PUT", f"{V3}/sendToDevice/{_q(event_type)}/{_q(txn_id)}", json=body)

    # -- rooms, sync -----------------------------------------------------------------------

    def joined_members(self, room_id: str) -> tuple[list[str], str]:
        """The room's members and its ``kaari.device_epoch``."""
        body = self._call("GET", f"{V3}/rooms/{_q(room_id)}/joined_members")
        return sorted(body["joined"]), str(body["kaari.device_epoch"])

    def send_room_event(
        self, room_id: str, txn_id: str, content: dict[str, Any], epoch: str,
        *, notify: bool = True,
    ) -> str:  # fmt: skip
        """``notify=False``: ``?kaari_notify=0``, no "new message" notice for it."""
        params = {"kaari_device_epoch": epoch} | ({} if notify else {"kaari_notify": "0"})
        body = self._call(
            "PUT",
            f"{V3}/rooms/{_q(room_id)}/send/m.room.encrypted/{_q(txn_id)}",
            json=content,
            params=params,
        )
        return str(body["event_id"])

    def messages(
        self, room_id: str, *, from_token: str | None, direction: str = "b", limit: int = 100
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"dir": direction, "limit": limit}
        if from_token is not None:
            params["from"] = from_token
        out: dict[str, Any] = self._call("GET", f"{V3}/rooms/{_q(room_id)}/messages", params=params)
        return out

    def room_event(self, room_id: str, event_id: str) -> dict[str, Any]:
        """One event of a room we are in (``rooms/{roomId}/event/{eventId}``)."""
        out: dict[str, Any] = self._call("GET", f"{V3}/rooms/{_q(room_id)}/event/{_q(event_id)}")
        return out

    def sync(self, since: str | None, timeout_ms: int = 0) -> dict[str, Any]:
        params: dict[str, Any] = {"timeout": timeout_ms}
        if since is not None:
            params["since"] = since
        out: dict[str, Any] = self._call(
            "GET", f"{V3}/sync", params=params, timeout=timeout_ms / 1000 + DEFAULT_TIMEOUT
        )
        return out

    # -- key backup ------------------------------------------------------------------------

    def create_backup_version(self, body: dict[str, Any]) -> str:
        return str(self._call("POST", f"{V3}/room_keys/version", json=body)["version"])

    def backup_version(self) -> dict[str, Any] | None:
        """The current backup version, or ``None`` when the user has none."""
        try:
            out: dict[str, Any] = self._call("GET", f"{V3}/room_keys/version")
        except MatrixError as exc:
            if exc.status == 404:
                return None
            raise
        return out

    def put_backup_keys(self, version: str, body: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = self._call(
            "PUT", f"{V3}/room_keys/keys", json=body, params={"version": version}
        )
        return out

    def get_backup_keys(self, version: str) -> dict[str, Any]:
        out: dict[str, Any] = self._call("GET", f"{V3}/room_keys/keys", params={"version": version})
        return out


def _json(r: httpx.Response) -> dict[str, Any]:
    try:
        body = r.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
