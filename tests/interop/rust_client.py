"""An ``OlmMachine`` (matrix-sdk-crypto-wasm, through ``node/machine.mjs``) as a client of a
real ``kaari serve``: its outgoing requests go to the server's Matrix paths over HTTP and
the answers back with ``markRequestAsSent``, exactly as an app built on the SDK does."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
from interop_peers import (
    KEYS_BACKUP,
    KEYS_CLAIM,
    KEYS_QUERY,
    KEYS_UPLOAD,
    SIGNATURE_UPLOAD,
    TO_DEVICE,
    NodeDriver,
)

V3 = "/_matrix/client/v3"


class DeviceSetChanged(Exception):
    pass


class RustClient:
    def __init__(self, driver: NodeDriver, name: str, url: str, token: str) -> None:
        self.driver = driver
        self.name = name
        self.http = httpx.Client(
            base_url=url, headers={"authorization": f"Bearer {token}"}, timeout=30
        )
        who = self.http.get(f"{V3}/account/whoami").json()
        self.user, self.device = who["user_id"], who["device_id"]
        self.since: str | None = None
        self.timeline: dict[str, list[dict[str, Any]]] = {}
        self.driver.call("init", name=name, user=self.user, device=self.device)
        self.process_outgoing()

    def close(self) -> None:
        self.driver.call("close", name=self.name)
        self.http.close()

    # the request loop

    def _send(self, req: dict[str, Any]) -> Any:
        kind, body = req["type"], req["body"]
        if kind == KEYS_UPLOAD:
            r = self.http.post(f"{V3}/keys/upload", json=body)
        elif kind == KEYS_QUERY:
            r = self.http.post(f"{V3}/keys/query", json=body)
        elif kind == KEYS_CLAIM:
            r = self.http.post(f"{V3}/keys/claim", json=body)
        elif kind == TO_DEVICE:
            r = self.http.put(
                f"{V3}/sendToDevice/{quote(req['event_type'])}/{quote(req['txn_id'])}", json=body
            )
        elif kind == SIGNATURE_UPLOAD:
            r = self.http.post(f"{V3}/keys/signatures/upload", json=body)
        elif kind == KEYS_BACKUP:
            r = self.http.put(f"{V3}/room_keys/keys", params={"version": req["version"]}, json=body)
        else:
            raise AssertionError(f"unexpected request type {kind}")
        assert r.status_code == 200, (kind, r.status_code, r.text)
        return r.json()

    def call(self, op: str, **args: Any) -> Any:
        return self.driver.call(op, name=self.name, **args)

    def send_request(self, req: dict[str, Any]) -> None:
        response = self._send(req)
        if req.get("id"):  # the bootstrap's requests are not the machine's outgoing ones
            self.driver.call(
                "mark_sent",
                name=self.name,
                request_id=req["id"],
                type=req["type"],
                response=response,
            )

    def bootstrap_cross_signing(self) -> str:
        """New cross-signing keys uploaded as an app does (the first upload needs no
        re-authentication); the master key."""
        boot = self.call("bootstrap_cross_signing")
        if boot["upload_keys"] is not None:
            self.send_request(boot["upload_keys"])
        r = self.http.post(f"{V3}/keys/device_signing/upload", json=boot["upload_signing_keys"])
        assert r.status_code == 200, r.text
        self.send_request(boot["upload_signatures"])
        self.process_outgoing()
        return str(next(iter(boot["upload_signing_keys"]["master_key"]["keys"].values())))

    def process_outgoing(self) -> None:
        for _ in range(10):
            requests = self.driver.call("outgoing", name=self.name)
            if not requests:
                return
            for req in requests:
                self.send_request(req)

    def sync(self, timeout: int = 0) -> list[Any]:
        params: dict[str, Any] = {"timeout": timeout}
        if self.since is not None:
            params["since"] = self.since
        r = self.http.get(f"{V3}/sync", params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        processed = self.driver.call(
            "receive_sync",
            name=self.name,
            to_device=body["to_device"]["events"],
            changed=body["device_lists"]["changed"],
            left=body["device_lists"]["left"],
            otk_counts=body["device_one_time_keys_count"],
            fallback_types=body["device_unused_fallback_key_types"],
        )
        for room, entry in body["rooms"]["join"].items():
            self.timeline.setdefault(room, []).extend(entry["timeline"]["events"])
        self.since = body["next_batch"]
        self.process_outgoing()
        return list(processed)

    # rooms

    def room_state(self, room: str) -> tuple[list[str], str]:
        r = self.http.get(f"{V3}/rooms/{quote(room)}/joined_members")
        assert r.status_code == 200, r.text
        body = r.json()
        return sorted(body["joined"]), body["kaari.device_epoch"]

    def prepare(self, room: str, strategy: str = "all") -> str:
        """What an app does before encrypting: learn the room's members and device epoch,
        query their keys, claim missing sessions and share the room key (``strategy``:
        ``all``, ``identity`` or ``trusted``, machine.mjs's ``CollectStrategy``)."""
        members, epoch = self.room_state(room)
        self.driver.call("update_tracked", name=self.name, users=members)
        self.process_outgoing()
        claim = self.driver.call("missing_sessions", name=self.name, users=members)
        if claim is not None:
            self.send_request(claim)
        shares = self.call("share_room_key", room=room, users=members, strategy=strategy)
        for req in shares:
            self.send_request(req)
        return str(epoch)

    def send_text(self, room: str, text: str, txn: str, epoch: str) -> str:
        content = self.driver.call(
            "encrypt_room",
            name=self.name,
            room=room,
            type="m.room.message",
            content={"msgtype": "m.text", "body": text},
        )
        r = self.http.put(
            f"{V3}/rooms/{quote(room)}/send/m.room.encrypted/{txn}",
            params={"kaari_device_epoch": epoch},
            json=content,
        )
        if r.status_code == 409:
            raise DeviceSetChanged(r.json()["kaari.device_epoch"])
        assert r.status_code == 200, r.text
        event_id: str = r.json()["event_id"]
        return event_id

    def decrypt(self, room: str, event: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = self.driver.call(
            "decrypt_room", name=self.name, room=room, event=event
        )
        return out

    def texts(self, room: str) -> list[str | None]:
        """The room's messages as this machine reads them (None: cannot decrypt)."""
        found: list[str | None] = []
        for event in self.timeline.get(room, []):
            if event["type"] != "m.room.encrypted":
                continue
            got = self.decrypt(room, event)
            found.append(None if "error" in got else got["event"]["content"]["body"])
        return found
